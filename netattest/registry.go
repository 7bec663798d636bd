package netattest

import (
	"sync"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/sim"
)

// DefaultRegistry returns the verifiers Keep ships, by evidence tag. The
// sim verifier is always present: whether sim evidence is acceptable is the
// policy's decision (and by default it is not).
var DefaultRegistry = sync.OnceValue(func() *keeps.Registry {
	r := &keeps.Registry{}
	r.Register(sim.Verifier{})
	registerBackends(r)
	return r
})
