//go:build !linux

package runtime

import "github.com/tetratelabs/wazero/experimental"

// guestMemory is nil off Linux: wazero's default, a Go slice per memory.
var guestMemory experimental.MemoryAllocator
