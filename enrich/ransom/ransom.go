// Package ransom recognises the notes extortionists leave where data used to
// be, and tells when an exposure that held data was wiped.
package ransom

import (
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ajar-scan/ajar"
)

// noteNames are the names, lower-cased with separators removed, that the
// known campaigns give the dataset, table, index or key holding the note.
var noteNames = map[string]bool{
	"readme": true, "readme1": true, "readme2": true, "readmeplease": true, "pleasereadme": true,
	"pleaseread": true, "readmenow": true, "readmetorecover": true, "readmetorestore": true,
	"recoveryourdata": true, "recoveryourdb": true, "recoverdata": true, "howtorecover": true,
	"howtorestore": true, "howtorecoverdata": true, "howtogetyourdataback": true, "restoredata": true,
	"restoreyourdata": true, "warning": true, "warn": true, "backuprestore": true, "pwned": true,
	"hacked": true, "dbhacked": true, "databasehacked": true, "yourdatabaseisdownloaded": true,
	"yourdataisbackedup": true, "pleasereadmevg": true, "readmewithinstructions": true,
	"meow": true, "torecover": true, "recovery": true, "contactus": true,
}

// normalName lower-cases a name and drops everything but letters and digits.
func normalName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// NoteName reports whether a dataset or key name is one ransom campaigns
// use: read_me, README, recover_your_data, how_to_recover, warning,
// please_read, or the random name followed by "meow" of the 2020 wipes.
// A schema-qualified name ("shop.README") is read by its last part.
func NoteName(name string) bool {
	if i := strings.LastIndexAny(name, "./:"); i >= 0 && i < len(name)-1 {
		name = name[i+1:]
	}
	n := normalName(name)
	return noteNames[n] || strings.HasSuffix(n, "meow") && len(n) > 4
}

// Crypto-currency addresses a note asks payment to.
var (
	btcAddress = regexp.MustCompile(`\b(?:bc1[ac-hj-np-z02-9]{11,71}|[13][a-km-zA-HJ-NP-Z1-9]{25,34})\b`)
	ethAddress = regexp.MustCompile(`\b0x[a-fA-F0-9]{40}\b`)
	xmrAddress = regexp.MustCompile(`\b[48][0-9AB][1-9A-HJ-NP-Za-km-z]{93}\b`)
)

// paymentWords name the currency; demandWords what the note wants or
// threatens.
var (
	paymentWords = []string{"bitcoin", "btc", "monero", "xmr", "ethereum", "比特币", "usdt"}
	demandWords  = []string{
		"backup", "backed up", "restore", "recover", "download", "deleted", "dumped", "exported",
		"your data", "your database", "your db", "send", "pay", "payment", "leak", "publish",
		"gdpr", "恢复", "备份", "支付", "数据", "删除", "下载",
	}
)

// NoteText reports whether s reads as a ransom note: it names a crypto
// currency or holds an address of one, and it demands or threatens.
func NoteText(s string) bool {
	if len(s) < 20 {
		return false
	}
	l := strings.ToLower(s)
	pay := btcAddress.MatchString(s) || ethAddress.MatchString(s) || xmrAddress.MatchString(s)
	for _, w := range paymentWords {
		pay = pay || strings.Contains(l, w)
	}
	if !pay {
		return false
	}
	for _, w := range demandWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// maxNote bounds the excerpt of a note that is kept.
const maxNote = 400

// Excerpt returns the start of a note with the addresses it asks payment
// to masked; the caller redacts the rest (e-mail addresses) with the other
// sampled values.
func Excerpt(note string) string {
	note = strings.Join(strings.Fields(note), " ")
	if len(note) > maxNote {
		cut := maxNote
		for cut > 0 && !utf8.RuneStart(note[cut]) {
			cut--
		}
		note = note[:cut] + "…"
	}
	return MaskAddresses(note)
}

// MaskAddresses masks the crypto-currency addresses in s, keeping the
// first four characters of each.
func MaskAddresses(s string) string {
	for _, re := range []*regexp.Regexp{btcAddress, ethAddress, xmrAddress} {
		s = re.ReplaceAllStringFunc(s, func(a string) string { return a[:4] + "****" })
	}
	return s
}

// Detect finds the ransom notes of e, in its dataset names and its raw
// samples, and sets e.Ransom. It returns the indexes of the samples that
// are notes: they are the attacker's words, not the victim's data, and are
// not classified.
func Detect(e *ajar.Exposure) []int {
	var notes []int
	var text string
	noteSets := map[string]bool{}
	for i, s := range e.Samples {
		if !docIsNote(s.Doc) {
			continue
		}
		notes = append(notes, i)
		if text == "" {
			text = noteOf(s.Doc)
		}
	}
	for _, d := range e.Datasets {
		if NoteName(d.Name) {
			noteSets[d.Name] = true
		}
	}
	if meowWipe(e) {
		for _, d := range e.Datasets {
			if !d.System {
				noteSets[d.Name] = true
			}
		}
		if text == "" {
			text = "datasets replaced by randomly named ones (meow-style wipe)"
		}
	}
	if len(noteSets) == 0 && len(notes) == 0 {
		e.Ransom = nil
		return nil
	}
	for _, i := range notes {
		noteSets[e.Samples[i].Dataset] = true
	}
	r := &ajar.Ransom{Note: Excerpt(text)}
	for name := range noteSets {
		r.Datasets = append(r.Datasets, name)
	}
	slices.Sort(r.Datasets)
	e.Ransom = r
	return notes
}

// docIsNote reports whether a sampled record is a note: one of its values
// reads as one.
func docIsNote(doc map[string]string) bool {
	return noteOf(doc) != ""
}

// noteOf returns the value of doc that reads as a ransom note.
func noteOf(doc map[string]string) string {
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if NoteText(doc[k]) {
			return doc[k]
		}
	}
	return ""
}

// meowWipe reports the mark of the 2020 "meow" wipes: every dataset
// replaced by one or more with random names of letters and digits and no
// records to speak of.
func meowWipe(e *ajar.Exposure) bool {
	random, marked := 0, 0
	for _, d := range e.Datasets {
		switch {
		case d.System:
		case NoteName(d.Name):
			marked++
		case randomName(d.Name) && d.Records <= 1:
			random++
		default:
			return false
		}
	}
	return random >= 2 || random >= 1 && marked >= 1
}

// randomName reports whether a name looks machine-generated: 8 to 16
// lower-case letters and digits, both present, and no run of four letters
// that a word would have.
func randomName(name string) bool {
	if i := strings.LastIndexAny(name, "./:"); i >= 0 {
		name = name[i+1:]
	}
	if len(name) < 8 || len(name) > 16 {
		return false
	}
	letters, digits, run := 0, 0, 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z':
			letters++
			if run++; run >= 5 {
				return false
			}
		case c >= '0' && c <= '9':
			digits++
			run = 0
		default:
			return false
		}
	}
	return letters > 0 && digits > 0
}

// maxNoteRecords is the most records a dataset holding a note may have and
// still count as holding nothing else: campaigns leave one note, sometimes
// a copy or two.
const maxNoteRecords = 3

// OnlyRansom reports whether all e still holds is ransom notes: it has a
// ransom note, and every dataset with records is named like a note or holds
// a note and hardly anything else. It reads a stored (redacted) exposure as
// well as a fresh one.
func OnlyRansom(e *ajar.Exposure) bool {
	if e == nil || e.Ransom == nil {
		return false
	}
	for _, d := range e.Datasets {
		if d.System || d.Records == 0 {
			continue
		}
		if !slices.Contains(e.Ransom.Datasets, d.Name) || !NoteName(d.Name) && d.Records > maxNoteRecords {
			return false
		}
	}
	return true
}

// Empty reports whether e is known to hold no records outside system
// datasets. A nil dataset list is unknown (a probe that failed half-way),
// not empty.
func Empty(e *ajar.Exposure) bool {
	if e == nil || e.Datasets == nil {
		return false
	}
	for _, d := range e.Datasets {
		if !d.System && d.Records > 0 {
			return false
		}
	}
	return e.Records == 0
}

// Wiped reports whether an observation cur of an exposure whose previous
// observation had status prev and exposure prevExp is a wipe: the exposure
// held data (or was already wiped) and now holds only ransom notes, or
// nothing at all.
func Wiped(prev ajar.Status, prevExp, cur *ajar.Exposure) bool {
	held := prev == ajar.StatusExposed && prevExp != nil && prevExp.Records > 0 && !OnlyRansom(prevExp)
	if !held && prev != ajar.StatusWiped {
		return false
	}
	return cur != nil && (Empty(cur) || OnlyRansom(cur))
}
