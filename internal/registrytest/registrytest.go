// Package registrytest starts a real OCI registry for tests: the CNCF
// reference registry (github.com/distribution/distribution/v3), in
// process, with in-memory storage, on a loopback port.
//
// It is imported by tests only; nothing in the keep binary may import it.
package registrytest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

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
	return &Registry{Server: srv, Host: strings.TrimPrefix(srv.URL, "http://")}
}
