// Package registrytest starts a real OCI registry for tests: the CNCF
// reference registry (github.com/distribution/distribution/v3), in
// process, with in-memory storage, on a loopback port.
//
// It is imported by tests only; nothing in the keep binary may import it.
package registrytest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"           // basic auth
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory" // storage
)

// Options configure a test registry.
type Options struct {
	// User and Password, if set, require HTTP basic auth (htpasswd).
	User, Password string
	// Wrap, if set, wraps the registry's handler: a test's tampering
	// middleware sees every request first.
	Wrap func(http.Handler) http.Handler
}

// Registry is a running registry.
type Registry struct {
	// Server is the HTTP server; Host is its host:port on 127.0.0.1.
	Server *httptest.Server
	Host   string
	o      Options
}

// Start starts a registry and stops it when the test ends.
func Start(t testing.TB, o Options) *Registry {
	t.Helper()
	logrus.SetOutput(io.Discard) // distribution logs every request
	cfg := &configuration.Configuration{}
	cfg.Storage = configuration.Storage{"inmemory": configuration.Parameters{}}
	cfg.Log.AccessLog.Disabled = true
	cfg.Log.Level = "error"
	cfg.HTTP.Secret = "registrytest"
	if o.User != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(o.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "htpasswd")
		if err := os.WriteFile(path, []byte(o.User+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "registrytest", "path": path}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var h http.Handler = handlers.NewApp(ctx, cfg)
	if o.Wrap != nil {
		h = o.Wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		cancel()
	})
	return &Registry{Server: srv, Host: strings.TrimPrefix(srv.URL, "http://"), o: o}
}

// repo is an oras client for repository name, with the registry's login.
func (r *Registry) repo(t testing.TB, name string) *remote.Repository {
	t.Helper()
	repo, err := remote.NewRepository(r.Host + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	if r.o.User != "" {
		repo.Client = &auth.Client{Credential: auth.StaticCredential(r.Host, auth.Credential{Username: r.o.User, Password: r.o.Password})}
	}
	return repo
}

// PushBlob pushes data to repository name as a blob of media type mt,
// bypassing any check on what it is: how a test publishes what other
// tools (or attackers) might.
func (r *Registry) PushBlob(t testing.TB, name, mt string, data []byte) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
	if err := r.repo(t, name).Blobs().Push(context.Background(), d, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return d
}

// PushManifest pushes v, marshalled to JSON, as a manifest of repository
// name tagged tag; its media type is its own mediaType field.
func (r *Registry) PushManifest(t testing.TB, name, tag string, v any) digest.Digest {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var head struct{ MediaType string }
	json.Unmarshal(data, &head)
	d := ocispec.Descriptor{MediaType: head.MediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	if err := r.repo(t, name).PushReference(context.Background(), d, bytes.NewReader(data), tag); err != nil {
		t.Fatal(err)
	}
	return d.Digest
}

// Tamper is a middleware that serves altered bytes (alter's result, with
// a matching Content-Length) whenever blob d is fetched: a registry, or a
// network path, that is not to be trusted.
func Tamper(d digest.Digest, alter func([]byte) []byte) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method != http.MethodGet || !strings.HasSuffix(req.URL.Path, "/blobs/"+d.String()) {
				next.ServeHTTP(w, req)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, req)
			body := alter(rec.Body.Bytes())
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(rec.Code)
			w.Write(body)
		})
	}
}

// ServeManifest is a middleware that answers requests for manifest
// .../manifests/tag with body, of media type mt, as the registry itself
// would not (e.g. a manifest over its 4 MiB limit).
func ServeManifest(tag, mt string, body []byte) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if !strings.HasSuffix(req.URL.Path, "/manifests/"+tag) {
				next.ServeHTTP(w, req)
				return
			}
			w.Header().Set("Content-Type", mt)
			w.Header().Set("Docker-Content-Digest", digest.FromBytes(body).String())
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			if req.Method != http.MethodHead {
				w.Write(body)
			}
		})
	}
}
