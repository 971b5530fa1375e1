package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/fake"
)

// The InfluxDB seed is line protocol for database tracking, written through
// /write after the database is created anew.
// https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/

const influxDB = "tracking"

// influxEscape escapes a tag value or a measurement name.
var influxEscape = strings.NewReplacer(",", `\,`, "=", `\=`, " ", `\ `)

func printInflux(w *bufio.Writer, g fake.Generator) error {
	base := time.Date(2022, 6, 1, 8, 0, 0, 0, time.UTC).Unix()
	for i := 1; i <= lab.InfluxPersons; i++ {
		p := g.Person(i)
		for j := range lab.InfluxPoints {
			// A position near the person's city, a little apart each time.
			lat := 22 + float64((i*37+j*11)%1700)/100
			lon := 100 + float64((i*53+j*7)%2100)/100
			fmt.Fprintf(w, "person_location,id_number=%s,name=%s mobile=%q,address=%q,lat=%g,lon=%g %d\n",
				influxEscape.Replace(p.IDNumber), influxEscape.Replace(p.Name), p.Mobile, p.Address,
				lat, lon, base+int64(i*60+j*3600))
		}
	}
	for h := 1; h <= lab.InfluxHosts; h++ {
		for j := range lab.InfluxCPUPoints {
			fmt.Fprintf(w, "cpu,host=app-%02d usage=%d %d\n", h, (h*13+j*7)%100, base+int64(j*10))
		}
	}
	return nil
}

// influxClient sends requests to one server's HTTP API.
type influxClient struct {
	base string
	s    server
}

func (c *influxClient) do(ctx context.Context, path string, q url.Values, body io.Reader) ([]byte, error) {
	if c.s.user != "" {
		q.Set("u", c.s.user)
		q.Set("p", c.s.password)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path+"?"+q.Encode(), body)
	if err != nil {
		return nil, err
	}
	if path == "/query" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s: %s: %s", path, resp.Status, b)
	}
	return b, nil
}

// query runs one InfluxQL statement and returns the first value of the
// first row, or "" when there is none.
func (c *influxClient) query(ctx context.Context, db, stmt string) (string, error) {
	q := url.Values{"q": {stmt}}
	if db != "" {
		q.Set("db", db)
	}
	b, err := c.do(ctx, "/query", q, nil)
	if err != nil {
		return "", err
	}
	var out struct {
		Results []struct {
			Error  string `json:"error"`
			Series []struct {
				Values [][]json.RawMessage `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return "", fmt.Errorf("%s: %w", stmt, err)
	}
	if len(out.Results) != 1 {
		return "", fmt.Errorf("%s: %d results", stmt, len(out.Results))
	}
	r := out.Results[0]
	if r.Error != "" {
		return "", fmt.Errorf("%s: %s", stmt, r.Error)
	}
	if len(r.Series) == 0 || len(r.Series[0].Values) == 0 {
		return "", nil
	}
	row := r.Series[0].Values[0]
	return strings.Trim(string(row[len(row)-1]), `"`), nil
}

func loadInflux(ctx context.Context, s server, seed io.Reader) error {
	c := &influxClient{base: "http://" + s.addr, s: s}
	for _, stmt := range []string{"DROP DATABASE " + influxDB, "CREATE DATABASE " + influxDB} {
		if _, err := c.query(ctx, "", stmt); err != nil {
			return err
		}
	}
	_, err := c.do(ctx, "/write", url.Values{"db": {influxDB}, "precision": {"s"}}, seed)
	return err
}

func checkInflux(ctx context.Context, s server) error {
	c := &influxClient{base: "http://" + s.addr, s: s}
	for _, m := range []struct {
		stmt string
		n    int64
	}{
		{"SELECT count(lat) FROM person_location", lab.InfluxPersons * lab.InfluxPoints},
		{"SELECT count(usage) FROM cpu", lab.InfluxHosts * lab.InfluxCPUPoints},
	} {
		v, err := c.query(ctx, influxDB, m.stmt)
		if err != nil {
			return err
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		if err := want(m.stmt, n, m.n); err != nil {
			return err
		}
	}
	return nil
}
