package snp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The KDS getter refuses a body over MaxKDSResponse without reading it all.
func TestKDSGetterLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small":
			w.Write([]byte("vcek"))
		case "/exact":
			w.Write(make([]byte, MaxKDSResponse))
		case "/big":
			w.Write(make([]byte, MaxKDSResponse+1))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	g := kdsGetter{client: srv.Client()}
	for _, tc := range []struct {
		path string
		n    int
		err  string
	}{
		{"/small", 4, ""},
		{"/exact", MaxKDSResponse, ""},
		{"/big", 0, "larger than"},
		{"/missing", 0, "status 404"},
	} {
		b, err := g.GetContext(context.Background(), srv.URL+tc.path)
		if tc.err == "" && (err != nil || len(b) != tc.n) || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %d bytes, err %v; want %d, %q", tc.path, len(b), err, tc.n, tc.err)
		}
	}
}
