package classify

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxScan bounds the bytes of one value that are looked at; the rest is
// masked whole by the redactor.
const maxScan = 64 << 10

// Candidates in free text. Each is checked by a validator before it counts.
var (
	// numberRun is a written number: digits with the separators of phone
	// and card numbers, an optional + or 00 in front, an optional X at the
	// end (resident ID numbers).
	numberRun = regexp.MustCompile(`\+?\(?\d(?:\d|[ \-.()]\d|[ \-.][ \-.]\d)*\d[xX]?`)
	digitRun  = regexp.MustCompile(`\d+`)
	emailRe   = regexp.MustCompile(`[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b`)
	ibanRe    = regexp.MustCompile(`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b`)
	ipv4Re    = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`)
	ipv6Re    = regexp.MustCompile(`(?i)\b[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}\b`)
	geoPairRe = regexp.MustCompile(`(-?\d{1,2}\.\d{4,})\s*,\s*(-?\d{1,3}\.\d{4,})`)
	wktPoint  = regexp.MustCompile(`(?i)POINT\s*\(\s*(-?\d{1,3}\.\d+)\s+(-?\d{1,2}\.\d+)\s*\)`)
	ssnRe     = regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`)
	uuidRe    = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	decimalRe = regexp.MustCompile(`^-?\d{1,3}\.\d{3,}$`)
)

// criminalWords in a value say it is about an offence, an arrest or a
// conviction.
var criminalWords = []string{
	"罪", "盗窃", "诈骗", "抢劫", "抢夺", "故意伤害", "寻衅滋事", "危险驾驶", "交通肇事", "赌博",
	"吸毒", "贩毒", "拘留", "逮捕", "判处", "有期徒刑", "刑事", "涉嫌", "嫌疑人", "前科", "违法",
	"非法", "涉案", "骗取", "窃取", "殴打", "醉酒驾驶", "毒品", "受贿", "贪污", "走私", "通缉",
	"convicted", "conviction", "arrested", "felony", "misdemeanor", "misdemeanour", "burglary",
	"robbery", "assault", "sentenced", "criminal", "offence", "offense", "theft", "fraud",
}

// medicalWords in a value say it is about someone's health.
var medicalWords = []string{
	"诊断", "高血压", "糖尿病", "病史", "症状", "处方", "患者", "住院", "门诊", "手术", "过敏",
	"感染", "肿瘤", "癌", "艾滋", "乙肝", "抑郁", "精神分裂", "妊娠",
	"diagnosis", "diagnosed", "hypertension", "diabetes", "prescription", "symptom",
	"allergy", "allergic", "hiv", "hepatitis", "cancer", "tumour", "tumor", "depression", "pregnan",
}

// containsAny reports whether s holds one of words: Chinese words
// anywhere, Latin ones as the start of a word ("hiv" in "HIV-positive",
// not in a random token).
func containsAny(s string, words []string) bool {
	for _, w := range words {
		if w[0] >= 0x80 {
			if strings.Contains(s, w) {
				return true
			}
			continue
		}
		for i := 0; ; {
			j := strings.Index(s[i:], w)
			if j < 0 {
				break
			}
			if at := i + j; at == 0 || !isASCIILetterOrDigit(s[at-1]) {
				return true
			}
			i += j + 1
		}
	}
	return false
}

func isASCIILetterOrDigit(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// scalar finds the classes in one scalar value s of a field whose name
// says h.
func scalar(h hints, s string, now time.Time) []finding {
	if len(s) > maxScan {
		s = s[:maxScan]
	}
	var fs []finding
	add := func(f finding) { fs = append(fs, f) }

	lo := len(s) - len(strings.TrimLeft(s, " \t\r\n"))
	hi := len(strings.TrimRight(s, " \t\r\n"))
	if lo >= hi {
		return nil
	}
	whole := s[lo:hi]

	fs = append(fs, secrets(s)...)
	for _, loc := range emailRe.FindAllStringIndex(s, -1) {
		// user:password@host in a connection string is not an address.
		if !overlaps(fs, loc[0], loc[1]) {
			add(finding{Class: Email, Confidence: high, Start: loc[0], End: loc[1], mask: maskEmail})
		}
	}
	for _, loc := range ibanRe.FindAllStringIndex(s, -1) {
		if validIBAN(s[loc[0]:loc[1]]) {
			add(finding{Class: IBAN, Confidence: certain, Start: loc[0], End: loc[1], mask: maskIBAN})
		}
	}
	fs = append(fs, numbers(h, s, now)...)
	fs = append(fs, addresses(h, s)...)

	// Whole values a field name vouches for.
	n := h.strength
	switch {
	case n(PersonName) > 0:
		zh, minority := chineseName(whole)
		switch {
		case zh || latinName(whole):
			add(finding{Class: PersonName, Confidence: pick(n(PersonName), high, good), Start: lo, End: hi, mask: maskName})
		case minority || nameLike(whole):
			add(finding{Class: PersonName, Confidence: pick(n(PersonName), fair, weak), Start: lo, End: hi, mask: maskName})
		}
	default:
		if zh, _ := chineseName(whole); zh {
			add(finding{Class: PersonName, Confidence: weak, Start: lo, End: hi, mask: maskName})
		}
	}
	if n(Address) > 0 {
		switch addressShape(whole) {
		case 2:
			add(finding{Class: Address, Confidence: pick(n(Address), high, good), Start: lo, End: hi, mask: maskAddress})
		case 1:
			add(finding{Class: Address, Confidence: pick(n(Address), good, fair), Start: lo, End: hi, mask: maskAddress})
		default:
			if n(Address) == Strong && utf8.RuneCountInString(whole) >= 4 && hasLetter(whole) {
				add(finding{Class: Address, Confidence: fair, Start: lo, End: hi, mask: maskAddress})
			}
		}
	}
	if n(Passport) > 0 && passportShape(whole) {
		add(finding{Class: Passport, Confidence: pick(n(Passport), high, fair), Start: lo, End: hi, mask: maskAlnum})
	}
	if n(NationalID) > 0 && nationalIDShape(whole) {
		add(finding{Class: NationalID, Confidence: pick(n(NationalID), high, fair), Start: lo, End: hi, mask: maskAlnum})
	}
	if n(Credential) > 0 && !coveredBy(fs, Credential, lo, hi) {
		switch {
		case n(Credential) == Strong:
			add(finding{Class: Credential, Confidence: high, Start: lo, End: hi, mask: maskSecret})
		case hexDigest(whole) || tokenLike(whole):
			add(finding{Class: Credential, Confidence: good, Start: lo, End: hi, mask: maskSecret})
		}
	}
	if n(SecretKey) > 0 && !coveredBy(fs, SecretKey, lo, hi) && (tokenLike(whole) || hexDigest(whole)) {
		add(finding{Class: SecretKey, Confidence: pick(n(SecretKey), good, fair), Start: lo, End: hi, mask: maskSecret})
	}
	if n(GeoLocation) > 0 && decimalRe.MatchString(whole) {
		if v, err := strconv.ParseFloat(whole, 64); err == nil && v >= -180 && v <= 180 {
			add(finding{Class: GeoLocation, Confidence: pick(n(GeoLocation), high, fair), Start: lo, End: hi, mask: maskCoordinate})
		}
	}
	for _, c := range []struct {
		class string
		words []string
	}{{CriminalRecord, criminalWords}, {MedicalRecord, medicalWords}} {
		switch {
		case n(c.class) > 0 && hasLetterOrDigit(whole):
			add(finding{Class: c.class, Confidence: pick(n(c.class), high, good), Start: lo, End: hi})
		case !secretIn(fs) && containsAny(strings.ToLower(whole), c.words):
			add(finding{Class: c.class, Confidence: fair, Start: lo, End: hi})
		}
	}
	fs = append(fs, network(h, s)...)

	if h.negative && !h.any() {
		// An order number, a timestamp, a version: only what a validator
		// is sure of counts. What was found is still masked.
		// A dotted version is not an address: those findings go.
		fs = slices.DeleteFunc(fs, func(f finding) bool {
			return f.Confidence < high && (f.Class == IPAddress || f.Class == GeoLocation)
		})
		for i := range fs {
			if fs[i].Confidence < high {
				fs[i].Confidence = suppressed
			}
		}
	}
	return fs
}

// secretIn reports whether a key, token or hash was found: its characters
// spell words by chance.
func secretIn(fs []finding) bool {
	return slices.ContainsFunc(fs, func(f finding) bool { return f.Class == Credential || f.Class == SecretKey })
}

// overlaps reports whether a finding already covers part of [lo, hi).
func overlaps(fs []finding, lo, hi int) bool {
	return slices.ContainsFunc(fs, func(f finding) bool { return f.Start < hi && lo < f.End })
}

// suppressed is the confidence of weak findings in a field whose name says
// it holds something else: masked, never counted, never promoted.
const suppressed = 0.1

// pick chooses a confidence by the strength of a field-name hint.
func pick(s Strength, strong, weakHint float64) float64 {
	if s == Strong {
		return strong
	}
	return weakHint
}

// numbers finds resident ID numbers, payment cards, phone numbers and
// social security numbers among the written numbers of s.
func numbers(h hints, s string, now time.Time) []finding {
	var fs []finding
	for _, loc := range numberRun.FindAllStringIndex(s, -1) {
		start, end := loc[0], loc[1]
		if letterAt(s, start-1) || letterAt(s, end) || ipv4Re.MatchString(s[start:end]) {
			// Part of a token (a hash, a key, a case number): not a
			// number of its own. Long digit runs are still masked.
			continue
		}
		if f, ok := number(h, s, start, end, now); ok {
			fs = append(fs, f)
			continue
		}
		// Several numbers in a row ("13812345678 13912345678"), or one
		// number in a longer formatted run: try each digit group.
		for _, sub := range digitRun.FindAllStringIndex(s[start:end], -1) {
			a, b := start+sub[0], start+sub[1]
			if b < len(s) && (s[b] == 'x' || s[b] == 'X') && b-a == 17 {
				b++
			}
			if b-a >= 7 {
				if f, ok := number(h, s, a, b, now); ok {
					fs = append(fs, f)
				}
			}
		}
	}
	for _, loc := range ssnRe.FindAllStringIndex(s, -1) {
		if validSSN(s[loc[0]:loc[1]]) {
			c := weak
			if h.strength(NationalID) > 0 {
				c = high
			}
			fs = append(fs, finding{Class: NationalID, Confidence: c, Start: loc[0], End: loc[1], mask: maskKeepLast4})
		}
	}
	return fs
}

// number classifies the written number s[start:end].
func number(h hints, s string, start, end int, now time.Time) (finding, bool) {
	run := s[start:end]
	digits := keepDigits(run)
	formatted := len(digits) != len(run)
	n := h.strength
	at := func(class string, c float64, mask func(string) string) (finding, bool) {
		return finding{Class: class, Confidence: c, Start: start, End: end, mask: mask}, true
	}
	// A resident ID: seventeen digits and a check character, possibly an X.
	id := digits
	if last := run[len(run)-1]; last == 'x' || last == 'X' {
		id += "X"
	}
	switch {
	case len(id) == 18 && validResidentID(id, now):
		return at(CNResidentID, certain, maskResidentID)
	case len(id) == 15 && n(CNResidentID) > 0 && validOldResidentID(id, now):
		return at(CNResidentID, good, maskResidentID)
	}
	if strings.ContainsAny(id, "X") {
		return finding{}, false
	}
	if validCard(digits) {
		switch {
		case n(PaymentCard) == Strong:
			return at(PaymentCard, certain, maskCard)
		case n(PaymentCard) == Weak || cardFormatted(run):
			return at(PaymentCard, good, maskCard)
		}
		return at(PaymentCard, weak, maskCard)
	}
	if len(digits) < 7 || len(digits) > 15 {
		return finding{}, false
	}
	kind, num := parsePhone(strings.Trim(run, "()"))
	hinted := n(Phone) > 0 || nearPhoneWord(s, start)
	mask := func(v string) string { return maskPhone(v, num) }
	switch kind {
	case international:
		return at(Phone, high, mask)
	case mobileCN:
		switch {
		case hinted:
			return at(Phone, high, mask)
		case formatted:
			return at(Phone, good, mask)
		}
		return at(Phone, weak, mask)
	case nationalCN:
		if hinted {
			return at(Phone, good, mask)
		}
	}
	return finding{}, false
}

// cardFormatted reports whether a card number is written in groups of four
// (Amex: 4-6-5).
func cardFormatted(run string) bool {
	groups := strings.FieldsFunc(run, func(r rune) bool { return r == ' ' || r == '-' })
	if len(groups) < 3 {
		return false
	}
	for _, g := range groups[:len(groups)-1] {
		if len(g) != 4 && len(g) != 6 {
			return false
		}
	}
	return true
}

// validSSN reports whether a ddd-dd-dddd number can be a US social
// security number: no all-zero group, area not 666 or 9xx.
func validSSN(s string) bool {
	area, group, serial := s[0:3], s[4:6], s[7:11]
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

// addresses finds Chinese postal addresses in values whose field name says
// nothing: a province, then at least two of the divisions, streets and
// numbers of an address.
func addresses(h hints, s string) []finding {
	if h.strength(Address) > 0 {
		return nil
	}
	var fs []finding
	for i := 0; i < len(s); {
		p, ok := province(s[i:])
		if !ok {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += max(size, 1)
			continue
		}
		// The address runs to the end of its run of Hanzi, digits and the
		// characters addresses use.
		end := i + len(p)
		for end < len(s) {
			r, size := utf8.DecodeRuneInString(s[end:])
			if !(isHan(r) || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r == '-' || r == '#') {
				break
			}
			end += size
		}
		if addressShape(s[i:end]) == 2 {
			c := good
			if h.negative {
				c = fair
			}
			fs = append(fs, finding{Class: Address, Confidence: c, Start: i, End: end, mask: maskAddress})
		}
		i = end
	}
	return fs
}

// network finds IP addresses and coordinates.
func network(h hints, s string) []finding {
	var fs []finding
	ipConf := fair
	if h.strength(IPAddress) > 0 {
		ipConf = high
	}
	for _, loc := range ipv4Re.FindAllStringIndex(s, -1) {
		if a, err := netip.ParseAddr(s[loc[0]:loc[1]]); err == nil && a.Is4() && !dottedAround(s, loc[0], loc[1]) {
			fs = append(fs, finding{Class: IPAddress, Confidence: ipConf, Start: loc[0], End: loc[1], mask: maskIP})
		}
	}
	for _, loc := range ipv6Re.FindAllStringIndex(s, -1) {
		c := s[loc[0]:loc[1]]
		if strings.Count(c, ":") < 2 || !strings.ContainsAny(c, "0123456789abcdefABCDEF") {
			continue
		}
		if a, err := netip.ParseAddr(c); err == nil && a.Is6() {
			fs = append(fs, finding{Class: IPAddress, Confidence: ipConf, Start: loc[0], End: loc[1], mask: maskIP})
		}
	}
	geoConf := fair
	if h.strength(GeoLocation) > 0 {
		geoConf = high
	}
	for _, m := range geoPairRe.FindAllStringSubmatchIndex(s, -1) {
		lat, _ := strconv.ParseFloat(s[m[2]:m[3]], 64)
		lon, _ := strconv.ParseFloat(s[m[4]:m[5]], 64)
		if lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180 {
			fs = append(fs, finding{Class: GeoLocation, Confidence: geoConf, Start: m[0], End: m[1], mask: maskCoordinate})
		}
	}
	for _, loc := range wktPoint.FindAllStringIndex(s, -1) {
		fs = append(fs, finding{Class: GeoLocation, Confidence: max(geoConf, good), Start: loc[0], End: loc[1], mask: maskCoordinate})
	}
	return fs
}

// dottedAround reports whether a dotted quad is part of a longer dotted
// string (a version 1.2.3.4.5, an OID).
func dottedAround(s string, start, end int) bool {
	return start > 0 && s[start-1] == '.' || end < len(s) && s[end] == '.' && end+1 < len(s) && s[end+1] >= '0' && s[end+1] <= '9'
}

// secrets finds keys, tokens, password hashes and connection-string
// passwords anywhere in s.
func secrets(s string) []finding {
	var fs []finding
	for _, p := range secretPatterns {
		for _, loc := range p.re.FindAllStringIndex(s, -1) {
			m := s[loc[0]:loc[1]]
			if p.check != nil && !p.check(m) {
				continue
			}
			keep := p.keep(m)
			fs = append(fs, finding{Class: p.class, Confidence: certain, Start: loc[0], End: loc[1],
				mask: func(v string) string { return v[:min(keep, len(v))] + secretMask }})
		}
	}
	for _, re := range []*regexp.Regexp{urlPassword, kvPassword} {
		for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
			fs = append(fs, finding{Class: Credential, Confidence: high, Start: m[2], End: m[3], mask: maskSecret})
		}
	}
	return fs
}

// coveredBy reports whether a finding of class already covers [lo, hi).
func coveredBy(fs []finding, class string, lo, hi int) bool {
	return slices.ContainsFunc(fs, func(f finding) bool { return f.Class == class && f.Start <= lo && f.End >= hi })
}

func passportShape(s string) bool {
	if len(s) < 6 || len(s) > 12 {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
		default:
			return false
		}
	}
	return digits >= 5
}

func nationalIDShape(s string) bool {
	if len(s) < 6 || len(s) > 24 {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == ' ':
		default:
			return false
		}
	}
	return digits >= 5
}

func keepDigits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// letterAt reports whether s has an ASCII letter at i.
func letterAt(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	c := s[i]
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func hasLetter(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || isHan(r) }) >= 0
}

func hasLetterOrDigit(s string) bool {
	return hasLetter(s) || strings.ContainsAny(s, "0123456789")
}
