package rabbitmq

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
)

// The management API's reads: https://www.rabbitmq.com/docs/http-api-reference

// pageSize is the most queues asked for per page of /api/queues.
const pageSize = 500

// overview is the part of GET /api/overview the probe reads.
type overview struct {
	RabbitMQVersion string `json:"rabbitmq_version"`
	ProductName     string `json:"product_name"`
	ProductVersion  string `json:"product_version"`
	ClusterName     string `json:"cluster_name"`
}

// queue is one queue of GET /api/queues.
type queue struct {
	VHost        string `json:"vhost"`
	Name         string `json:"name"`
	Messages     int64  `json:"messages"`
	MessageBytes int64  `json:"message_bytes"`
}

// queuePage is one page of GET /api/queues?page=N.
type queuePage struct {
	Items      []queue `json:"items"`
	PageCount  int     `json:"page_count"`
	TotalCount int     `json:"total_count"`
}

// probeManagement logs in to the management API as guest/guest when
// default credentials are allowed; without, it sends nothing.
func probeManagement(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	res := &probe.Result{Status: ajar.StatusOpen, Product: "RabbitMQ"}
	if !t.Options.DefaultCreds {
		res.Detail = notTried
		return res, nil
	}
	hc := httpc.New(t)
	defer hc.Close()
	auth := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(defaultUser+":"+defaultPassword))}}
	get := func(target string, v any) (*httpc.Response, error) {
		r, err := hc.Get(ctx, target, auth)
		if err != nil {
			return r, err
		}
		if r.Status != http.StatusOK {
			return r, nil
		}
		if err := json.Unmarshal(r.Body, v); err != nil {
			return r, fmt.Errorf("GET %s: %v: %w", target, err, ErrProtocol)
		}
		return r, nil
	}

	var ov overview
	r, err := get("/api/overview", &ov)
	if err != nil {
		return res, err
	}
	switch r.Status {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		res.Status = ajar.StatusProtected
		res.Detail = clip(fmt.Sprintf("the default login guest/guest was refused (HTTP %d %s)", r.Status, httpc.Excerpt(r.Body, 80)), detailMax)
		return res, nil
	default:
		return res, httpc.Unexpected(http.MethodGet, "/api/overview", r)
	}
	res.Version = clip(ov.RabbitMQVersion, 40)
	if ov.ProductName != "" {
		res.Product = clip(ov.ProductName, 64)
	}
	res.Status = ajar.StatusExposed
	exp := &ajar.Exposure{Plugin: "rabbitmq", Access: ajar.AccessDefaultCreds, Datasets: []ajar.Dataset{}}
	res.Exposure = exp

	var vhosts []struct {
		Name string `json:"name"`
	}
	if r, err = get("/api/vhosts", &vhosts); err != nil {
		return res, err
	}
	if r.Status != http.StatusOK {
		return res, httpc.Unexpected(http.MethodGet, "/api/vhosts", r)
	}

	max := t.Options.MaxDatasets
	if max <= 0 {
		max = probe.DefaultOptions().MaxDatasets
	}
	var first []byte
	for page := 1; len(exp.Datasets) < max; page++ {
		target := "/api/queues?page=" + strconv.Itoa(page) + "&page_size=" + strconv.Itoa(pageSize) +
			"&columns=vhost,name,messages,message_bytes"
		var p queuePage
		if r, err = get(target, &p); err != nil {
			return res, err
		}
		if r.Status != http.StatusOK {
			return res, httpc.Unexpected(http.MethodGet, target, r)
		}
		if page == 1 {
			first = r.Body
		}
		for _, q := range p.Items {
			if len(exp.Datasets) == max {
				break
			}
			exp.Datasets = append(exp.Datasets, ajar.Dataset{Name: queueName(q.VHost, q.Name), Records: max64(q.Messages), Bytes: max64(q.MessageBytes)})
		}
		if page >= p.PageCount || len(p.Items) == 0 {
			break
		}
	}
	exp.Total()
	exp.Evidence = &ajar.Evidence{
		Request:  "GET /api/queues (as " + defaultUser + "/" + defaultPassword + ")",
		Response: clip(fmt.Sprintf("%d vhosts, %d queues; ", len(vhosts), len(exp.Datasets))+httpc.Excerpt(first, evidenceMax), evidenceMax),
	}
	return res, nil
}

// queueName names a queue's dataset "vhost/queue"; the default vhost "/"
// gives "/queue".
func queueName(vhost, name string) string {
	if vhost == "/" {
		return clip("/"+name, 512)
	}
	return clip(vhost+"/"+name, 512)
}

func max64(n int64) int64 { return max(n, 0) }
