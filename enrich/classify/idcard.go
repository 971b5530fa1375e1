package classify

import "time"

// PRC resident identity numbers, GB 11643-1999: six digits of the
// administrative division (GB/T 2260) where the number was issued, the
// birth date as YYYYMMDD, a three-digit sequence (odd for men) and a check
// character computed with ISO 7064 MOD 11-2 (0-9 or X). The first
// generation, before 1999, had fifteen digits: the year in two digits and
// no check character.

// provinces are the first two digits of the division codes in use: the
// provinces, autonomous regions and municipalities, plus 71 (Taiwan), 81
// and 82 (Hong Kong and Macao residence permits) and 83 (Taiwan residence
// permits).
var provinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true, "83": true,
}

// regionShape reports whether six digits have the shape of a county-level
// division code: a province in use, then a prefecture and a county that
// are not 00, except for the residence permits of 81, 82 and 83, whose
// codes are 810000, 820000 and 830000.
func regionShape(code string) bool {
	if len(code) != 6 || !allDigits(code) || !provinces[code[:2]] {
		return false
	}
	switch code[:2] {
	case "71", "81", "82", "83":
		return true
	}
	return code[2:4] != "00" && code[4:6] != "00"
}

// idWeights are 2^(17-i) mod 11 for the first seventeen characters.
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const idCheck = "10X98765432"

// idCheckChar is the check character of seventeen digits.
func idCheckChar(first17 string) byte {
	sum := 0
	for i := range 17 {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return idCheck[sum%11]
}

// validResidentID reports whether s is an eighteen-character resident ID
// number: a division code of the right shape, a birth date that exists and
// is neither before 1900 nor after now, and the right check character (an
// x is read as X).
func validResidentID(s string, now time.Time) bool {
	if len(s) != 18 || !allDigits(s[:17]) {
		return false
	}
	last := s[17]
	if last == 'x' {
		last = 'X'
	}
	if !(last >= '0' && last <= '9' || last == 'X') {
		return false
	}
	if !regionShape(s[:6]) || !validBirth(s[6:14], now) {
		return false
	}
	return idCheckChar(s[:17]) == last
}

// validOldResidentID reports whether s is a fifteen-digit first-generation
// number: a division code of the right shape and a birth date in the
// twentieth century.
func validOldResidentID(s string, now time.Time) bool {
	return len(s) == 15 && allDigits(s) && regionShape(s[:6]) && validBirth("19"+s[6:12], now)
}

// validBirth reports whether YYYYMMDD is a date from 1900 to now.
func validBirth(ymd string, now time.Time) bool {
	t, err := time.Parse("20060102", ymd)
	if err != nil {
		return false
	}
	return t.Year() >= 1900 && !t.After(now)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
