package netattest

import (
	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/intel"
)

// registerBackends adds the hardware verifiers.
func registerBackends(r *keeps.Registry) {
	r.Register(intel.NewVerifier())
}
