package backends

import (
	"fmt"
	"strings"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/sgx"
	"github.com/keepwasm/keep/keeps/sim"
)

// Backend describes one TEE backend.
type Backend struct {
	// Name is what --backend takes: "tdx", "snp", "sgx" or "sim".
	Name string `json:"name"`
	// Hardware is false only for sim.
	Hardware bool `json:"hardware"`
	// Available says whether this machine can use it, and why not.
	Available func() (bool, string) `json:"-"`
	// New returns its attester.
	New func() (keeps.Attester, error) `json:"-"`
}

// Status is a Backend's availability on this machine.
type Status struct {
	Name      string `json:"name"`
	Hardware  bool   `json:"hardware"`
	Available bool   `json:"available"`
	Reason    string `json:"reason"`
}

// All lists the backends in the order auto-selection tries them: hardware
// first, sim last.
func All() []Backend { return all }

var all = []Backend{
	tdxBackend(),
	snpBackend(),
	{Name: "sgx", Hardware: true, Available: sgx.Available, New: func() (keeps.Attester, error) { return &sgx.Attester{}, nil }},
	{Name: "sim", Available: func() (bool, string) {
		return true, "always available; SIMULATED: no TEE, its evidence is refused unless a policy allows simulated evidence"
	}, New: func() (keeps.Attester, error) { return sim.NewAttester() }},
}

// Statuses reports every backend's availability.
func Statuses() []Status {
	out := make([]Status, 0, len(all))
	for _, b := range all {
		ok, why := b.Available()
		out = append(out, Status{Name: b.Name, Hardware: b.Hardware, Available: ok, Reason: why})
	}
	return out
}

// Names lists the backend names, for messages.
func Names() []string {
	n := make([]string, len(all))
	for i, b := range all {
		n[i] = b.Name
	}
	return n
}

// Select returns the attester for name: "auto" picks the first available
// hardware backend, and falls back to sim (fellBack reports it, so the
// caller can warn) unless requireTEE is set. Asking for a backend this
// machine lacks is an error naming the reason.
func Select(name string, requireTEE bool) (att keeps.Attester, chosen string, fellBack bool, err error) {
	if name == "" {
		name = "auto"
	}
	if name == "auto" {
		var why []string
		for _, b := range all {
			if !b.Hardware {
				continue
			}
			if ok, reason := b.Available(); ok {
				a, err := b.New()
				return a, b.Name, false, err
			} else {
				why = append(why, b.Name+": "+reason)
			}
		}
		if requireTEE {
			return nil, "", false, fmt.Errorf("--require-tee: no TEE on this machine (%s)", strings.Join(why, "; "))
		}
		name, fellBack = "sim", true
	}
	for _, b := range all {
		if b.Name != name {
			continue
		}
		if requireTEE && !b.Hardware {
			return nil, "", false, fmt.Errorf("--require-tee refuses the sim backend")
		}
		if ok, reason := b.Available(); !ok {
			return nil, "", false, fmt.Errorf("backend %s is not available on this machine: %s (see 'keep platform info')", name, reason)
		}
		a, err := b.New()
		return a, b.Name, fellBack, err
	}
	return nil, "", false, fmt.Errorf("unknown backend %q (want auto, %s)", name, strings.Join(Names(), ", "))
}
