package classify

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// phoneKind is what a candidate number is once parsed.
type phoneKind int

const (
	notPhone phoneKind = iota
	// mobileCN is a mainland mobile number without a country code.
	mobileCN
	// nationalCN is another valid mainland number without a country code:
	// a fixed line with its area code.
	nationalCN
	// international is a valid number written with + and its country code
	// (+44 20 7946 0958, +86 138…).
	international
)

// parsePhone parses s, digits with at most the separators of a written
// phone number, as a phone number: with its country code when it starts
// with +, otherwise as a mainland number (where 00 starts an international
// call). Only numbers the metadata
// of libphonenumber calls valid are phones.
func parsePhone(s string) (phoneKind, *phonenumbers.PhoneNumber) {
	region := "CN"
	// Only a + says for sure that a country code follows: a run of digits
	// that starts with 00 is as often something else.
	intl := strings.HasPrefix(s, "+")
	if intl {
		region = "ZZ"
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return notPhone, nil
	}
	switch {
	case intl:
		return international, num
	case phonenumbers.GetNumberType(num) == phonenumbers.MOBILE:
		return mobileCN, num
	}
	return nationalCN, num
}

// phoneContext are words that, just before a number in free text, say it is
// a phone number.
var phoneContext = []string{"电话", "手机", "联系", "tel", "phone", "mobile", "call", "致电", "热线", "微信", "whatsapp", "telegram"}

// nearPhoneWord reports whether one of phoneContext ends at most a few
// characters before position i of s.
func nearPhoneWord(s string, i int) bool {
	start := max(0, i-24)
	before := strings.ToLower(s[start:i])
	for _, w := range phoneContext {
		if strings.Contains(before, w) {
			return true
		}
	}
	return false
}
