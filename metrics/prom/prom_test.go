package prom

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/keepwasm/keep/metrics"
)

// Each Sink call moves its series, label values from outside are bounded,
// and the registry is the Registry's own, not the global one.
func TestRegistryCounts(t *testing.T) {
	r := New("api")
	r.ConnOpened("api")
	r.ConnOpened("api")
	r.ConnClosed("api")
	r.ConnLimitReached("api")
	r.Handshake("api", true, 3*time.Millisecond)
	r.Handshake("api", false, time.Second)
	r.PeerVerified(metrics.ReasonAccepted, true)
	r.PeerVerified(metrics.ReasonPolicy, false)
	r.PeerVerified("attacker-chosen\nlabel", false)
	r.GuestEnded(metrics.OutcomeExit, 3)
	r.GuestEnded(metrics.OutcomeTrap, 0)
	r.CacheLookup(true)
	r.CacheLookup(false)
	r.CacheLookup(false)
	r.ModuleFetched(metrics.OutcomeOK)
	for _, tc := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{r.connTotal.WithLabelValues("api"), 2},
		{r.connOpen.WithLabelValues("api"), 1},
		{r.connLimit.WithLabelValues("api"), 1},
		{r.handshakes.WithLabelValues("api", "ok"), 1},
		{r.handshakes.WithLabelValues("api", "failed"), 1},
		{r.verified.WithLabelValues("accepted", "true"), 1},
		{r.verified.WithLabelValues("policy", "false"), 1},
		{r.verified.WithLabelValues("other", "false"), 1},
		{r.guestEnded.WithLabelValues("exit"), 1},
		{r.guestEnded.WithLabelValues("trap"), 1},
		{r.exitCode, 3},
		{r.cache.WithLabelValues("hit"), 1},
		{r.cache.WithLabelValues("miss"), 2},
		{r.oci.WithLabelValues("ok"), 1},
		{r.oci.WithLabelValues("error"), 0},
	} {
		if got := testutil.ToFloat64(tc.c); got != tc.want {
			desc := make(chan *prometheus.Desc, 1)
			tc.c.Describe(desc)
			t.Errorf("%v = %v, want %v", <-desc, got, tc.want)
		}
	}
	if n := testutil.CollectAndCount(r.handshakeDur); n != 1 {
		t.Errorf("handshake histogram series = %d", n)
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "keep_") {
			t.Fatalf("%s is in the global registry", mf.GetName())
		}
	}
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{`keep_connections_total{listener="api"} 2`, `keep_peer_verifications_total{cached="false",result="other"} 1`, "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	if strings.Contains(string(body), "attacker") {
		t.Error("an unbounded label value was exposed")
	}
}

// BenchmarkConnectionEvents is the metrics cost of one TLS connection:
// opened, handshake, closed (go test -bench ConnectionEvents ./metrics/prom).
func BenchmarkConnectionEvents(b *testing.B) {
	r := New("api")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.ConnOpened("api")
			r.Handshake("api", true, time.Millisecond)
			r.ConnClosed("api")
		}
	})
}
