package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"

	"github.com/ajar-scan/ajar/lab"
)

// tarOf returns an uncompressed tar with one file, its time fixed so that
// the same image gets the same digests on every push.
func tarOf(name string, data []byte) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: lab.SeededAt(), Typeflag: tar.TypeReg, Format: tar.FormatPAX})
	_, _ = tw.Write(data)
	_ = tw.Close()
	return b.Bytes()
}

// tarGz returns tarOf compressed with gzip (no name, no time in its header).
func tarGz(name string, data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(tarOf(name, data))
	_ = zw.Close()
	return b.Bytes()
}

// untarGz returns the uncompressed layer of repo:tag, whose digest is the
// image's diff ID.
func untarGz(repo, tag string) []byte {
	return tarOf("etc/app/release", []byte(repo+" "+tag+"\n"))
}
