package lab

import "github.com/ajar-scan/ajar/lab/fake"

// rsync daemons of the lab (lab/kinds/61-rsync.sh). The open one serves
// the modules of RsyncModules as they say; on the secured one every module
// requires RsyncUser and RsyncPassword.
const (
	RsyncOpen     = "127.0.13.20:873"
	RsyncSecured  = "127.0.13.21:1873"
	RsyncUser     = "mirror"
	RsyncPassword = "lab-secret-rsync"
)

// RsyncModule is one module of the lab's rsync daemons.
type RsyncModule struct {
	Name, Comment string
	// Auth: the module requires a user and password even on the open
	// daemon.
	Auth  bool
	Files []File
}

// RsyncModules returns the modules of both daemons, in the order of their
// configuration (the order the daemon lists them in).
func RsyncModules() []RsyncModule {
	g := fake.New(Seed)
	return []RsyncModule{
		{Name: "backup", Comment: "nightly database dumps", Files: []File{
			{"db/orders.csv", ordersCSV(g, 1, 800)},
			{"db/police_person_info.sql", personsSQL(g, 1, 1500)},
			{"logs/app-2022-11-24.log", appLog(g, 1, 400)},
		}},
		{Name: "www", Comment: "web root mirror", Files: []File{
			{"index.html", []byte("<!doctype html>\n<title>Records office</title>\n<h1>Records office</h1>\n")},
			{"static/app.js", []byte("console.log('records office');\n")},
		}},
		{Name: "secret", Comment: "key material", Auth: true, Files: []File{
			{"keys/deploy.key", []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nfictional-lab-key-not-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n")},
		}},
	}
}
