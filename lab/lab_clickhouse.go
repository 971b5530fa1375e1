package lab

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/ajar-scan/ajar/lab/fake"
)

// ClickHouse of the lab (Debian's 18.16): the open server lets the default
// user in with an empty password, the secured one gives it a password. Each
// serves the HTTP interface and the native protocol.
const (
	ClickHouseOpenHTTP      = "127.0.12.40:8123"
	ClickHouseOpenNative    = "127.0.12.40:9000"
	ClickHouseSecuredHTTP   = "127.0.12.41:8223"
	ClickHouseSecuredNative = "127.0.12.41:9100"
	ClickHousePassword      = "lab-secret-clickhouse"
)

// clickhouseBatch is the most rows per INSERT statement.
const clickhouseBatch = 500

// WriteClickHouseSeed writes the tables of the SQL servers with the same
// rows — police.person_info (SQLPersons), police.case_record (SQLCases) and
// shop.orders (SQLOrders) — as the SQL that clickhouse-client --multiquery
// loads: it drops and creates the databases police and shop, so that a
// reseed leaves exactly the seeded rows.
func WriteClickHouseSeed(w io.Writer) error {
	g := fake.New(Seed)
	bw := bufio.NewWriter(w)
	bw.WriteString(`DROP DATABASE IF EXISTS police;
DROP DATABASE IF EXISTS shop;
CREATE DATABASE police;
CREATE DATABASE shop;
CREATE TABLE police.person_info (id UInt32, name String, phone String, id_number String, address String, birth_date Date) ENGINE = MergeTree ORDER BY id;
CREATE TABLE police.case_record (id UInt32, person_id UInt32, case_no String, offence String, filed_at DateTime) ENGINE = MergeTree ORDER BY id;
CREATE TABLE shop.orders (id UInt32, customer String, amount Decimal(12, 2), created_at DateTime) ENGINE = MergeTree ORDER BY id;
`)
	rows := func(table string, n int, row func(i int) string) {
		for i := 1; i <= n; i++ {
			if (i-1)%clickhouseBatch == 0 {
				bw.WriteString("INSERT INTO " + table + " VALUES ")
			} else {
				bw.WriteString(", ")
			}
			bw.WriteString(row(i))
			if i%clickhouseBatch == 0 || i == n {
				bw.WriteString(";\n")
			}
		}
	}
	rows("police.person_info", SQLPersons, func(i int) string {
		p := g.Person(i)
		return fmt.Sprintf("(%d, %s, %s, %s, %s, '%s')", i, chQuote(p.Name), chQuote(p.Mobile),
			chQuote(p.IDNumber), chQuote(p.Address), p.BirthDate.Format("2006-01-02"))
	})
	rows("police.case_record", SQLCases, func(i int) string {
		c := g.Case(i, SQLPersons)
		return fmt.Sprintf("(%d, %d, %s, %s, '%s')", i, c.PersonIndex, chQuote(c.CaseNo), chQuote(c.Offence),
			c.FiledAt.Format("2006-01-02 15:04:05"))
	})
	rows("shop.orders", SQLOrders, func(i int) string {
		o := g.Order(i)
		return fmt.Sprintf("(%d, %s, %s, '%s')", i, chQuote(o.Customer), o.AmountYuan(),
			o.CreatedAt.Format("2006-01-02 15:04:05"))
	})
	return bw.Flush()
}

// chQuote quotes a string literal for ClickHouse, which escapes with a
// backslash. https://clickhouse.com/docs/en/sql-reference/syntax#string
func chQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
