package prom

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keepwasm/keep/metrics"
)

// Registry is a metrics.Sink that keeps Prometheus metrics:
//
//	keep_connections_open{listener}                 gauge
//	keep_connections_total{listener}                counter
//	keep_connection_limit_reached_total{listener}   counter
//	keep_tls_handshakes_total{listener,result}      counter (result: ok, failed)
//	keep_tls_handshake_duration_seconds{listener}   histogram
//	keep_peer_verifications_total{result,cached}    counter (result: accepted, no_certificate, evidence, policy, other)
//	keep_guest_ended_total{outcome}                 counter (outcome: exit, trap, stopped)
//	keep_guest_exit_code                            gauge (the last exit code)
//	keep_compile_cache_lookups_total{result}        counter (result: hit, miss)
//	keep_oci_fetches_total{result}                  counter (result: ok, error)
//
// and the Go runtime and process collectors. It is safe for concurrent use.
type Registry struct {
	reg *prometheus.Registry

	connOpen     *prometheus.GaugeVec
	connTotal    *prometheus.CounterVec
	connLimit    *prometheus.CounterVec
	handshakes   *prometheus.CounterVec
	handshakeDur *prometheus.HistogramVec
	verified     *prometheus.CounterVec
	guestEnded   *prometheus.CounterVec
	exitCode     prometheus.Gauge
	cache        *prometheus.CounterVec
	oci          *prometheus.CounterVec
}

var _ metrics.Sink = (*Registry)(nil)

// New returns a Registry whose series for the given listeners, and every
// bounded label value, start at zero (so they are scraped before the first
// event).
func New(listeners ...string) *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.connOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "keep_connections_open", Help: "Connections a listener accepted that are not closed yet (queued, handshaking or held by the guest)."}, []string{"listener"})
	r.connTotal = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keep_connections_total", Help: "TCP connections accepted by a listener."}, []string{"listener"})
	r.connLimit = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keep_connection_limit_reached_total", Help: "Times a listener reached its max_connections and stopped accepting until a connection closed."}, []string{"listener"})
	r.handshakes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keep_tls_handshakes_total", Help: "TLS handshakes on a listener, by result."}, []string{"listener", "result"})
	r.handshakeDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "keep_tls_handshake_duration_seconds", Help: "Duration of TLS handshakes on a listener.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"listener"})
	r.verified = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keep_peer_verifications_total", Help: "Checks of peers' RA-TLS certificates against a policy, by result; cached=true when an earlier verification was reused."}, []string{"result", "cached"})
	r.guestEnded = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keep_guest_ended_total", Help: "Guest runs that ended, by outcome."}, []string{"outcome"})
	r.exitCode = prometheus.NewGauge(prometheus.GaugeOpts{Name: "keep_guest_exit_code", Help: "Exit code of the last guest run that exited."})
	r.cache = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keep_compile_cache_lookups_total", Help: "Lookups in the compiled-code cache, by result."}, []string{"result"})
	r.oci = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keep_oci_fetches_total", Help: "Fetches of modules from OCI registries, by result."}, []string{"result"})
	r.reg.MustRegister(r.connOpen, r.connTotal, r.connLimit, r.handshakes, r.handshakeDur, r.verified,
		r.guestEnded, r.exitCode, r.cache, r.oci,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, l := range listeners {
		r.connOpen.WithLabelValues(l)
		r.connTotal.WithLabelValues(l)
		r.connLimit.WithLabelValues(l)
		r.handshakes.WithLabelValues(l, "ok")
		r.handshakes.WithLabelValues(l, "failed")
	}
	for _, reason := range reasons {
		r.verified.WithLabelValues(reason, "false")
		r.verified.WithLabelValues(reason, "true")
	}
	for _, o := range []string{metrics.OutcomeExit, metrics.OutcomeTrap, metrics.OutcomeStopped} {
		r.guestEnded.WithLabelValues(o)
	}
	r.cache.WithLabelValues("hit")
	r.cache.WithLabelValues("miss")
	r.oci.WithLabelValues(metrics.OutcomeOK)
	r.oci.WithLabelValues(metrics.OutcomeError)
	return r
}

var reasons = []string{metrics.ReasonAccepted, metrics.ReasonNoCertificate, metrics.ReasonEvidence, metrics.ReasonPolicy, "other"}

// bounded returns v if it is in allowed, else "other": label values never
// come from outside input.
func bounded(v string, allowed ...string) string {
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	return "other"
}

// Handler serves the metrics in the Prometheus exposition format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}

// Gatherer is the underlying registry, for tests and embedding.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// ConnOpened implements metrics.Sink.
func (r *Registry) ConnOpened(l string) {
	r.connTotal.WithLabelValues(l).Inc()
	r.connOpen.WithLabelValues(l).Inc()
}

// ConnClosed implements metrics.Sink.
func (r *Registry) ConnClosed(l string) { r.connOpen.WithLabelValues(l).Dec() }

// ConnLimitReached implements metrics.Sink.
func (r *Registry) ConnLimitReached(l string) { r.connLimit.WithLabelValues(l).Inc() }

// Handshake implements metrics.Sink.
func (r *Registry) Handshake(l string, ok bool, took time.Duration) {
	res := "failed"
	if ok {
		res = "ok"
	}
	r.handshakes.WithLabelValues(l, res).Inc()
	r.handshakeDur.WithLabelValues(l).Observe(took.Seconds())
}

// PeerVerified implements metrics.Sink.
func (r *Registry) PeerVerified(reason string, cached bool) {
	r.verified.WithLabelValues(bounded(reason, reasons...), strconv.FormatBool(cached)).Inc()
}

// GuestEnded implements metrics.Sink.
func (r *Registry) GuestEnded(outcome string, code uint32) {
	outcome = bounded(outcome, metrics.OutcomeExit, metrics.OutcomeTrap, metrics.OutcomeStopped)
	r.guestEnded.WithLabelValues(outcome).Inc()
	if outcome == metrics.OutcomeExit {
		r.exitCode.Set(float64(code))
	}
}

// CacheLookup implements metrics.Sink.
func (r *Registry) CacheLookup(hit bool) {
	if hit {
		r.cache.WithLabelValues("hit").Inc()
	} else {
		r.cache.WithLabelValues("miss").Inc()
	}
}

// ModuleFetched implements metrics.Sink.
func (r *Registry) ModuleFetched(outcome string) {
	r.oci.WithLabelValues(bounded(outcome, metrics.OutcomeOK, metrics.OutcomeError)).Inc()
}
