package fake

import (
	"fmt"
	"time"
)

// Weights of the first 17 characters of a resident ID number: 2^(18-i) mod 11
// (GB 11643-1999, ISO 7064 MOD 11-2).
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// idCheckChars maps the weighted sum mod 11 to the check character.
const idCheckChars = "10X98765432"

// IDCheckDigit returns the check character ('0'–'9' or 'X') of a resident ID
// number from its first 17 digits.
func IDCheckDigit(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, fmt.Errorf("compute ID check digit: want 17 digits, got %d characters", len(first17))
	}
	sum := 0
	for i := range 17 {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("compute ID check digit: character %d is %q, not a digit", i+1, c)
		}
		sum += int(c-'0') * idWeights[i]
	}
	return idCheckChars[sum%11], nil
}

func mustCheckDigit(first17 string) byte {
	c, err := IDCheckDigit(first17)
	if err != nil {
		panic(err)
	}
	return c
}

// ValidIDNumber reports whether id has the form of an 18-character resident ID
// number: 17 digits, a birth date that exists, and a correct check
// character. It does not check the region code against the official list.
func ValidIDNumber(id string) bool {
	if len(id) != 18 {
		return false
	}
	want, err := IDCheckDigit(id[:17])
	if err != nil || id[17] != want {
		return false
	}
	_, err = time.Parse("20060102", id[6:14])
	return err == nil
}
