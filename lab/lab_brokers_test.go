package lab_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

// kindVars reads the LAB_* assignments of the lab/kinds files of the
// message brokers and ClickHouse.
func kindVars(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("kinds/5*.sh")
	if err != nil || len(files) == 0 {
		t.Fatalf("no lab/kinds/5*.sh: %v", err)
	}
	vars := map[string]string{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), "=")
			if ok && strings.HasPrefix(k, "LAB_") && !strings.ContainsAny(k, " \t$") {
				v, _, _ = strings.Cut(v, " #")
				vars[k] = v
			}
		}
		f.Close()
	}
	return vars
}

// TestBrokerKinds checks that the kind files say what lab_*.go say.
func TestBrokerKinds(t *testing.T) {
	vars := kindVars(t)
	port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
	want := map[string]string{
		"LAB_MOSQUITTO_OPEN":            lab.MosquittoOpen,
		"LAB_MOSQUITTO_SECURED":         lab.MosquittoSecured,
		"LAB_MOSQUITTO_USER":            lab.MosquittoUser,
		"LAB_MOSQUITTO_PASSWORD":        lab.MosquittoPassword,
		"LAB_MOSQUITTO_RETAINED":        strconv.Itoa(len(lab.MosquittoRetained())),
		"LAB_NATS_OPEN":                 lab.NATSOpen,
		"LAB_NATS_OPEN_MONITOR":         lab.NATSOpenMonitor,
		"LAB_NATS_SECURED":              lab.NATSSecured,
		"LAB_NATS_USER":                 lab.NATSUser,
		"LAB_NATS_PASSWORD":             lab.NATSPassword,
		"LAB_CLICKHOUSE_OPEN":           lab.ClickHouseOpenHTTP,
		"LAB_CLICKHOUSE_OPEN_NATIVE":    lab.ClickHouseOpenNative,
		"LAB_CLICKHOUSE_SECURED":        lab.ClickHouseSecuredHTTP,
		"LAB_CLICKHOUSE_SECURED_NATIVE": lab.ClickHouseSecuredNative,
		"LAB_CLICKHOUSE_PASSWORD":       lab.ClickHousePassword,
		"LAB_RABBITMQ_OPEN":             lab.RabbitMQOpen,
		"LAB_RABBITMQ_OPEN_MGMT":        lab.RabbitMQOpenMgmt,
		"LAB_RABBITMQ_SECURED":          lab.RabbitMQSecured,
		"LAB_RABBITMQ_SECURED_MGMT":     lab.RabbitMQSecuredMgmt,
		"LAB_RABBITMQ_DEFAULT_USER":     lab.RabbitMQDefaultUser,
		"LAB_RABBITMQ_DEFAULT_PASSWORD": lab.RabbitMQDefaultPassword,
		"LAB_RABBITMQ_USER":             lab.RabbitMQUser,
		"LAB_RABBITMQ_PASSWORD":         lab.RabbitMQPassword,
	}
	for k, v := range want {
		if vars[k] != v {
			t.Errorf("lab/kinds: %s=%q, lab_*.go say %q", k, vars[k], v)
		}
	}
	// The secured RabbitMQ keeps off the default ports, which the
	// machine's own RabbitMQ may hold.
	if port(lab.RabbitMQSecured) == "5672" || port(lab.RabbitMQSecuredMgmt) == "15672" {
		t.Error("the secured RabbitMQ listens on a default port")
	}
}

// TestBrokerSeeds checks the seeded figures the probe tests rely on.
func TestBrokerSeeds(t *testing.T) {
	retained := lab.MosquittoRetained()
	if len(retained) != 2*lab.MosquittoDevices+lab.MosquittoVehicles {
		t.Errorf("%d retained messages", len(retained))
	}
	seen := map[string]bool{}
	for _, m := range retained {
		if seen[m.Subject] || strings.ContainsAny(m.Payload, "\t\n") {
			t.Errorf("topic %q repeated, or its payload has a tab or newline", m.Subject)
		}
		seen[m.Subject] = true
	}
	streams := lab.NATSStreams()
	if len(streams) != 2 || len(streams[0].Messages) != lab.NATSPersons || len(streams[1].Messages) != lab.NATSOrders {
		t.Errorf("streams %v", streams)
	}
	queues := lab.RabbitMQQueues()
	if len(queues) != 3 || len(queues[0].Messages) != lab.RabbitMQSMS || len(queues[1].Messages) != lab.RabbitMQCustomers || len(queues[2].Messages) != 0 {
		t.Errorf("queues %+v", queues)
	}
	var sql strings.Builder
	if err := lab.WriteClickHouseSeed(&sql); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(sql.String(), "INSERT INTO police.person_info"); n != (lab.SQLPersons+499)/500 {
		t.Errorf("%d INSERTs into person_info", n)
	}
	// The same on every run: lab/up reloads a seed only when it changes.
	if again := lab.MosquittoRetained(); again[7] != retained[7] {
		t.Error("the retained messages differ between two runs")
	}
}
