package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/fake"
)

// The etcd seed is JSON lines of keys and values, loaded through the v3 API's
// JSON gateway. https://etcd.io/docs/v3.4/dev-guide/api_grpc_gateway/

type etcdLine struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// etcdConfig are the /config/ keys: settings of a fictional application.
var etcdConfig = [lab.EtcdConfig][2]string{
	{"app/name", "户籍信息查询平台"},
	{"app/env", "production"},
	{"app/listen", "0.0.0.0:8080"},
	{"db/host", "10.20.30.40"},
	{"db/port", "3306"},
	{"db/user", "hukou_app"},
	{"db/password", "Hk2022!prod"},
	{"cache/host", "10.20.30.41:6379"},
	{"sms/gateway", "https://sms.example.com/send"},
	{"sms/api_key", "sk-lab-0000000000000000"},
	{"log/level", "info"},
	{"feature/export_enabled", "true"},
}

func printEtcd(w *bufio.Writer, g fake.Generator) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := 1; i <= lab.EtcdPersons; i++ {
		b, err := json.Marshal(personOf(g.Person(i)))
		if err != nil {
			return err
		}
		if err := enc.Encode(etcdLine{fmt.Sprintf("/persons/%05d", i), string(b)}); err != nil {
			return err
		}
	}
	for _, kv := range etcdConfig {
		if err := enc.Encode(etcdLine{"/config/" + kv[0], kv[1]}); err != nil {
			return err
		}
	}
	return nil
}

// etcdClient calls the JSON gateway of one server.
type etcdClient struct {
	base  string
	token string
}

func etcdConnect(ctx context.Context, s server) (*etcdClient, error) {
	c := &etcdClient{base: "http://" + s.addr}
	if s.user == "" {
		return c, nil
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := c.call(ctx, "/v3/auth/authenticate", map[string]string{"name": s.user, "password": s.password}, &out); err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	c.token = out.Token
	return c, nil
}

func (c *etcdClient) call(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", path, resp.Status, b)
	}
	return json.Unmarshal(b, out)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func loadEtcd(ctx context.Context, s server, seed io.Reader) error {
	c, err := etcdConnect(ctx, s)
	if err != nil {
		return err
	}
	// key "\0" with range_end "\0": every key.
	var out map[string]any
	if err := c.call(ctx, "/v3/kv/deleterange", map[string]string{"key": b64("\x00"), "range_end": b64("\x00")}, &out); err != nil {
		return fmt.Errorf("delete every key: %w", err)
	}
	var ops []any
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		// A transaction holds at most 128 operations (--max-txn-ops).
		err := c.call(ctx, "/v3/kv/txn", map[string]any{"success": ops}, &out)
		ops = ops[:0]
		return err
	}
	dec := json.NewDecoder(seed)
	for {
		var l etcdLine
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("read seed: %w", err)
		}
		ops = append(ops, map[string]any{"request_put": map[string]string{"key": b64(l.Key), "value": b64(l.Value)}})
		if len(ops) == 100 {
			if err := flush(); err != nil {
				return fmt.Errorf("put: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	return nil
}

// count counts the keys from key up to rangeEnd ("\x00": every key from key on).
func (c *etcdClient) count(ctx context.Context, key, rangeEnd string) (int64, error) {
	var out struct {
		Count string `json:"count"`
	}
	if err := c.call(ctx, "/v3/kv/range", map[string]any{"key": b64(key), "range_end": b64(rangeEnd), "count_only": true}, &out); err != nil {
		return 0, err
	}
	if out.Count == "" {
		return 0, nil // proto3 JSON leaves zero out
	}
	return strconv.ParseInt(out.Count, 10, 64)
}

func checkEtcd(ctx context.Context, s server) error {
	c, err := etcdConnect(ctx, s)
	if err != nil {
		return err
	}
	for _, r := range []struct {
		what, key, end string
		n              int64
	}{
		{"keys under /persons/", "/persons/", "/persons0", lab.EtcdPersons},
		{"keys under /config/", "/config/", "/config0", lab.EtcdConfig},
		{"keys", "\x00", "\x00", lab.EtcdPersons + lab.EtcdConfig},
	} {
		n, err := c.count(ctx, r.key, r.end)
		if err != nil {
			return fmt.Errorf("count %s: %w", r.what, err)
		}
		if err := want(r.what, n, r.n); err != nil {
			return err
		}
	}
	return nil
}
