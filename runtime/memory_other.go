//go:build !linux

package runtime

import "github.com/tetratelabs/wazero/experimental"

// newGuestMemory is nil off Linux: wazero's default, a Go slice per memory.
var newGuestMemory func(capHint, maxBytes uint64) experimental.LinearMemory
