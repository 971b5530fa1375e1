package lab

import (
	"encoding/json"
	"fmt"

	"github.com/ajar-scan/ajar/lab/fake"
)

// Mosquitto (MQTT) of the lab: the open broker accepts anonymous clients,
// the secured one has a password file and refuses them.
const (
	MosquittoOpen     = "127.0.12.20:1883"
	MosquittoSecured  = "127.0.12.21:1983"
	MosquittoUser     = "lab"
	MosquittoPassword = "lab-secret-mqtt"
)

// Retained messages seeded on both brokers.
const (
	// MosquittoDevices devices each keep two retained messages,
	// devices/dev-NNNN/owner and devices/dev-NNNN/location.
	MosquittoDevices = 40
	// MosquittoVehicles vehicles each keep fleet/truck-NNNN/driver.
	MosquittoVehicles = 20
)

// Message is one message a lab broker holds: an MQTT retained message, a
// JetStream message or a RabbitMQ queued message.
type Message struct {
	Subject string // MQTT topic, NATS subject or RabbitMQ routing key
	Payload string
}

// MosquittoRetained returns the retained messages of the lab brokers, the
// devices first.
func MosquittoRetained() []Message {
	g := fake.New(Seed)
	var out []Message
	for i := 1; i <= MosquittoDevices; i++ {
		p := g.Person(i)
		dev := fmt.Sprintf("devices/dev-%04d/", i)
		out = append(out,
			Message{dev + "owner", mustJSON(map[string]string{"name": p.Name, "mobile": p.Mobile, "id_number": p.IDNumber})},
			Message{dev + "location", mustJSON(map[string]any{
				"lat": float64(22_000_000+(i*7919)%9_000_000) / 1e6, "lon": float64(108_000_000+(i*104_729)%14_000_000) / 1e6,
				"address": p.Address,
			})})
	}
	for i := 1; i <= MosquittoVehicles; i++ {
		p := g.Person(MosquittoDevices + i)
		out = append(out, Message{fmt.Sprintf("fleet/truck-%04d/driver", i),
			mustJSON(map[string]string{"driver": p.Name, "phone": p.MobileE164()})})
	}
	return out
}

// mustJSON encodes a value made of strings and numbers, which cannot fail.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("lab: encode %v: %v", v, err))
	}
	return string(b)
}
