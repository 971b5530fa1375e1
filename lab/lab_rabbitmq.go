package lab

import (
	"fmt"

	"github.com/ajar-scan/ajar/lab/fake"
)

// RabbitMQ of the lab, each with the management plugin. The open one keeps
// the vendor's default user guest/guest; the secured one is set up with
// another user, so guest never exists. The secured one listens on ports
// other than the defaults, which the machine's own RabbitMQ may hold.
const (
	RabbitMQOpen        = "127.0.12.10:5672"
	RabbitMQOpenMgmt    = "127.0.12.10:15672"
	RabbitMQSecured     = "127.0.12.11:5772"
	RabbitMQSecuredMgmt = "127.0.12.11:15772"
	// RabbitMQDefaultUser and RabbitMQDefaultPassword are the vendor's
	// documented default, https://www.rabbitmq.com/docs/access-control#default-state
	RabbitMQDefaultUser     = "guest"
	RabbitMQDefaultPassword = "guest"
	RabbitMQUser            = "lab"
	RabbitMQPassword        = "lab-secret-rabbitmq"
)

// Queues seeded on both servers.
const (
	// RabbitMQSMS messages wait in queue sms.outbox of vhost "/".
	RabbitMQSMS = 120
	// RabbitMQCustomers messages wait in queue customer.updates of vhost crm.
	RabbitMQCustomers = 80
)

// Queue is a RabbitMQ queue of the lab and the messages waiting in it.
type Queue struct {
	VHost    string
	Name     string
	Messages []string
}

// RabbitMQQueues returns the queues of the lab servers: two with messages
// and an empty one.
func RabbitMQQueues() []Queue {
	g := fake.New(Seed)
	sms := Queue{VHost: "/", Name: "sms.outbox"}
	for i := 1; i <= RabbitMQSMS; i++ {
		p := g.Person(i)
		sms.Messages = append(sms.Messages, mustJSON(map[string]string{
			"to": p.MobileE164(), "name": p.Name,
			"text": fmt.Sprintf("【平安通】%s您好，您的验证码是%06d，5分钟内有效。", p.Name, (i*7_654_321)%1_000_000),
		}))
	}
	crm := Queue{VHost: "crm", Name: "customer.updates"}
	for i := 1; i <= RabbitMQCustomers; i++ {
		p := g.Person(RabbitMQSMS + i)
		crm.Messages = append(crm.Messages, mustJSON(map[string]string{
			"name": p.Name, "mobile": p.Mobile, "id_number": p.IDNumber, "address": p.Address,
		}))
	}
	return []Queue{sms, crm, {VHost: "/", Name: "audit.log"}}
}

// QueueBytes is the sum of the payload sizes of a queue's messages.
func QueueBytes(q Queue) int64 {
	var n int64
	for _, m := range q.Messages {
		n += int64(len(m))
	}
	return n
}
