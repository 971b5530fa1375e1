package lab

// etcd 3.4, open and with authentication enabled (lab/kinds/42-etcd.sh). The
// peer ports are the client port plus one, on the same address.
const (
	EtcdOpen    = "127.0.11.30:2379"
	EtcdSecured = "127.0.11.31:2479"
	// EtcdPassword is the password of the secured variant's root user.
	EtcdPassword = "lab-secret-etcd"
)

// Seeded figures of both variants: keys /persons/00001 … /persons/01000
// hold a person as JSON (name, mobile, id_number, address); keys under
// /config/ hold settings of a fictional application.
const (
	EtcdPersons = 1000
	EtcdConfig  = 12
)
