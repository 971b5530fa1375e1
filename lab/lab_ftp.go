package lab

import "github.com/ajar-scan/ajar/lab/fake"

// FTP servers of the lab (vsFTPd, lab/kinds/60-ftp.sh): the open one lets
// anyone in as "anonymous"; the secured one refuses anonymous and admits
// only the local user FTPUser.
const (
	FTPOpen    = "127.0.13.10:21"
	FTPSecured = "127.0.13.11:2121"
	// FTPUser is the system user of the secured server, FTPPassword its
	// password; it guards fictional data on loopback.
	FTPUser     = "ajar-ftp"
	FTPPassword = "lab-secret-ftp"
)

// FTPTree returns the files both FTP servers serve: the anonymous root of
// the open one and the home of FTPUser on the secured one.
func FTPTree() []File {
	g := fake.New(Seed)
	return []File{
		{"welcome.msg", []byte("Welcome to the file exchange of the records office.\nUploads go to /incoming.\n")},
		{"backup/old/orders_2021.csv", ordersCSV(g, 301, 400)},
		{"backup/orders_2022.csv", ordersCSV(g, 1, 300)},
		{"backup/police_person_info.sql", personsSQL(g, 1, 500)},
		{"pub/persons_2022.csv", personsCSV(g, 1, 1000)},
		{"pub/readme.txt", []byte("Monthly exports of the resident register. Internal use only.\n")},
	}
}
