package metrics

import "time"

// Sink receives Keep's events. Implementations must be safe for concurrent
// use and cheap: the WASI layer calls them on connection paths. Label
// values are bounded: listener names come from the keep's config, reasons
// and outcomes from the constants below.
type Sink interface {
	// ConnOpened is called when a listener accepts a TCP connection,
	// before any TLS handshake; ConnClosed when it is closed, once.
	ConnOpened(listener string)
	ConnClosed(listener string)
	// ConnLimitReached is called each time a listener has as many open
	// connections as its max_connections and stops accepting until one
	// closes (new clients wait in the kernel's backlog meanwhile).
	ConnLimitReached(listener string)
	// Handshake reports one TLS handshake on a listener: ok or not, and
	// how long it took.
	Handshake(listener string, ok bool, took time.Duration)
	// PeerVerified reports one check of a peer's RA-TLS certificate
	// against a policy: reason is ReasonAccepted or one of the refusal
	// reasons; cached tells that an earlier verification was reused.
	PeerVerified(reason string, cached bool)
	// GuestEnded reports how the guest ended: OutcomeExit (with its exit
	// code), OutcomeTrap or OutcomeStopped.
	GuestEnded(outcome string, code uint32)
	// CacheLookup reports one lookup in the compiled-code cache.
	CacheLookup(hit bool)
	// ModuleFetched reports one fetch of a module from an OCI registry:
	// OutcomeOK or OutcomeError.
	ModuleFetched(outcome string)
}

// Outcomes of GuestEnded and ModuleFetched.
const (
	OutcomeExit    = "exit"
	OutcomeTrap    = "trap"
	OutcomeStopped = "stopped"
	OutcomeOK      = "ok"
	OutcomeError   = "error"
)

// Reasons of PeerVerified.
const (
	// ReasonAccepted: the certificate passed verification and the policy.
	ReasonAccepted = "accepted"
	// ReasonNoCertificate: the peer presented no certificate.
	ReasonNoCertificate = "no_certificate"
	// ReasonEvidence: the certificate or its evidence failed verification.
	ReasonEvidence = "evidence"
	// ReasonPolicy: verified evidence that the policy refused.
	ReasonPolicy = "policy"
)

// Discard returns a Sink that drops every event.
func Discard() Sink { return discard{} }

// Or returns s, or Discard if s is nil.
func Or(s Sink) Sink {
	if s == nil {
		return discard{}
	}
	return s
}

type discard struct{}

func (discard) ConnOpened(string)                     {}
func (discard) ConnClosed(string)                     {}
func (discard) ConnLimitReached(string)               {}
func (discard) Handshake(string, bool, time.Duration) {}
func (discard) PeerVerified(string, bool)             {}
func (discard) GuestEnded(string, uint32)             {}
func (discard) CacheLookup(bool)                      {}
func (discard) ModuleFetched(string)                  {}
