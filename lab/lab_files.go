package lab

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"time"

	"github.com/ajar-scan/ajar/lab/fake"
)

// File is one file a lab file server (FTP, rsync, nginx) serves: its path
// below the served root, with slashes, and its content.
type File struct {
	Path string
	Data []byte
}

// Dir returns the top-level directory of the file ("" for a file at the root).
func (f File) Dir() string {
	if d, _, ok := strings.Cut(f.Path, "/"); ok {
		return d
	}
	return ""
}

// seededAt is the modification time of every seeded file and archive member,
// so that the trees are identical on every run.
var seededAt = time.Date(2022, 11, 25, 9, 30, 0, 0, time.UTC)

// SeededAt returns the modification time lab/up gives every seeded file.
func SeededAt() time.Time { return seededAt }

// personsCSV renders persons from..to (inclusive) as CSV with a header.
func personsCSV(g fake.Generator, from, to int) []byte {
	var b bytes.Buffer
	b.WriteString("id,name,mobile,id_number,address,birth_date\n")
	for i := from; i <= to; i++ {
		p := g.Person(i)
		fmt.Fprintf(&b, "%d,%s,%s,%s,%s,%s\n", i, p.Name, p.Mobile, p.IDNumber, p.Address, p.BirthDate.Format("2006-01-02"))
	}
	return b.Bytes()
}

// ordersCSV renders orders from..to (inclusive) as CSV with a header.
func ordersCSV(g fake.Generator, from, to int) []byte {
	var b bytes.Buffer
	b.WriteString("order_no,customer,mobile,address,amount,created_at\n")
	for i := from; i <= to; i++ {
		o := g.Order(i)
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s\n", o.OrderNo, o.Customer, o.Mobile, o.Address, o.AmountYuan(), o.CreatedAt.Format("2006-01-02 15:04:05"))
	}
	return b.Bytes()
}

// personsSQL renders persons from..to as a MySQL dump of table person_info.
func personsSQL(g fake.Generator, from, to int) []byte {
	var b bytes.Buffer
	b.WriteString("-- MySQL dump 10.19  Distrib 10.11.6-MariaDB\n--\n-- Host: db-prod-07.internal.corp    Database: police\n" +
		"-- ------------------------------------------------------\n\n" +
		"DROP TABLE IF EXISTS `person_info`;\nCREATE TABLE `person_info` (\n  `id` int unsigned NOT NULL,\n" +
		"  `name` varchar(32) NOT NULL,\n  `phone` char(11) NOT NULL,\n  `id_number` char(18) NOT NULL,\n" +
		"  `address` varchar(255) NOT NULL,\n  `birth_date` date NOT NULL,\n  PRIMARY KEY (`id`)\n" +
		") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n\nLOCK TABLES `person_info` WRITE;\n")
	for i := from; i <= to; i++ {
		p := g.Person(i)
		fmt.Fprintf(&b, "INSERT INTO `person_info` VALUES (%d,'%s','%s','%s','%s','%s');\n",
			i, p.Name, p.Mobile, p.IDNumber, p.Address, p.BirthDate.Format("2006-01-02"))
	}
	b.WriteString("UNLOCK TABLES;\n-- Dump completed on 2022-11-25  9:30:00\n")
	return b.Bytes()
}

// appLog renders a web application's log that mentions a few persons.
func appLog(g fake.Generator, from, to int) []byte {
	var b bytes.Buffer
	for i := from; i <= to; i++ {
		p := g.Person(i)
		fmt.Fprintf(&b, "2022-11-25T09:%02d:%02d+08:00 INFO login ok user=%s mobile=%s ip=10.20.%d.%d\n",
			i/60%60, i%60, p.Name, p.Mobile, i/250%250, i%250+1)
	}
	return b.Bytes()
}

// zipOf builds a zip archive of files with fixed times.
func zipOf(files []File) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Path, Method: zip.Deflate, Modified: seededAt})
		if err != nil {
			panic(err) // writing to memory does not fail
		}
		_, _ = w.Write(f.Data)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// tarGzOf builds a gzip-compressed tar archive of files with fixed times.
func tarGzOf(files []File) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		hdr := &tar.Header{Name: f.Path, Mode: 0o644, Size: int64(len(f.Data)), ModTime: seededAt, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			panic(err)
		}
		_, _ = tw.Write(f.Data)
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// TreeStats sums a tree per top-level directory: files and bytes, "" for
// the files at the root.
func TreeStats(files []File) map[string][2]int64 {
	out := map[string][2]int64{}
	for _, f := range files {
		s := out[f.Dir()]
		s[0]++
		s[1] += int64(len(f.Data))
		out[f.Dir()] = s
	}
	return out
}
