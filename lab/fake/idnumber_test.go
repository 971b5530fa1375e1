package fake

import "testing"

// The expected check characters were worked out by hand: the weighted sum of
// the 17 digits (weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2), mod 11, then
// looked up in "10X98765432".
func TestIDCheckDigit(t *testing.T) {
	tests := []struct {
		first17 string
		want    byte
	}{
		// The example of GB 11643-1999: sum 167, 167 mod 11 = 2 → X.
		{"11010519491231002", 'X'},
		// Sum 195, 195 mod 11 = 8 → 4.
		{"44052418800101001", '4'},
		// Sum 152, 152 mod 11 = 9 → 3.
		{"31010419900101123", '3'},
		// Sum 100, 100 mod 11 = 1 → 0.
		{"11010119800101001", '0'},
		// Sum 110, 110 mod 11 = 0 → 1.
		{"11010119800111001", '1'},
		// Sum 102, 102 mod 11 = 3 → 9.
		{"11010119800101002", '9'},
	}
	for _, tt := range tests {
		t.Run(tt.first17, func(t *testing.T) {
			got, err := IDCheckDigit(tt.first17)
			if err != nil {
				t.Fatalf("IDCheckDigit(%q): %v", tt.first17, err)
			}
			if got != tt.want {
				t.Errorf("IDCheckDigit(%q) = %c, want %c", tt.first17, got, tt.want)
			}
		})
	}
}

func TestIDCheckDigitErrors(t *testing.T) {
	for _, in := range []string{"", "1101051949123100", "110105194912310021", "1101051949123100X", "11010519491231 02"} {
		if c, err := IDCheckDigit(in); err == nil {
			t.Errorf("IDCheckDigit(%q) = %c, want an error", in, c)
		}
	}
}

func TestValidIDNumber(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"11010519491231002X", true},
		{"440524188001010014", true},
		{"310104199001011233", true},
		{"110101198001010010", true},
		{"110101198001110011", true},
		{"110101198001010029", true},
		{"110101198001010019", false},  // check character off by one
		{"11010519491231002x", false},  // the standard writes X in capitals
		{"11010119800230001X", false},  // 30 February; check character right (sum 134 → X)
		{"11010119800101001", false},   // 17 characters
		{"1101011980010100100", false}, // 19 characters
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidIDNumber(tt.id); got != tt.want {
			t.Errorf("ValidIDNumber(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}
