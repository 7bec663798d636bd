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
	wasm, err := readAllLimited(f, MaxModuleSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
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

// errTooLarge is returned by readAllLimited; its text follows the path.
type errTooLarge struct{ limit int64 }

func (e errTooLarge) Error() string { return fmt.Sprintf("larger than %d bytes", e.limit) }

// readAllLimited reads f to its end, refusing more than limit bytes. The
// buffer is allocated once, at the size f has now, and filled in place:
// io.ReadAll would grow it by doubling, copying and clearing several times
// (for a 10 MB cache entry, a third of a warm start). A file that grows
// while it is read is still read to its end, within limit; one that
// shrinks gives what it still holds.
func readAllLimited(f *os.File, limit int64) ([]byte, error) {
	var size int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	if size > limit {
		return nil, errTooLarge{limit}
	}
	data := make([]byte, size)
	n, err := io.ReadFull(f, data)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return data[:n], nil // shrank since the stat
	case err != nil:
		return nil, err
	}
	// Normally at EOF now: one read of a byte confirms it. Anything more
	// (a file that grew, or not a regular file) is read on, within limit.
	var probe [1]byte
	m, err := f.Read(probe[:])
	if m == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			return data, nil
		}
		return nil, err
	}
	rest, err := io.ReadAll(io.LimitReader(f, limit-size))
	if err != nil {
		return nil, err
	}
	data = append(append(data, probe[0]), rest...)
	if int64(len(data)) > limit {
		return nil, errTooLarge{limit}
	}
	return data, nil
}
