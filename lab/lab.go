// Package lab describes the test laboratory that lab/up starts on loopback:
// real servers, each in an open and a secured variant, seeded with fictional
// personal data. Tests use these addresses and the seeded figures to check
// what a probe reports.
package lab

import (
	"net"
	"testing"
	"time"
)

// Addresses of the lab services (lab/up starts them; lab/lab.env says the same
// for the shell scripts).
const (
	RedisOpen    = "127.0.10.10:6379"
	RedisSecured = "127.0.10.11:6379"
	MySQLOpen    = "127.0.10.20:3306"
	MySQLSecured = "127.0.10.21:3306"
	PGOpen       = "127.0.10.30:5432"
	PGSecured    = "127.0.10.31:5432"
)

// Passwords of the secured variants. They guard fictional data on loopback.
const (
	RedisPassword = "lab-secret-redis"
	MySQLPassword = "lab-secret-mysql"
	PGPassword    = "lab-secret-pg"
)

// Seeded figures, the same on the open and the secured variant.
const (
	// Redis db0: one hash per person, keys person:00001 … person:02000,
	// fields name, mobile, id_number, address.
	RedisPersons = 2000
	// Redis db1: one string per order, keys order:00001 … order:00500.
	RedisOrders = 500

	// SQL (MariaDB and PostgreSQL): database police with tables person_info
	// (columns id, name, phone, id_number, address, birth_date) and
	// case_record (id, person_id, case_no, offence, filed_at); database shop
	// with table orders (id, customer, amount, created_at).
	SQLPersons = 3000
	SQLCases   = 1200
	SQLOrders  = 800
)

// Services lists every lab address, for readiness checks.
var Services = []string{RedisOpen, RedisSecured, MySQLOpen, MySQLSecured, PGOpen, PGSecured}

// Require fails the test unless every given lab service accepts connections.
// The lab is started by `make test` (lab/up); a missing lab is a failure,
// never a skip.
func Require(t testing.TB, addrs ...string) {
	t.Helper()
	if len(addrs) == 0 {
		addrs = Services
	}
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", a, 2*time.Second)
		if err != nil {
			t.Fatalf("lab service %s is not up (run lab/up): %v", a, err)
		}
		c.Close()
	}
}
