package ransom

import (
	"strings"
	"testing"

	"github.com/ajar-scan/ajar"
)

const note = "All your data is backed up. You must pay 0.05 BTC to bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh " +
	"in 48 hours to recover it. After payment contact recover@example.com with your server IP."

func TestNoteName(t *testing.T) {
	for name, want := range map[string]bool{
		"read_me": true, "README": true, "db.README_TO_RECOVER": true, "recover_your_data": true,
		"how_to_recover": true, "WARNING": true, "please_read": true, "f8k2j1l0ab-meow": true,
		"readme.md.bak": false, "person_info": false, "warnings_log": false, "meow": true, "homeowner": false,
	} {
		if got := NoteName(name); got != want {
			t.Errorf("NoteName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestNoteText(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{note, true},
		{"你的数据已被备份，请支付0.1比特币到 1BoatSLRHtKNngkdXEeobR76b53LETtpyT 恢复", true},
		{"To restore send 0.3 ETH to 0x52908400098527886E0F7030069857D2E4169EE7", true},
		{"Bitcoin price today is up 3%", false},
		{"please restore the backup from yesterday", false},
		{"btc", false},
	} {
		if got := NoteText(tc.text); got != tc.want {
			t.Errorf("NoteText(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestExcerpt(t *testing.T) {
	got := Excerpt(note)
	if strings.Contains(got, "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh") || !strings.Contains(got, "bc1q****") {
		t.Errorf("address not masked: %q", got)
	}
	if long := Excerpt(strings.Repeat("数据", 500)); len(long) > maxNote+len("…") {
		t.Errorf("excerpt of %d bytes", len(long))
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name     string
		e        ajar.Exposure
		notes    int
		datasets string
		only     bool
	}{
		{
			name: "redis emptied but for a note",
			e: ajar.Exposure{Datasets: []ajar.Dataset{{Name: "db0", Records: 1}},
				Samples: []ajar.Sample{{Dataset: "db0", Doc: map[string]string{"_key": "read_me", "value": note}}}},
			notes: 1, datasets: "db0", only: true,
		},
		{
			name: "note among data",
			e: ajar.Exposure{Datasets: []ajar.Dataset{{Name: "db0", Records: 2001}},
				Samples: []ajar.Sample{
					{Dataset: "db0", Doc: map[string]string{"_key": "read_me", "value": note}},
					{Dataset: "db0", Doc: map[string]string{"_key": "person:1", "name": "张伟"}},
				}},
			notes: 1, datasets: "db0", only: false,
		},
		{
			name: "a README table beside a dropped schema",
			e: ajar.Exposure{Datasets: []ajar.Dataset{{Name: "shop.README", Records: 1}, {Name: "mysql.user", Records: 5, System: true}},
				Samples: []ajar.Sample{{Dataset: "shop.README", Doc: map[string]string{"id": "1", "readme": note}}}},
			notes: 1, datasets: "shop.README", only: true,
		},
		{
			name:     "meow",
			e:        ajar.Exposure{Datasets: []ajar.Dataset{{Name: "x8ej2ka0c1-meow"}, {Name: "k2l9f0aa7b"}, {Name: "q7m3z1p0xw"}}},
			datasets: "k2l9f0aa7b,q7m3z1p0xw,x8ej2ka0c1-meow", only: true,
		},
		{
			name: "plain data",
			e: ajar.Exposure{Datasets: []ajar.Dataset{{Name: "police.person_info", Records: 3000}},
				Samples: []ajar.Sample{{Dataset: "police.person_info", Doc: map[string]string{"name": "张伟"}}}},
		},
	} {
		notes := Detect(&tc.e)
		var ds string
		if tc.e.Ransom != nil {
			ds = strings.Join(tc.e.Ransom.Datasets, ",")
			if strings.Contains(tc.e.Ransom.Note, "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh") {
				t.Errorf("%s: note keeps the address: %q", tc.name, tc.e.Ransom.Note)
			}
		}
		if len(notes) != tc.notes || ds != tc.datasets || OnlyRansom(&tc.e) != tc.only {
			t.Errorf("%s: notes %v datasets %q only %v, want %d %q %v", tc.name, notes, ds, OnlyRansom(&tc.e), tc.notes, tc.datasets, tc.only)
		}
	}
}

func TestWiped(t *testing.T) {
	data := &ajar.Exposure{Records: 3000, Datasets: []ajar.Dataset{{Name: "t", Records: 3000}}}
	empty := &ajar.Exposure{Datasets: []ajar.Dataset{}}
	noted := &ajar.Exposure{Records: 1, Datasets: []ajar.Dataset{{Name: "db0", Records: 1}},
		Ransom: &ajar.Ransom{Note: "…", Datasets: []string{"db0"}}}
	for _, tc := range []struct {
		name      string
		prev      ajar.Status
		prevE, ce *ajar.Exposure
		want      bool
	}{
		{"data, then a note", ajar.StatusExposed, data, noted, true},
		{"data, then nothing", ajar.StatusExposed, data, empty, true},
		{"data, then data", ajar.StatusExposed, data, data, false},
		{"empty, then empty", ajar.StatusExposed, empty, empty, false},
		{"a note, then a note", ajar.StatusExposed, noted, noted, false},
		{"wiped stays wiped", ajar.StatusWiped, noted, noted, true},
		{"wiped, then data again", ajar.StatusWiped, noted, data, false},
		{"open before", ajar.StatusOpen, nil, empty, false},
		{"no exposure now", ajar.StatusExposed, data, nil, false},
		{"datasets unknown now", ajar.StatusExposed, data, &ajar.Exposure{}, false},
	} {
		if got := Wiped(tc.prev, tc.prevE, tc.ce); got != tc.want {
			t.Errorf("%s: Wiped = %v, want %v", tc.name, got, tc.want)
		}
	}
}
