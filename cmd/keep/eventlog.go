package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/tdx/rtmr"
)

// eventLogReport is what keep verify --event-log found: the log replayed
// against the RTMR3 of the certificate's TDX quote.
type eventLogReport struct {
	File string `json:"file"`
	// OK is true when the log replays to the quote's RTMR3.
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// FromBoot is true when the log accounts for every extend since the
	// TD booted; otherwise Start is RTMR3 when the log began.
	FromBoot bool         `json:"from_boot"`
	Start    string       `json:"start,omitempty"`
	Measured []rtmr.Entry `json:"measured"`
	// Unquoted were logged after the quote (or their extend failed).
	Unquoted []rtmr.Entry `json:"unquoted,omitempty"`
	// ModuleMeasured tells whether the certificate's module hash is among
	// the measured module events.
	ModuleMeasured bool `json:"certificate_module_measured"`
}

// checkEventLog replays the log in path against the RTMR3 of ec. Only a
// quote whose signature verified gives an RTMR3 worth replaying against.
//
// ec is the evidence of a certificate that passed every check
// (netattest.Result.Attested), or nil: evidence that did not is never
// replayed against.
func checkEventLog(path string, ec *keeps.Claims, moduleHash string) (*eventLogReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--event-log: %w", pathErr(err))
	}
	defer f.Close()
	log, err := rtmr.ParseLog(f)
	if err != nil {
		return nil, fmt.Errorf("--event-log %s: %w", path, err)
	}
	r := &eventLogReport{File: path}
	if ec == nil || !ec.SignatureVerified {
		r.Error = "the certificate's evidence did not verify: its RTMR3 proves nothing"
		return r, nil
	}
	m, ok := ec.Measurements["rtmr3"]
	if !ok || len(m) != rtmr.Size {
		r.Error = fmt.Sprintf("the evidence (TEE %s) has no RTMR3: only TDX quotes do", ec.TEE)
		return r, nil
	}
	var v [rtmr.Size]byte
	copy(v[:], m)
	rep, err := rtmr.Replay(log, v)
	if err != nil {
		r.Error = err.Error()
		return r, nil
	}
	r.OK, r.FromBoot, r.Measured, r.Unquoted = true, rep.FromBoot, rep.Measured, rep.Unquoted
	if !rep.FromBoot {
		r.Start = hex.EncodeToString(rep.Start[:])
	}
	for _, e := range rep.Measured {
		if e.Domain == rtmr.DomainKeep && e.Operation == rtmr.OpModule && e.Content == moduleHash {
			r.ModuleMeasured = true
		}
	}
	return r, nil
}

func (r *eventLogReport) print(w io.Writer) {
	p := func(k, format string, a ...any) { fmt.Fprintf(w, "%-14s %s\n", k+":", fmt.Sprintf(format, a...)) }
	if !r.OK {
		p("event log", "%s: REFUSED: %s", r.File, r.Error)
		return
	}
	from := "from boot: every extend of RTMR3 is accounted for"
	if !r.FromBoot {
		from = "from RTMR3 = " + r.Start + " (extends before the log began are unknown)"
	}
	p("event log", "%s replays to the quote's RTMR3, %s", r.File, from)
	for _, e := range r.Measured {
		p("  measured", "%s", e.Text())
	}
	for _, e := range r.Unquoted {
		p("  not quoted", "%s", e.Text())
	}
	p("  module", "the certificate's module is %s", map[bool]string{true: "among the measured modules", false: "NOT among the measured modules"}[r.ModuleMeasured])
}
