package runtime

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxModuleSize is the largest module Keep loads, in bytes. It is the
// limit Enarx applies to a package's main.wasm.
const MaxModuleSize = 100_000_000

// wasmMagic starts every WebAssembly binary module (core spec, section
// "Binary Format / Modules": magic \0asm followed by version 1).
var wasmMagic = []byte{0x00, 0x61, 0x73, 0x6d}

// Digest is the SHA-384 of a module's exact bytes. It identifies the
// workload: it is what Keep binds into attestation evidence.
type Digest [sha512.Size384]byte

// DigestPrefix names the hash in a Digest's text form.
const DigestPrefix = "sha384:"

// DigestOf returns the digest of module bytes.
func DigestOf(wasm []byte) Digest { return sha512.Sum384(wasm) }

// String returns the digest as "sha384:<96 hex digits>".
func (d Digest) String() string { return DigestPrefix + hex.EncodeToString(d[:]) }

// ParseDigest parses the text form written by Digest.String.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	h, ok := strings.CutPrefix(s, DigestPrefix)
	if !ok {
		return d, fmt.Errorf("digest %q: want %s<hex>", s, DigestPrefix)
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != len(d) {
		return d, fmt.Errorf("digest %q: want %d hex digits after %s", s, 2*len(d), DigestPrefix)
	}
	copy(d[:], b)
	return d, nil
}

// ErrNotWasm is returned for input that is not a WebAssembly binary.
var ErrNotWasm = errors.New("not a WebAssembly module (no \\0asm magic)")

// ReadModule reads a module file, enforcing MaxModuleSize and checking the
// WebAssembly magic. Errors name the path.
func ReadModule(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not a module", path)
	}
	wasm, err := io.ReadAll(io.LimitReader(f, MaxModuleSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(wasm) > MaxModuleSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxModuleSize)
	}
	if err := CheckMagic(wasm); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return wasm, nil
}

// CheckMagic reports whether wasm starts like a WebAssembly binary.
func CheckMagic(wasm []byte) error {
	if !bytes.HasPrefix(wasm, wasmMagic) {
		return ErrNotWasm
	}
	if len(wasm) < 8 {
		return errors.New("truncated WebAssembly module (no version)")
	}
	return nil
}
