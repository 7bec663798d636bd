package runtime

import (
	"bytes"
	"crypto/sha512"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDigest(t *testing.T) {
	// SHA-384 of the empty string (FIPS 180-4 test vector).
	const empty = "sha384:38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"
	if got := DigestOf(nil).String(); got != empty {
		t.Errorf("DigestOf(nil) = %s, want %s", got, empty)
	}
	// SHA-384("abc").
	const abc = "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
	if got := DigestOf([]byte("abc")).String(); got != DigestPrefix+abc {
		t.Errorf("DigestOf(abc) = %s", got)
	}

	for _, in := range [][]byte{nil, []byte("abc"), []byte("\x00asm\x01\x00\x00\x00")} {
		d := DigestOf(in)
		if d != Digest(sha512.Sum384(in)) {
			t.Errorf("DigestOf(%q) is not SHA-384", in)
		}
		s := d.String()
		if !strings.HasPrefix(s, "sha384:") || len(s) != len("sha384:")+96 || strings.ToLower(s) != s {
			t.Errorf("String() = %q, want sha384: and 96 lower-case hex digits", s)
		}
		back, err := ParseDigest(s)
		if err != nil || back != d {
			t.Errorf("ParseDigest(%q) = %v, %v; want %v", s, back, err, d)
		}
	}

	// Upper-case hex is accepted (hex.DecodeString is case-insensitive).
	d := DigestOf([]byte("abc"))
	if got, err := ParseDigest(DigestPrefix + strings.ToUpper(abc)); err != nil || got != d {
		t.Errorf("ParseDigest(upper case) = %v, %v", got, err)
	}
}

func TestParseDigestErrors(t *testing.T) {
	good := DigestOf([]byte("abc")).String()
	hexPart := strings.TrimPrefix(good, DigestPrefix)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "want sha384:<hex>"},
		{"no prefix", hexPart, "want sha384:<hex>"},
		{"wrong prefix", "sha256:" + hexPart, "want sha384:<hex>"},
		{"upper-case prefix", "SHA384:" + hexPart, "want sha384:<hex>"},
		{"prefix only", DigestPrefix, "want 96 hex digits"},
		{"too short", good[:len(good)-2], "want 96 hex digits"},
		{"too long", good + "00", "want 96 hex digits"},
		{"odd length", good[:len(good)-1], "want 96 hex digits"},
		{"bad hex", good[:len(good)-2] + "zz", "want 96 hex digits"},
		{"space", good + " ", "want 96 hex digits"},
		{"sha256 length", DigestPrefix + strings.Repeat("ab", 32), "want 96 hex digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDigest(tc.in)
			if err == nil {
				t.Fatalf("ParseDigest(%q) = %v, no error", tc.in, d)
			}
			if d != (Digest{}) {
				t.Errorf("ParseDigest(%q) returned a non-zero digest with an error", tc.in)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestCheckMagic(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		notWasm bool
		ok      bool
	}{
		{"module", []byte("\x00asm\x01\x00\x00\x00"), false, true},
		{"module with sections", []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00"), false, true},
		{"component version", []byte("\x00asm\x0d\x00\x01\x00"), false, true}, // only the magic is checked here
		{"nil", nil, true, false},
		{"empty", []byte{}, true, false},
		{"three bytes", []byte("\x00as"), true, false},
		{"text", []byte("(module)"), true, false},
		{"ELF", []byte("\x7fELF\x02\x01\x01\x00"), true, false},
		{"magic only", []byte("\x00asm"), false, false},
		{"seven bytes", []byte("\x00asm\x01\x00\x00"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckMagic(tc.in)
			if tc.ok {
				if err != nil {
					t.Fatalf("CheckMagic = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckMagic = nil, want an error")
			}
			if errors.Is(err, ErrNotWasm) != tc.notWasm {
				t.Errorf("CheckMagic = %v; errors.Is(ErrNotWasm) = %v, want %v", err, !tc.notWasm, tc.notWasm)
			}
		})
	}
}

func TestReadModule(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := []byte("\x00asm\x01\x00\x00\x00")
	p := write("good.wasm", good)
	got, err := ReadModule(p)
	if err != nil || string(got) != string(good) {
		t.Fatalf("ReadModule(good) = %q, %v", got, err)
	}

	missing := filepath.Join(dir, "missing.wasm")
	if _, err := ReadModule(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("ReadModule(missing) = %v; want fs.ErrNotExist naming the path", err)
	}

	sub := filepath.Join(dir, "sub.wasm")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadModule(sub); err == nil || err.Error() != sub+": is a directory, not a module" {
		t.Errorf("ReadModule(dir) = %v", err)
	}

	for _, tc := range []struct {
		name    string
		data    []byte
		notWasm bool
	}{
		{"text.wat", []byte("(module)\n"), true},
		{"empty.wasm", nil, true},
		{"short.wasm", []byte("\x00asm\x01"), false},
	} {
		p := write(tc.name, tc.data)
		_, err := ReadModule(p)
		if err == nil {
			t.Errorf("ReadModule(%s): no error", tc.name)
			continue
		}
		if !strings.HasPrefix(err.Error(), p+": ") {
			t.Errorf("ReadModule(%s) = %q; want it to start with the path", tc.name, err)
		}
		if errors.Is(err, ErrNotWasm) != tc.notWasm {
			t.Errorf("ReadModule(%s) = %v; errors.Is(ErrNotWasm) want %v", tc.name, err, tc.notWasm)
		}
	}
}

func TestReadModuleTooLarge(t *testing.T) {
	// A sparse file just over the limit: ReadModule reads at most
	// MaxModuleSize+1 bytes and refuses it.
	p := filepath.Join(t.TempDir(), "big.wasm")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("\x00asm\x01\x00\x00\x00")); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxModuleSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := ReadModule(p); err == nil || err.Error() != p+": larger than 100000000 bytes" {
		t.Errorf("ReadModule(%d bytes) = %v", MaxModuleSize+1, err)
	}
}

func TestReadAllLimited(t *testing.T) {
	const limit = 100
	dir := t.TempDir()
	for _, n := range []int{0, 1, limit - 1, limit, limit + 1, 3 * limit} {
		data := bytes.Repeat([]byte{'x'}, n)
		// A regular file (read at its stat size) and a pipe (no size).
		p := filepath.Join(dir, fmt.Sprint(n))
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got, fileErr := readAllLimited(f, limit)
		f.Close()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() { w.Write(data); w.Close() }()
		gotPipe, pipeErr := readAllLimited(r, limit)
		r.Close()
		for _, c := range []struct {
			what string
			got  []byte
			err  error
		}{{"file", got, fileErr}, {"pipe", gotPipe, pipeErr}} {
			if n > limit {
				if c.err == nil || c.err.Error() != "larger than 100 bytes" {
					t.Errorf("%s of %d bytes: %d bytes, %v; want \"larger than 100 bytes\"", c.what, n, len(c.got), c.err)
				}
				continue
			}
			if c.err != nil || !bytes.Equal(c.got, data) {
				t.Errorf("%s of %d bytes: %d bytes, %v", c.what, n, len(c.got), c.err)
			}
		}
	}
}
