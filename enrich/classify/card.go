package classify

import (
	"strconv"
	"strings"
)

// Payment card numbers (ISO/IEC 7812): an issuer identification number at
// the start, a length the network allows, and a Luhn check digit at the end.

// iin is one range of issuer identification numbers: the first len(lo)
// digits of a card number between lo and hi, with the lengths allowed.
type iin struct {
	lo, hi  string
	lengths []int
}

// iins are the ranges of the networks in use.
var iins = []iin{
	{"4", "4", []int{13, 16, 19}},                           // Visa
	{"51", "55", []int{16}},                                 // Mastercard
	{"2221", "2720", []int{16}},                             // Mastercard 2-series
	{"34", "34", []int{15}},                                 // American Express
	{"37", "37", []int{15}},                                 // American Express
	{"6011", "6011", []int{16, 17, 18, 19}},                 // Discover
	{"644", "649", []int{16, 17, 18, 19}},                   // Discover
	{"65", "65", []int{16, 17, 18, 19}},                     // Discover, RuPay
	{"62", "62", []int{16, 17, 18, 19}},                     // UnionPay
	{"81", "81", []int{16, 17, 18, 19}},                     // UnionPay 81-series
	{"3528", "3589", []int{16, 17, 18, 19}},                 // JCB
	{"36", "36", []int{14, 15, 16, 17, 18, 19}},             // Diners Club International
	{"300", "305", []int{14, 16}},                           // Diners Club
	{"3095", "3095", []int{14, 16}},                         // Diners Club
	{"38", "39", []int{14, 16}},                             // Diners Club
	{"2200", "2204", []int{16, 17, 18, 19}},                 // Mir
	{"5018", "5018", []int{12, 13, 14, 15, 16, 17, 18, 19}}, // Maestro
	{"5020", "5020", []int{12, 13, 14, 15, 16, 17, 18, 19}}, // Maestro
	{"5038", "5038", []int{12, 13, 14, 15, 16, 17, 18, 19}}, // Maestro
	{"5893", "5893", []int{12, 13, 14, 15, 16, 17, 18, 19}}, // Maestro
	{"6304", "6304", []int{12, 13, 14, 15, 16, 17, 18, 19}}, // Maestro
	{"6759", "6759", []int{12, 13, 14, 15, 16, 17, 18, 19}}, // Maestro
	{"6761", "6763", []int{12, 13, 14, 15, 16, 17, 18, 19}}, // Maestro
	{"60", "60", []int{16}},                                 // RuPay
	{"508", "508", []int{16}},                               // RuPay
	{"9792", "9792", []int{16}},                             // Troy
	{"9558", "9558", []int{19}},                             // ICBC debit cards issued before UnionPay's 62
}

// validCard reports whether digits is a payment card number: a known issuer
// range, a length that range allows, and a valid Luhn check digit.
func validCard(digits string) bool {
	if len(digits) < 12 || len(digits) > 19 || !allDigits(digits) || !luhn(digits) {
		return false
	}
	for _, r := range iins {
		n := len(r.lo)
		if digits[:n] >= r.lo && digits[:n] <= r.hi {
			for _, l := range r.lengths {
				if l == len(digits) {
					return true
				}
			}
		}
	}
	return false
}

// luhn reports whether digits ends in the right Luhn check digit.
func luhn(digits string) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// ibanLengths is the length of the IBAN of each country that has one, from
// the SWIFT IBAN registry.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
	"BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
	"DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
	"FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
	"GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
	"IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
	"LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
	"MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
	"PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
	"SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
	"SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
	"YE": 30,
}

// validIBAN reports whether s, spaces removed and upper-cased, is an IBAN:
// a country that uses IBANs, its length, and check digits that make the
// number 1 modulo 97 (ISO 13616).
func validIBAN(s string) bool {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	if n, ok := ibanLengths[s[:2]]; !ok || n != len(s) {
		return false
	}
	if s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9' {
		return false
	}
	// Move the first four characters to the end, read letters as 10–35,
	// and reduce modulo 97 as the digits come.
	rem := 0
	for _, c := range s[4:] + s[:4] {
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			v := strconv.Itoa(int(c-'A') + 10)
			rem = (rem*100 + int(v[0]-'0')*10 + int(v[1]-'0')) % 97
		default:
			return false
		}
	}
	return rem == 1
}
