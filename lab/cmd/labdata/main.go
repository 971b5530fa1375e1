// Command labdata writes what the lab's file, registry, Prometheus and LDAP
// servers serve: trees, configurations, an LDIF, and the registry's images.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/ajar-scan/ajar/lab"
)

const usage = `usage: labdata COMMAND [flags]

  tree -set SET -dir DIR       write the files of SET under DIR (created; must not exist)
  manifest -set SET            print "PATH SIZE SHA256" for every file of SET
  ldif                         print the LDIF of the LDAP servers' entries
  prometheus-config -self ADDR [-user U -password P]
                               print the configuration of the Prometheus server at ADDR
  server-status                print the page the web servers answer at /server-status
  bcrypt                       print the bcrypt hash of the password read from stdin
  rsync-config -variant open|secured -dir DIR -secrets FILE
                               print the rsyncd.conf of a lab daemon whose modules are under DIR
  registry-list                print "REPOSITORY TAG" for every image the lab registries hold
  registry-push -addr ADDR [-user U -password P]
                               push the lab repositories to the registry at ADDR
  registry-check -addr ADDR [-user U -password P]
                               exit 0 when the registry holds exactly the lab repositories

SET is ftp, www or rsync (every module, each in its own directory).
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// errUsage marks a usage error (exit status 2).
var errUsage = errors.New("usage")

// run returns the exit status: 0, 1 when a check fails, 2 for a usage
// error, 3 when the work fails.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("labdata "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	set := fs.String("set", "", "ftp, www or rsync")
	variant := fs.String("variant", "", "open or secured")
	secrets := fs.String("secrets", "", "rsync secrets file")
	dir := fs.String("dir", "", "directory to create")
	self := fs.String("self", "", "address of the Prometheus server")
	addr := fs.String("addr", "", "address of the registry")
	user := fs.String("user", "", "user name")
	password := fs.String("password", "", "password")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	w := bufio.NewWriter(stdout)
	var err error
	switch args[0] {
	case "tree":
		err = writeTree(*set, *dir)
	case "manifest":
		err = manifest(w, *set)
	case "ldif":
		err = writeLDIF(w)
	case "prometheus-config":
		if *self == "" {
			err = fmt.Errorf("-self is required: %w", errUsage)
			break
		}
		err = prometheusConfig(w, *self, *user, *password)
	case "rsync-config":
		err = rsyncConfig(w, *variant, *dir, *secrets)
	case "registry-list":
		for _, r := range lab.RegistryRepositories() {
			for _, t := range r.Tags {
				fmt.Fprintf(w, "%s %s\n", r.Name, t)
			}
		}
	case "server-status":
		_, err = w.Write(lab.ServerStatusPage())
	case "bcrypt":
		err = hashPassword(w, stdin)
	case "registry-push":
		err = registryPush(*addr, *user, *password)
	case "registry-check":
		err = registryCheck(*addr, *user, *password)
		if errors.Is(err, errMismatch) {
			fmt.Fprintf(stderr, "labdata: %v\n", err)
			return 1
		}
	default:
		err = fmt.Errorf("unknown command %q: %w", args[0], errUsage)
	}
	if ferr := w.Flush(); err == nil && ferr != nil {
		err = ferr
	}
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "labdata: %v\n%s", err, usage)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "labdata %s: %v\n", args[0], err)
		return 3
	}
	return 0
}

// files returns the files of a set.
func files(set string) ([]lab.File, error) {
	switch {
	case set == "ftp":
		return lab.FTPTree(), nil
	case set == "www":
		return lab.WebTree(), nil
	case set == "rsync":
		var out []lab.File
		for _, m := range lab.RsyncModules() {
			for _, f := range m.Files {
				out = append(out, lab.File{Path: m.Name + "/" + f.Path, Data: f.Data})
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown set %q: %w", set, errUsage)
}

// writeTree creates dir and writes the set's files under it, world-readable,
// with the seeded modification time.
func writeTree(set, dir string) error {
	fs, err := files(set)
	if err != nil {
		return err
	}
	if dir == "" {
		return fmt.Errorf("-dir is required: %w", errUsage)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	dirs := []string{dir}
	for _, f := range fs {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		for d := filepath.Dir(p); d != dir && !slices.Contains(dirs, d); d = filepath.Dir(d) {
			dirs = append(dirs, d)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
		if err := os.Chtimes(p, lab.SeededAt(), lab.SeededAt()); err != nil {
			return err
		}
	}
	// Directories last: writing their files changed their times.
	for _, d := range dirs {
		if err := os.Chtimes(d, lab.SeededAt(), lab.SeededAt()); err != nil {
			return err
		}
	}
	return nil
}

// manifest prints one line per file of the set, sorted by path.
func manifest(w io.Writer, set string) error {
	fs, err := files(set)
	if err != nil {
		return err
	}
	slices.SortFunc(fs, func(a, b lab.File) int { return strings.Compare(a.Path, b.Path) })
	for _, f := range fs {
		sum := sha256.Sum256(f.Data)
		if _, err := fmt.Fprintf(w, "%s %d %s\n", f.Path, len(f.Data), hex.EncodeToString(sum[:])); err != nil {
			return err
		}
	}
	return nil
}

// rsyncConfig prints the configuration of a lab rsync daemon: the modules
// of lab.RsyncModules under dir, read-only; on the secured variant every
// module wants lab.RsyncUser, on the open one those marked Auth.
func rsyncConfig(w io.Writer, variant, dir, secrets string) error {
	if variant != "open" && variant != "secured" || dir == "" || secrets == "" {
		return fmt.Errorf("-variant open|secured, -dir and -secrets are required: %w", errUsage)
	}
	var b strings.Builder
	b.WriteString("# rsync daemon of the ajar test lab; written by lab/up.\n")
	b.WriteString("use chroot = yes\nuid = nobody\ngid = nogroup\nread only = yes\nlist = yes\nmax connections = 20\n")
	fmt.Fprintf(&b, "lock file = %s\n", filepath.Join(filepath.Dir(secrets), "rsyncd.lock"))
	for _, m := range lab.RsyncModules() {
		fmt.Fprintf(&b, "\n[%s]\n\tpath = %s\n\tcomment = %s\n", m.Name, filepath.Join(dir, m.Name), m.Comment)
		if variant == "secured" || m.Auth {
			fmt.Fprintf(&b, "\tauth users = %s\n\tsecrets file = %s\n", lab.RsyncUser, secrets)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// hashPassword prints the bcrypt hash of the first line of r.
func hashPassword(w io.Writer, r io.Reader) error {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return fmt.Errorf("no password on stdin: %w", errUsage)
	}
	// The lowest cost: a lab server checks it on every request.
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", h)
	return err
}
