package lab

// ZooKeeper 3.8, open (every four-letter word allowed) and with SASL
// authentication enforced (lab/kinds/43-zookeeper.sh).
const (
	ZooKeeperOpen    = "127.0.11.40:2181"
	ZooKeeperSecured = "127.0.11.41:2281"
	// ZooKeeperUser and ZooKeeperPassword are the secured variant's SASL
	// DIGEST-MD5 account.
	ZooKeeperUser     = "ajar-lab"
	ZooKeeperPassword = "lab-secret-zookeeper"
)

// Seeded figures of both variants: /persons has the children 00001 … 00500,
// each holding a person as JSON (name, mobile, id_number, address); /config
// has ZooKeeperConfig children holding settings. Besides them the tree holds
// only ZooKeeper's own /zookeeper.
const (
	ZooKeeperPersons = 500
	ZooKeeperConfig  = 8
)
