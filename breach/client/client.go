// Package client checks an identifier against a breach range API, sending
// only the hash prefix and, in private mode, a blinded element.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ajar-scan/ajar/breach"
	"github.com/ajar-scan/ajar/breach/api"
	"github.com/ajar-scan/ajar/breach/query"
)

// Client talks to one breach API.
type Client struct {
	base *url.URL
	http *http.Client
}

// New returns a client of the API at base (e.g. http://127.0.0.1:8080).
// hc may be nil (http.DefaultClient).
func New(base string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q: want http://HOST:PORT or https://HOST", base)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: u, http: hc}, nil
}

// ServerError is an answer other than 200 OK.
type ServerError struct {
	Status  int
	Message string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Result is the outcome of a check.
type Result struct {
	Kind   breach.Kind `json:"kind"`
	Prefix string      `json:"prefix"`
	// Modes are the modes asked, as the breach list called for.
	Modes []breach.Mode `json:"modes"`
	// Breaches hold the identifier.
	Breaches []breach.Breach `json:"breaches"`
}

// Check looks q up: it reads the breach list to learn in which modes q's
// kind is indexed, then asks the hashed range, the private range or both.
func (c *Client) Check(ctx context.Context, q *query.Query) (*Result, error) {
	var list api.Breaches
	if err := c.do(ctx, http.MethodGet, "/api/v1/breaches", nil, &list); err != nil {
		return nil, fmt.Errorf("read the breach list: %w", err)
	}
	res := &Result{Kind: q.Kind, Prefix: q.Prefix()}
	hashed, private := breach.Modes(list.Breaches, q.Kind)
	var ids []int
	if hashed {
		res.Modes = append(res.Modes, breach.ModeHashed)
		var text string
		if err := c.do(ctx, http.MethodGet, "/api/v1/breach/range/"+q.Prefix(), nil, &text); err != nil {
			return nil, fmt.Errorf("read range %s: %w", q.Prefix(), err)
		}
		got, err := q.MatchHashed(text)
		if err != nil {
			return nil, fmt.Errorf("read range %s: %w", q.Prefix(), err)
		}
		ids = append(ids, got...)
	}
	if private {
		res.Modes = append(res.Modes, breach.ModePrivate)
		req, err := q.Blind()
		if err != nil {
			return nil, err
		}
		var a breach.PrivateAnswer
		if err := c.do(ctx, http.MethodPost, "/api/v1/breach/private/"+q.Prefix(), req, &a); err != nil {
			return nil, fmt.Errorf("ask private range %s: %w", q.Prefix(), err)
		}
		got, err := q.MatchPrivate(a)
		if err != nil {
			return nil, fmt.Errorf("ask private range %s: %w", q.Prefix(), err)
		}
		ids = append(ids, got...)
	}
	for _, b := range list.Breaches {
		if slices.Contains(ids, b.ID) {
			res.Breaches = append(res.Breaches, b)
		}
	}
	return res, nil
}

// do sends a request; out is a *string for text answers, else JSON.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, breach.MaxAnswerBytes))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e breach.Error
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b[:min(len(b), 200)]))
		}
		return &ServerError{Status: resp.StatusCode, Message: e.Error}
	}
	if s, ok := out.(*string); ok {
		*s = string(b)
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}
