package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/fake"
)

// order is the JSON value of a Redis order:NNNNN key.
type order struct {
	OrderNo   string `json:"order_no"`
	Customer  string `json:"customer"`
	Mobile    string `json:"mobile"`
	Address   string `json:"address"`
	Amount    string `json:"amount"`
	CreatedAt string `json:"created_at"`
}

// writeRedis writes Redis commands in RESP, the mass-insertion input of
// `redis-cli --pipe` (https://redis.io/docs/latest/develop/use/patterns/bulk-loading/).
// The script empties every database first, so that a reseed leaves exactly
// the seeded keys. Errors stick to w and are returned by its Flush.
func writeRedis(w *bufio.Writer, g fake.Generator) error {
	command(w, "FLUSHALL")
	command(w, "SELECT", "0")
	for i := 1; i <= lab.RedisPersons; i++ {
		p := g.Person(i)
		command(w, "HSET", fmt.Sprintf("person:%05d", i),
			"name", p.Name, "mobile", p.Mobile, "id_number", p.IDNumber, "address", p.Address)
	}
	command(w, "SELECT", "1")
	for i := 1; i <= lab.RedisOrders; i++ {
		o := g.Order(i)
		v, err := json.Marshal(order{o.OrderNo, o.Customer, o.Mobile, o.Address, o.AmountYuan(),
			o.CreatedAt.Format("2006-01-02 15:04:05")})
		if err != nil {
			return fmt.Errorf("encode order %d: %w", i, err)
		}
		command(w, "SET", fmt.Sprintf("order:%05d", i), string(v))
	}
	return w.Flush()
}

// command writes one command as a RESP array of bulk strings.
func command(w *bufio.Writer, args ...string) {
	w.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		w.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
}
