package emulator

import (
	"fmt"

	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/fake"
)

// Dataset is one seeded container of documents: an index, a database or a
// core. Records and Bytes are what the product reports about it (real
// clusters are big); only the first Stored documents exist for reads, so
// that an emulator's memory stays small.
type Dataset struct {
	Name    string
	Records int64
	Bytes   int64
	// Stored documents, numbered 1..Stored, are served by searches.
	Stored int
	// System datasets are the product's own (.kibana, _users).
	System bool
	// Doc returns document i (1 ≤ i ≤ Stored); it is a pure function of i.
	Doc func(i int) Doc
	// ID returns the identifier of document i.
	ID func(i int) string
}

// gen is the lab's generator: the same persons as on the real lab servers.
var gen = fake.New(lab.Seed)

// sequential numbers document identifiers, zero-padded so that their order
// as strings is their order as numbers (CouchDB sorts _all_docs by id).
func sequential(prefix string) func(int) string {
	return func(i int) string { return fmt.Sprintf("%s%07d", prefix, i) }
}

// PersonInfo is a person register with pinyin-initial field names (xm 姓名,
// xb 性别, csrq 出生日期, sfzh 身份证号, sjhm 手机号码), as Chinese
// government systems name them.
func PersonInfo(records, bytes int64, stored int) Dataset {
	return Dataset{
		Name: "person_info", Records: records, Bytes: bytes, Stored: stored,
		ID: sequential("p"),
		Doc: func(i int) Doc {
			p := gen.Person(i)
			xb := "女"
			if p.Gender == fake.Male {
				xb = "男"
			}
			return Doc{
				{"xm", "keyword", p.Name},
				{"xb", "keyword", xb},
				{"csrq", "date", p.BirthDate.Format("2006-01-02")},
				{"sfzh", "keyword", p.IDNumber},
				{"sjhm", "keyword", p.Mobile},
				{"address", "text", p.Address},
				{"region", "object", Doc{
					{"code", "keyword", p.Region.Code},
					{"name", "keyword", p.Region.Name()},
				}},
			}
		},
	}
}

// Population is a resident register with Chinese field names. Its persons
// are not those of PersonInfo.
func Population(records, bytes int64, stored int) Dataset {
	const offset = 1_000_000
	return Dataset{
		Name: "population", Records: records, Bytes: bytes, Stored: stored,
		ID: sequential("r"),
		Doc: func(i int) Doc {
			p := gen.Person(offset + i)
			xb := "女"
			if p.Gender == fake.Male {
				xb = "男"
			}
			return Doc{
				{"姓名", "keyword", p.Name},
				{"性别", "keyword", xb},
				{"出生日期", "date", p.BirthDate.Format("2006-01-02")},
				{"身份证号", "keyword", p.IDNumber},
				{"手机号码", "keyword", p.Mobile},
				{"住址", "text", p.Address},
			}
		},
	}
}

// CaseRecord is a register of police cases about the persons of PersonInfo.
func CaseRecord(records, bytes int64, stored, people int) Dataset {
	return Dataset{
		Name: "case_record", Records: records, Bytes: bytes, Stored: stored,
		ID: sequential("c"),
		Doc: func(i int) Doc {
			c := gen.Case(i, people)
			p := gen.Person(c.PersonIndex)
			return Doc{
				{"案件编号", "keyword", c.CaseNo},
				{"姓名", "keyword", p.Name},
				{"sfzh", "keyword", p.IDNumber},
				{"罪名", "keyword", c.Charge},
				{"offence", "text", c.Offence},
				{"立案时间", "date", c.FiledAt.Format("2006-01-02 15:04:05")},
			}
		},
	}
}

// RansomNote is the note the attacks of 2020–2023 left in an index named
// read_me after deleting every other index. The wallet is the example
// address of BIP 173 and the mailbox is at a reserved domain: the note is
// fictional, its shape is not.
const RansomNote = "All your data is backed up. You must pay 0.05 BTC to " +
	"bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh In 48 hours, your data will be " +
	"publicly disclosed and deleted. (more information: go to https://recover-db.example.com) " +
	"After paying send mail to us: restore-db@example.com and we will provide a link " +
	"for you to download your data. Your DBCODE is: 7KQ2M"

// ReadMe is the ransom-note index that replaces a wiped cluster's data.
func ReadMe() Dataset {
	return Dataset{
		Name: "read_me", Records: 1, Bytes: ESReadMeBytes, Stored: 1,
		ID: func(int) string { return "1" },
		Doc: func(int) Doc {
			return Doc{{"message", "text", RansomNote}}
		},
	}
}

// SavedObjects is a Kibana system index: a few configuration objects.
func SavedObjects(name string, records, bytes int64) Dataset {
	return Dataset{
		Name: name, Records: records, Bytes: bytes, Stored: 1, System: true,
		ID: func(int) string { return "config:7.17.9" },
		Doc: func(int) Doc {
			return Doc{
				{"type", "keyword", "config"},
				{"config", "object", Doc{{"buildNum", "long", int64(46534)}}},
				{"updated_at", "date", "2023-02-08T03:12:40.119Z"},
			}
		},
	}
}
