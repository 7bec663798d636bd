//go:build wasip1

package main

import "unsafe"

// verifyCSR is Keep's host function keep.verify_csr (docs/CA.md).
//
//go:wasmimport keep verify_csr
func verifyCSR(csr unsafe.Pointer, csrLen uint32, out unsafe.Pointer, outLen uint32, resultLen unsafe.Pointer) uint32
