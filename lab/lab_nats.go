package lab

import (
	"fmt"

	"github.com/ajar-scan/ajar/lab/fake"
)

// NATS of the lab, with JetStream: the open server has no authentication,
// the secured one a user and password. The open one also serves its
// monitoring endpoint on NATSOpenMonitor.
const (
	NATSOpen        = "127.0.12.30:4222"
	NATSOpenMonitor = "127.0.12.30:8222"
	NATSSecured     = "127.0.12.31:4322"
	NATSUser        = "lab"
	NATSPassword    = "lab-secret-nats"
)

// JetStream streams seeded on both servers.
const (
	// NATSPersons messages in stream PERSONS, subjects persons.<region code>.
	NATSPersons = 300
	// NATSOrders messages in stream ORDERS, subject orders.created.
	NATSOrders = 150
)

// Stream is a JetStream stream of the lab and the messages it holds.
type Stream struct {
	Name     string
	Subjects []string
	Messages []Message
}

// NATSStreams returns the streams of the lab NATS servers.
func NATSStreams() []Stream {
	g := fake.New(Seed)
	persons := Stream{Name: "PERSONS", Subjects: []string{"persons.>"}}
	for i := 1; i <= NATSPersons; i++ {
		p := g.Person(i)
		persons.Messages = append(persons.Messages, Message{"persons." + p.Region.Code, mustJSON(map[string]string{
			"name": p.Name, "mobile": p.Mobile, "id_number": p.IDNumber, "address": p.Address,
			"birth_date": p.BirthDate.Format("2006-01-02"),
		})})
	}
	orders := Stream{Name: "ORDERS", Subjects: []string{"orders.>"}}
	for i := 1; i <= NATSOrders; i++ {
		o := g.Order(i)
		orders.Messages = append(orders.Messages, Message{"orders.created", mustJSON(map[string]string{
			"order_no": o.OrderNo, "customer": o.Customer, "mobile": o.Mobile, "address": o.Address,
			"amount": o.AmountYuan(), "created_at": o.CreatedAt.Format("2006-01-02 15:04:05"),
		})})
	}
	return []Stream{persons, orders}
}

// StreamBytes is the sum of the payload sizes of a stream's messages.
func StreamBytes(s Stream) int64 {
	var n int64
	for _, m := range s.Messages {
		n += int64(len(m.Payload))
	}
	return n
}

// String renders a stream as its name and message count, for test output.
func (s Stream) String() string { return fmt.Sprintf("%s(%d)", s.Name, len(s.Messages)) }
