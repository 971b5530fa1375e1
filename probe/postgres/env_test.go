package postgres

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
)

// hostileEnvironment sets every variable and file libpq-style clients read
// to values that would change the connection if any were honoured.
func hostileEnvironment(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(home, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	pass := "*:*:*:*:" + lab.PGPassword + "\n"
	service := "[ajar]\nhost=127.0.20.99\nport=1\nuser=intruder\ndbname=shop\npassword=" + lab.PGPassword + "\nsslmode=require\n"
	write(".pgpass", pass)
	write(".pg_service.conf", service)
	write(".postgresql/root.crt", "not a certificate")
	for k, v := range map[string]string{
		"HOME":                 home,
		"PGHOST":               "127.0.20.99",
		"PGPORT":               "1",
		"PGDATABASE":           "shop",
		"PGUSER":               "intruder",
		"PGPASSWORD":           lab.PGPassword,
		"PGPASSFILE":           write("pgpass", pass),
		"PGSERVICEFILE":        write("services.conf", service),
		"PGSSLMODE":            "verify-full",
		"PGSSLROOTCERT":        filepath.Join(home, "missing.crt"),
		"PGSSLCERT":            filepath.Join(home, "missing-client.crt"),
		"PGSSLKEY":             filepath.Join(home, "missing-client.key"),
		"PGSSLCERTMODE":        "require",
		"PGSSLNEGOTIATION":     "direct",
		"PGAPPNAME":            "intruder",
		"PGOPTIONS":            "-c default_transaction_read_only=off",
		"PGTZ":                 "Mars/Olympus_Mons",
		"PGCONNECT_TIMEOUT":    "not a number",
		"PGTARGETSESSIONATTRS": "standby",
		"PGMINPROTOCOLVERSION": "3.2",
		"PGMAXPROTOCOLVERSION": "3.2",
		"PGCHANNELBINDING":     "require",
		"PGREQUIREAUTH":        "password",
	} {
		t.Setenv(k, v)
	}
}

func TestEnvironmentCannotChangeTheConnection(t *testing.T) {
	lab.Require(t, lab.PGOpen, lab.PGSecured)
	hostileEnvironment(t)

	t.Run("startup message", func(t *testing.T) {
		got := make(chan startup, 1)
		sent := make(chan []byte, 1)
		addr := serve(t, func(c net.Conn) {
			s, err := readStartup(c)
			if err != nil {
				return
			}
			got <- s
			c.Write(authRequest(3)) // cleartext password, please
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			rest, _ := io.ReadAll(io.LimitReader(c, 1<<16))
			sent <- rest
		})
		res, _, err := probeHostile(t, addr, 5*time.Second)
		if err != nil || res.Status != ajar.StatusProtected {
			t.Fatalf("result %+v, error %v; want protected", res, err)
		}
		s := <-got
		// 3.0, not an SSLRequest (80877103) or a 3.2 startup.
		if s.Version != 3<<16 {
			t.Errorf("first message has code %d, want a protocol 3.0 startup", s.Version)
		}
		want := map[string]string{"user": "postgres", "database": "postgres", "application_name": "ajar"}
		if len(s.Params) != len(want) {
			t.Errorf("startup parameters %q, want %q", s.Params, want)
		}
		for k, v := range want {
			if s.Params[k] != v {
				t.Errorf("startup parameter %s = %q, want %q", k, s.Params[k], v)
			}
		}
		if rest := <-sent; len(rest) > 0 && string(rest) != "X\x00\x00\x00\x04" {
			t.Errorf("after the password request the client sent %q", rest)
		}
	})

	t.Run("open server", func(t *testing.T) {
		res, err := run(t, lab.PGOpen, probe.DefaultOptions())
		if err != nil || res.Status != ajar.StatusExposed {
			t.Fatalf("result %+v, error %v; want exposed", res, err)
		}
		sets := datasetsByName(t, res.Exposure)
		if d := sets["police.public.person_info"]; d.Records != lab.SQLPersons || d.Estimated {
			t.Errorf("person_info %+v", d)
		}
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		defer cancel()
		tg := target(t, lab.PGOpen, probe.DefaultOptions())
		s := &session{target: tg, opts: tg.Options, timeout: time.Second}
		c, err := s.connect(ctx, "postgres")
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer closeConn(ctx, c)
		for setting, want := range map[string]string{
			"default_transaction_read_only": "on",
			"application_name":              "ajar",
			"session_authorization":         "postgres",
		} {
			var got string
			if err := c.QueryRow(ctx, "SHOW "+setting).Scan(&got); err != nil {
				t.Fatalf("SHOW %s: %v", setting, err)
			}
			if got != want {
				t.Errorf("%s = %q, want %q", setting, got, want)
			}
		}
		var tz string
		if err := c.QueryRow(ctx, "SHOW TimeZone").Scan(&tz); err != nil || tz == "Mars/Olympus_Mons" {
			t.Errorf("TimeZone %q, error %v", tz, err)
		}
	})

	t.Run("secured server with its password in the environment", func(t *testing.T) {
		res, err := run(t, lab.PGSecured, probe.DefaultOptions())
		if err != nil || res.Status != ajar.StatusProtected {
			t.Fatalf("result %+v, error %v; want protected", res, err)
		}
	})

	t.Run("PGSERVICE fails before sending", func(t *testing.T) {
		// The one variable that cannot be pinned: naming a service makes
		// the connection settings unbuildable, so nothing is sent.
		t.Setenv("PGSERVICE", "ajar")
		accepted := make(chan struct{}, 1)
		addr := serve(t, func(net.Conn) { accepted <- struct{}{} })
		res, _, err := probeHostile(t, addr, 2*time.Second)
		if err == nil || res.Status != ajar.StatusOpen {
			t.Errorf("result %+v, error %v; want open with an error", res, err)
		}
		select {
		case <-accepted:
			t.Error("the probe connected")
		default:
		}
	})
}
