// Package fake generates fictional Chinese personal records — names, mobile
// numbers, resident ID numbers, addresses, police cases and orders — the same
// for the same seed, to seed test servers and emulators.
package fake

import (
	"fmt"
	"strconv"
	"time"
)

// china is the time zone of every generated time: UTC+8, no daylight saving.
var china = time.FixedZone("CST", 8*60*60)

// Generator derives records from a seed. Record i is a pure function of the
// seed and i: records can be produced in any order, concurrently, and one at a
// time without generating those before it.
type Generator struct {
	seed uint64
}

// New returns a generator for seed.
func New(seed uint64) Generator {
	return Generator{seed: seed}
}

// Gender is the sex recorded in a resident ID number (odd 17th digit: male).
type Gender int

// Genders.
const (
	Female Gender = iota
	Male
)

// String returns "female" or "male".
func (g Gender) String() string {
	if g == Male {
		return "male"
	}
	return "female"
}

// Person is one fictional resident.
type Person struct {
	Index     int    // position in the sequence, from 1
	Name      string // surname and given name in Hanzi, e.g. 张伟
	Gender    Gender
	BirthDate time.Time // midnight in China
	Mobile    string    // 11 digits, e.g. 13812345678
	IDNumber  string    // 18-character resident ID number
	Region    Region    // where the ID number was issued and the person lives
	Address   string    // street address, e.g. 上海市徐汇区人民路88号3栋1单元502室
}

// MobileE164 returns the mobile number in E.164 form, e.g. +8613812345678.
func (p Person) MobileE164() string {
	return "+86" + p.Mobile
}

// Person returns person i (i ≥ 1).
func (g Generator) Person(i int) Person {
	p := g.person(newStream(g.seed, kindPerson, i))
	p.Index = i
	return p
}

func (g Generator) person(s *stream) Person {
	var p Person
	p.Gender = Gender(s.intn(2))
	p.Name = name(s, p.Gender)
	// Born between 1950-01-01 and 2005-12-31.
	first := time.Date(1950, 1, 1, 0, 0, 0, 0, china)
	p.BirthDate = first.AddDate(0, 0, s.intn(20454))
	p.Region = pick(s, regions)
	p.Mobile = pick(s, mobilePrefixes) + fmt.Sprintf("%08d", s.intn(100000000))
	// Sequence code: odd for men, even for women.
	seq := s.intn(500)*2 + int(p.Gender)
	if seq == 0 {
		seq = 2
	}
	first17 := p.Region.Code + p.BirthDate.Format("20060102") + fmt.Sprintf("%03d", seq)
	p.IDNumber = first17 + string(mustCheckDigit(first17))
	p.Address = address(s, p.Region)
	return p
}

func name(s *stream, g Gender) string {
	chars := femaleChars
	if g == Male {
		chars = maleChars
	}
	n := pick(s, surnames) + pick(s, chars)
	if s.intn(10) < 7 {
		n += pick(s, chars)
	}
	return n
}

func address(s *stream, r Region) string {
	return fmt.Sprintf("%s%s%d号%d栋%d单元%d%02d室", r.Name(), pick(s, streets),
		s.between(1, 999), s.between(1, 30), s.between(1, 4), s.between(1, 32), s.between(1, 6))
}

// Case is one fictional police case record about a person.
type Case struct {
	Index       int       // position in the sequence, from 1
	PersonIndex int       // the person the case is about, in 1..people
	CaseNo      string    // e.g. A3101042021060012345
	Charge      string    // the offence's name, e.g. 盗窃
	Offence     string    // charge and circumstances, e.g. 盗窃：在商场内…
	FiledAt     time.Time // in China
}

// Case returns case i (i ≥ 1), about one of the persons 1..people.
func (g Generator) Case(i, people int) Case {
	s := newStream(g.seed, kindCase, i)
	c := Case{Index: i, PersonIndex: s.between(1, people)}
	o := pick(s, offences)
	c.Charge = o.charge
	c.Offence = o.charge + "：" + fmt.Sprintf(o.detail, s.between(2, 400)*100)
	c.FiledAt = timeBetween(s, 2015, 2023)
	region := g.Person(c.PersonIndex).Region.Code
	c.CaseNo = fmt.Sprintf("A%s%s%05d", region, c.FiledAt.Format("200601"), s.intn(100000))
	return c
}

// Order is one fictional online-shop order.
type Order struct {
	Index     int       // position in the sequence, from 1
	OrderNo   string    // e.g. 2022051314253098765
	Customer  string    // buyer's name
	Mobile    string    // buyer's mobile number, 11 digits
	Address   string    // delivery address
	Amount    int64     // in fen (1/100 yuan)
	CreatedAt time.Time // in China
}

// AmountYuan returns the amount in yuan with two decimals, e.g. "128.50".
func (o Order) AmountYuan() string {
	return strconv.FormatInt(o.Amount/100, 10) + "." + fmt.Sprintf("%02d", o.Amount%100)
}

// Order returns order i (i ≥ 1).
func (g Generator) Order(i int) Order {
	s := newStream(g.seed, kindOrder, i)
	buyer := g.person(newStream(g.seed, kindBuyer, i))
	o := Order{Index: i, Customer: buyer.Name, Mobile: buyer.Mobile, Address: buyer.Address}
	// Most orders are small; a few are large.
	o.Amount = int64(s.between(990, 49900))
	if s.intn(10) == 0 {
		o.Amount *= 10
	}
	o.CreatedAt = timeBetween(s, 2021, 2023)
	o.OrderNo = o.CreatedAt.Format("20060102150405") + fmt.Sprintf("%05d", s.intn(100000))
	return o
}

// timeBetween returns a time to the second between the start of year from
// and the end of year to, in China.
func timeBetween(s *stream, from, to int) time.Time {
	start := time.Date(from, 1, 1, 0, 0, 0, 0, china)
	end := time.Date(to+1, 1, 1, 0, 0, 0, 0, china)
	return start.Add(time.Duration(s.intn(int(end.Sub(start)/time.Second))) * time.Second)
}
