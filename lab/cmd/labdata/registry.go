package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/ajar-scan/ajar/lab"
)

// errMismatch: the registry does not hold what the lab seeds.
var errMismatch = errors.New("registry content differs from the lab's")

// The media types of an image manifest, schema 2.
// https://distribution.github.io/distribution/spec/manifest-v2-2/
const (
	manifestType = "application/vnd.docker.distribution.manifest.v2+json"
	configType   = "application/vnd.docker.container.image.v1+json"
	layerType    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// registry talks to one lab registry over its HTTP API (no proxy: it is on
// loopback).
type registry struct {
	base           string
	user, password string
	hc             *http.Client
}

func newRegistry(addr, user, password string) (*registry, error) {
	if addr == "" {
		return nil, fmt.Errorf("-addr is required: %w", errUsage)
	}
	return &registry{
		base: "http://" + addr, user: user, password: password,
		hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}},
	}, nil
}

func (r *registry) do(method, target, ctype string, body []byte) (*http.Response, []byte, error) {
	u := target
	if !isAbsolute(target) {
		u = r.base + target
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if method == http.MethodGet {
		req.Header.Set("Accept", manifestType)
	}
	if r.user != "" {
		req.SetBasicAuth(r.user, r.password)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, b, err
}

func isAbsolute(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs()
}

// pushBlob uploads a blob unless the repository has it: POST to open an
// upload, PUT its location with the digest.
// https://distribution.github.io/distribution/spec/api/#pushing-an-image
func (r *registry) pushBlob(repo string, data []byte) (string, error) {
	sum := sha256.Sum256(data)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	resp, _, err := r.do(http.MethodHead, "/v2/"+repo+"/blobs/"+digest, "", nil)
	if err != nil {
		return "", err
	}
	if resp.StatusCode == http.StatusOK {
		return digest, nil
	}
	resp, body, err := r.do(http.MethodPost, "/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("POST upload to %s: HTTP %d: %s", repo, resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return "", fmt.Errorf("upload location: %w", err)
	}
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()
	resp, body, err = r.do(http.MethodPut, loc.String(), "application/octet-stream", data)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("PUT blob to %s: HTTP %d: %s", repo, resp.StatusCode, body)
	}
	return digest, nil
}

// image returns the config and layer of a small image for repo:tag.
func image(repo, tag string) (config, layer []byte) {
	layer = tarGz("etc/app/release", []byte(repo+" "+tag+"\n"))
	raw := untarGz(repo, tag)
	sum := sha256.Sum256(raw)
	config, _ = json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      lab.SeededAt().Format(time.RFC3339),
		"config": map[string]any{
			"Env":    []string{"APP_ENV=production", "DB_HOST=db-prod-07.internal.corp"},
			"Labels": map[string]string{"org.opencontainers.image.version": tag, "org.opencontainers.image.title": repo},
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(sum[:])}},
	})
	return config, layer
}

// registryPush pushes every lab repository and tag.
func registryPush(addr, user, password string) error {
	r, err := newRegistry(addr, user, password)
	if err != nil {
		return err
	}
	for _, repo := range lab.RegistryRepositories() {
		for _, tag := range repo.Tags {
			config, layer := image(repo.Name, tag)
			cd, err := r.pushBlob(repo.Name, config)
			if err != nil {
				return err
			}
			ld, err := r.pushBlob(repo.Name, layer)
			if err != nil {
				return err
			}
			m, _ := json.Marshal(map[string]any{
				"schemaVersion": 2,
				"mediaType":     manifestType,
				"config":        map[string]any{"mediaType": configType, "size": len(config), "digest": cd},
				"layers":        []any{map[string]any{"mediaType": layerType, "size": len(layer), "digest": ld}},
			})
			resp, body, err := r.do(http.MethodPut, "/v2/"+repo.Name+"/manifests/"+tag, manifestType, m)
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusCreated {
				return fmt.Errorf("PUT manifest %s:%s: HTTP %d: %s", repo.Name, tag, resp.StatusCode, body)
			}
		}
	}
	return nil
}

// registryCheck compares the catalog and the tags with the lab's.
func registryCheck(addr, user, password string) error {
	r, err := newRegistry(addr, user, password)
	if err != nil {
		return err
	}
	resp, body, err := r.do(http.MethodGet, "/v2/_catalog?n=1000", "", nil)
	if err != nil {
		return err
	}
	var cat struct{ Repositories []string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &cat) != nil {
		return fmt.Errorf("GET /v2/_catalog: HTTP %d: %w", resp.StatusCode, errMismatch)
	}
	want := lab.RegistryRepositories()
	if len(cat.Repositories) != len(want) {
		return fmt.Errorf("%d repositories, want %d: %w", len(cat.Repositories), len(want), errMismatch)
	}
	for i, repo := range want {
		if cat.Repositories[i] != repo.Name {
			return fmt.Errorf("repository %q, want %q: %w", cat.Repositories[i], repo.Name, errMismatch)
		}
		resp, body, err := r.do(http.MethodGet, "/v2/"+repo.Name+"/tags/list", "", nil)
		if err != nil {
			return err
		}
		var tl struct{ Tags []string }
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tl) != nil {
			return fmt.Errorf("tags of %s: HTTP %d: %w", repo.Name, resp.StatusCode, errMismatch)
		}
		slices.Sort(tl.Tags)
		if !slices.Equal(tl.Tags, repo.Tags) {
			return fmt.Errorf("tags of %s: %v, want %v: %w", repo.Name, tl.Tags, repo.Tags, errMismatch)
		}
	}
	return nil
}
