package classify

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
)

// leaf is one scalar of a sampled value: the value itself, or a member of
// the JSON document it holds.
type leaf struct {
	path     string // field, or field.member.member
	value    string
	findings []finding
}

// leaves splits a sampled value into its scalars and classifies each under
// the name it is stored under.
func leaves(field, value string, now time.Time) []leaf {
	var out []leaf
	emit := func(path, key, s string) {
		out = append(out, leaf{path: path, value: s, findings: scalar(fieldHints(key), s, now)})
	}
	if v, ok := parseJSON(value); ok {
		walkTree(field, field, v, emit)
		return out
	}
	if strings.Contains(value, "\":") {
		// A document cut short: its members still say what they hold.
		for _, m := range pairRe.FindAllStringSubmatch(value, -1) {
			v := m[2]
			if v == "" {
				v = m[3]
			}
			emit(field+"."+m[1], m[1], v)
		}
	}
	emit(field, field, value)
	return out
}

func walkTree(path, key string, v any, emit func(path, key, s string)) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			walkTree(path+"."+k, k, x[k], emit)
		}
	case []any:
		for _, e := range x {
			walkTree(path, key, e, emit)
		}
	case string:
		emit(path, key, x)
	case interface{ String() string }: // json.Number
		emit(path, key, x.String())
	}
}

// Classify returns the classes found in a value of a field, each with its
// confidence; findings below Threshold are left out.
func Classify(field, value string) map[string]float64 {
	m := map[string]float64{}
	for _, l := range leaves(field, value, time.Now()) {
		for c, conf := range found(l.findings) {
			if conf >= Threshold && conf > m[c] {
				m[c] = conf
			}
		}
	}
	return m
}

// Dataset fills d.Classes from the dataset's field names and from samples,
// its raw (not yet redacted) sampled records. A class counts the sampled
// records it was found in. A field whose name is a strong hint and of which
// no value was sampled adds its class with a count of zero; a field whose
// sampled values contradict its name adds nothing.
func Dataset(d *ajar.Dataset, samples []ajar.Sample) {
	now := time.Now()
	type column struct {
		values int
		weak   map[string][]int // class → indexes of the records with a weak finding
	}
	cols := map[string]*column{}
	docs := make([]map[string]float64, len(samples))
	for i, s := range samples {
		docs[i] = map[string]float64{}
		for _, k := range slices.Sorted(maps.Keys(s.Doc)) {
			for _, l := range leaves(k, s.Doc[k], now) {
				col := cols[l.path]
				if col == nil {
					col = &column{weak: map[string][]int{}}
					cols[l.path] = col
				}
				if strings.TrimSpace(l.value) != "" {
					col.values++
				}
				for c, conf := range found(l.findings) {
					switch {
					case conf >= Threshold:
						docs[i][c] = max(docs[i][c], conf)
					case conf >= weak:
						if ix := col.weak[c]; len(ix) == 0 || ix[len(ix)-1] != i {
							col.weak[c] = append(ix, i)
						}
					}
				}
			}
		}
	}
	// A column most of whose values agree on a weak class has it.
	for _, col := range cols {
		for c, ix := range col.weak {
			if col.values >= 2 && len(ix) >= 2 && len(ix)*10 >= col.values*6 {
				for _, i := range ix {
					docs[i][c] = max(docs[i][c], columnAgree)
				}
			}
		}
	}
	classes := map[string]ajar.ClassCount{}
	for _, doc := range docs {
		for c, conf := range doc {
			cc := classes[c]
			cc.Count++
			cc.Confidence = max(cc.Confidence, conf)
			classes[c] = cc
		}
	}
	names := slices.Clone(d.Fields)
	for _, s := range samples {
		for k := range s.Doc {
			names = append(names, k)
		}
	}
	for _, f := range names {
		if col := cols[f]; col != nil && col.values > 0 {
			continue
		}
		for c, st := range fieldHints(f).classes {
			if _, ok := classes[c]; !ok && st == Strong {
				classes[c] = ajar.ClassCount{Count: 0, Confidence: fieldOne}
			}
		}
	}
	for c, cc := range classes {
		cc.Confidence = float64(int(cc.Confidence*100+0.5)) / 100
		classes[c] = cc
	}
	d.Classes = nil
	if len(classes) > 0 {
		d.Classes = classes
	}
}

// Exposure classifies every dataset of e from its field names and the raw
// samples given (e.Samples, less any the caller set aside), and sets
// e.Classes to the union of the classes found at or above Threshold, with
// any the probe set itself, sorted.
func Exposure(e *ajar.Exposure, samples []ajar.Sample) {
	by := map[string][]ajar.Sample{}
	for _, s := range samples {
		by[s.Dataset] = append(by[s.Dataset], s)
	}
	set := map[string]bool{}
	for _, c := range e.Classes {
		set[c] = true
	}
	listed := map[string]bool{}
	for i := range e.Datasets {
		d := &e.Datasets[i]
		listed[d.Name] = true
		Dataset(d, by[d.Name])
		for c, cc := range d.Classes {
			if cc.Confidence >= Threshold {
				set[c] = true
			}
		}
	}
	// Samples of datasets the probe did not list still say what is exposed.
	for name, ss := range by {
		if listed[name] {
			continue
		}
		d := ajar.Dataset{Name: name}
		Dataset(&d, ss)
		for c, cc := range d.Classes {
			if cc.Confidence >= Threshold {
				set[c] = true
			}
		}
	}
	e.Classes = nil
	if len(set) > 0 {
		e.Classes = slices.Sorted(maps.Keys(set))
	}
}

// RedactExposure redacts in place every sampled value of e, the evidence
// excerpt and the ransom note: after it, nothing the classifiers recognise
// is left in clear.
func RedactExposure(e *ajar.Exposure) {
	for i := range e.Samples {
		doc := e.Samples[i].Doc
		for k, v := range doc {
			doc[k] = Redact(k, v)
		}
	}
	if e.Evidence != nil {
		e.Evidence.Request = RedactText(e.Evidence.Request)
		e.Evidence.Response = RedactText(e.Evidence.Response)
	}
	if e.Ransom != nil {
		e.Ransom.Note = RedactText(e.Ransom.Note)
	}
}
