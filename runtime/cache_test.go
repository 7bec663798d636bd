package runtime

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestOpenDiskCacheKeyPlacement(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "cache")
	for _, key := range []string{
		filepath.Join(dir, "key"),
		filepath.Join(dir, "sub", "key"),
		filepath.Join(base, "other", "..", "cache", "key"),
	} {
		if _, err := OpenDiskCache(dir, key); err == nil || !strings.Contains(err.Error(), "must not be inside the cache dir") {
			t.Errorf("OpenDiskCache(%s, %s) = %v; want a refusal", dir, key, err)
		}
		if _, err := os.Stat(key); err == nil {
			t.Errorf("key %s was created although refused", key)
		}
	}
	// A sibling whose name starts with the cache dir's name is not inside it.
	if _, err := OpenDiskCache(dir, filepath.Join(base, "cache2", "key")); err != nil {
		t.Errorf("key in a sibling directory: %v", err)
	}
	if _, err := OpenDiskCache("", filepath.Join(base, "k")); err == nil {
		t.Error("OpenDiskCache with an empty dir: no error")
	}
}

func TestOpenDiskCacheKeyFile(t *testing.T) {
	base := t.TempDir()
	dir, keyFile := filepath.Join(base, "cache"), filepath.Join(base, "keys", "cache.key")
	c, err := OpenDiskCache(dir, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 32 || bytes.Equal(key, make([]byte, 32)) || !bytes.Equal(key, c.key) {
		t.Errorf("created key %x (in use %x): want 32 random bytes", key, c.key)
	}
	for p, want := range map[string]os.FileMode{keyFile: 0o600, dir: 0o700 | os.ModeDir} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode()&(os.ModeDir|os.ModePerm) != want {
			t.Errorf("%s has mode %v, want %v", p, st.Mode(), want)
		}
	}
	// Reopening reads the same key.
	c2, err := OpenDiskCache(dir, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c2.key, key) {
		t.Errorf("reopened cache uses key %x, want %x", c2.key, key)
	}

	for _, n := range []int{0, 10, 31, 33, 64} {
		bad := filepath.Join(base, "bad.key")
		if err := os.WriteFile(bad, make([]byte, n), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := OpenDiskCache(dir, bad)
		if want := "want 32 bytes, found " + strconv.Itoa(n); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("key of %d bytes: %v; want an error containing %q", n, err, want)
		}
	}
}

// cacheFixture is a disk cache in a test's temporary directory, with the
// module the tests compile through it.
type cacheFixture struct {
	t             *testing.T
	dir           string
	keyFile       string
	wasm          []byte
	log           *logRecorder
	interruptible bool // compile with EngineConfig.Interruptible
}

func newCacheFixture(t *testing.T) *cacheFixture {
	base := t.TempDir()
	// Compile unpacks entries into os.MkdirTemp("", "keep-cc-"); a private
	// TMPDIR lets the tests check that nothing is left behind.
	t.Setenv("TMPDIR", filepath.Join(base, "tmp"))
	if err := os.Mkdir(filepath.Join(base, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	return &cacheFixture{
		t:       t,
		dir:     filepath.Join(base, "cache"),
		keyFile: filepath.Join(base, "cache.key"),
		wasm:    wat(t, watExit(42)),
		log:     &logRecorder{},
	}
}

func (f *cacheFixture) entryPath() string {
	return filepath.Join(f.dir, versionDir(), entryName(cacheIDOf(f.wasm), f.interruptible))
}

func (f *cacheFixture) entry() []byte {
	f.t.Helper()
	b, err := os.ReadFile(f.entryPath())
	if err != nil {
		f.t.Fatalf("cache entry: %v", err)
	}
	return b
}

// compileAndRun opens the cache with keyFile, compiles the module on a new
// Engine, runs it (it must exit 42) and closes everything, returning what
// was logged.
func (f *cacheFixture) compileAndRun(keyFile string) *logRecorder {
	t := f.t
	t.Helper()
	f.log.reset()
	dc, err := OpenDiskCache(f.dir, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(EngineConfig{Cache: dc, Logger: slog.New(f.log), Interruptible: f.interruptible})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	m, err := e.Compile(context.Background(), "exit42.wasm", f.wasm)
	if err != nil {
		t.Fatalf("Compile: %v (log: %s)", err, f.log)
	}
	code, err := m.Run(context.Background(), RunConfig{})
	m.Close(context.Background())
	if err != nil || code != 42 {
		t.Fatalf("Run = %d, %v; want 42 (log: %s)", code, err, f.log)
	}
	left, _ := filepath.Glob(filepath.Join(os.Getenv("TMPDIR"), "keep-cc-*"))
	if len(left) > 0 {
		t.Errorf("temporary cache directories left behind: %q", left)
	}
	return f.log
}

func TestDiskCacheStoreAndHit(t *testing.T) {
	f := newCacheFixture(t)
	if _, err := os.Stat(f.entryPath()); !os.IsNotExist(err) {
		t.Fatalf("entry exists before the first compile: %v", err)
	}

	log := f.compileAndRun(f.keyFile)
	if !log.has("compilation cache miss") || log.has("compilation cache hit") {
		t.Errorf("first compile: log %q, want a miss", log)
	}
	first := f.entry()
	header := entryHeader(versionDir(), cacheIDOf(f.wasm), false)
	if !bytes.HasPrefix(first, header) || len(first) <= len(header)+cacheTrailer {
		t.Fatalf("entry does not start with %q or is empty (%d bytes)", header, len(first))
	}
	if st, err := os.Stat(f.entryPath()); err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Errorf("entry mode: %v, %v; want no group/other access", st.Mode(), err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(filepath.Dir(f.entryPath()), ".tmp-*")); len(tmp) > 0 {
		t.Errorf("temporary entry files left: %q", tmp)
	}

	// A new Engine (as in a new process) with the same cache hits and
	// leaves the entry as it was.
	for i := 0; i < 2; i++ {
		log = f.compileAndRun(f.keyFile)
		if !log.has("compilation cache hit") || log.has("miss") || log.has("rejected") {
			t.Errorf("compile %d: log %q, want a hit", i+2, log)
		}
		if !bytes.Equal(f.entry(), first) {
			t.Errorf("compile %d changed the entry", i+2)
		}
	}
}

func TestDiskCacheRejectsTamperedEntry(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func([]byte) []byte
	}{
		{"byte in the middle", func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }},
		{"byte of the MAC", func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }},
		{"byte of the nonce", func(b []byte) []byte { b[len(b)-cacheTrailer] ^= 0x01; return b }},
		{"last byte of the file", func(b []byte) []byte { b[len(b)-cacheTrailer-1] ^= 0x01; return b }},
		{"first byte of the file", func(b []byte) []byte { b[fileOffset(b)] ^= 0x01; return b }},
		{"byte of the header", func(b []byte) []byte { b[len(cacheMagic)] ^= 0x20; return b }},
		{"byte of the file name", func(b []byte) []byte { b[fileOffset(b)-9] ^= 0x01; return b }},
		{"file size", func(b []byte) []byte { b[fileOffset(b)-1]--; return b }},
		{"file moved by a byte", func(b []byte) []byte {
			i := fileOffset(b)
			b[i-1]--
			return append(b[:i:i], b[i+1:]...)
		}},
		{"MAC only", func(b []byte) []byte { return b[len(b)-cacheTrailer:] }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-100] }},
		{"appended", func(b []byte) []byte { return append(b, 0) }},
		{"empty", func([]byte) []byte { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCacheFixture(t)
			f.compileAndRun(f.keyFile)
			good := f.entry()
			bad := tc.tamper(bytes.Clone(good))
			if err := os.WriteFile(f.entryPath(), bad, 0o600); err != nil {
				t.Fatal(err)
			}

			log := f.compileAndRun(f.keyFile) // still exits 42
			if !log.has("entry rejected") || log.has("compilation cache hit") {
				t.Fatalf("log %q, want the entry rejected", log)
			}
			// The bad entry was replaced by a fresh one, which the next
			// Engine accepts.
			if bytes.Equal(f.entry(), bad) {
				t.Errorf("the tampered entry was kept")
			}
			if log := f.compileAndRun(f.keyFile); !log.has("compilation cache hit") {
				t.Errorf("after replacement: log %q, want a hit", log)
			}
		})
	}
}

func TestDiskCacheRejectsOtherKey(t *testing.T) {
	f := newCacheFixture(t)
	f.compileAndRun(f.keyFile)
	other := filepath.Join(t.TempDir(), "other.key")
	log := f.compileAndRun(other)
	if !log.has("entry rejected") || log.has("compilation cache hit") {
		t.Fatalf("entry made under another key: log %q, want it rejected", log)
	}
	// The entry now belongs to the other key; the first key rejects it.
	if log := f.compileAndRun(f.keyFile); !log.has("entry rejected") {
		t.Errorf("log %q, want the other key's entry rejected", log)
	}
}

func TestDiskCacheRejectsEntryOfOtherModule(t *testing.T) {
	f := newCacheFixture(t)
	f.compileAndRun(f.keyFile)
	// Put the entry of module A under the name of module B: the MAC is
	// valid, but it binds A's digest, which the header check catches.
	entryA := f.entry()
	// Module B: A plus a custom section (id 0, size 9, name "comment", 1 byte).
	f.wasm = append(bytes.Clone(f.wasm), "\x00\x09\x07comment!"...)
	if err := os.MkdirAll(filepath.Dir(f.entryPath()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.entryPath(), entryA, 0o600); err != nil {
		t.Fatal(err)
	}
	log := f.compileAndRun(f.keyFile)
	if !log.has("entry rejected") || log.has("compilation cache hit") {
		t.Fatalf("log %q, want another module's entry rejected", log)
	}
}

// TestDiskCacheFileNames: even an authentic entry may not name a file
// outside the directory it is unpacked into, or anywhere but where wazero
// puts its files (one directory below it).
func TestDiskCacheFileNames(t *testing.T) {
	for _, name := range []string{"../escape", "/abs", "a/../../escape", "d/../escape", "./escape", "escape", "a/b/c", `a\b`, "a/", "", "d/" + strings.Repeat("x", maxCacheFileName)} {
		t.Run(name, func(t *testing.T) {
			f := newCacheFixture(t)
			e := f.plainEntry()
			if err := os.MkdirAll(filepath.Dir(f.entryPath()), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.entryPath(), sealEntry(t, e, name, []byte("bad")), 0o600); err != nil {
				t.Fatal(err)
			}
			log := f.compileAndRun(f.keyFile)
			if !log.has("entry rejected") {
				t.Errorf("log %q, want the entry rejected", log)
			}
			if _, err := os.Stat(filepath.Join(os.Getenv("TMPDIR"), "escape")); err == nil {
				t.Errorf("a file escaped the unpack directory")
			}
		})
	}
}

// plainEntry returns the fixture module's entry (plain code) in its cache,
// under its key, for sealEntry.
func (f *cacheFixture) plainEntry() *cacheEntry {
	f.t.Helper()
	dc, err := OpenDiskCache(f.dir, f.keyFile)
	if err != nil {
		f.t.Fatal(err)
	}
	return &cacheEntry{c: dc, header: entryHeader(versionDir(), cacheIDOf(f.wasm), false)}
}

// sealEntry returns an authentic entry for e holding data as the file name.
func sealEntry(t *testing.T, e *cacheEntry, name string, data []byte) []byte {
	t.Helper()
	meta := e.entryMeta(name, uint64(len(data)))
	aead, err := e.c.entryAEAD(meta)
	if err != nil {
		t.Fatal(err)
	}
	return append(append(meta, data...), aead.Seal(nil, nil, nil, data)...)
}

// fileOffset returns where the file's bytes start in an entry.
func fileOffset(entry []byte) int {
	h := bytes.Index(entry, []byte("\ncode:"))
	h += bytes.IndexByte(entry[h+1:], '\n') + 2 // end of the header
	return h + 4 + int(binary.BigEndian.Uint32(entry[h:])) + 8
}

// TestDiskCacheRejectsOldFormat: entries of the earlier formats, each
// authentic under the same key file as it was made, are refused and
// replaced: KEEPCC1 (HMAC-SHA256 under the raw key file, header naming the
// SHA-384) and KEEPCC2 (records of files, one GMAC over header and records
// under one derived key).
func TestDiskCacheRejectsOldFormat(t *testing.T) {
	f := newCacheFixture(t)
	f.compileAndRun(f.keyFile)
	good := f.entry()
	key, err := os.ReadFile(f.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	header := entryHeader(versionDir(), cacheIDOf(f.wasm), false)
	// KEEPCC2's records: the same file, framed as KEEPCC3 frames it.
	records := good[len(header) : len(good)-cacheTrailer]
	hmacEntry := func(h string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(h))
		m.Write(records)
		return append(append([]byte(h), records...), m.Sum(nil)...)
	}
	cc2Header := "KEEPCC2\n" + strings.TrimPrefix(string(header), cacheMagic)
	for _, tc := range []struct {
		name  string
		entry []byte
	}{
		{"KEEPCC1", hmacEntry("KEEPCC1\n" + versionDir() + "\n" + DigestOf(f.wasm).String() + "\n")},
		{"KEEPCC2", func() []byte {
			k, err := hkdf.Key(sha256.New, key, nil, "keep compilation cache KEEPCC2 AES-256-GCM", 32)
			if err != nil {
				t.Fatal(err)
			}
			blk, _ := aes.NewCipher(k)
			aead, _ := cipher.NewGCMWithRandomNonce(blk)
			signed := append([]byte(cc2Header), records...)
			return aead.Seal(signed, nil, nil, signed)
		}()},
		// The current header with an HMAC where the GMAC belongs.
		{"KEEPCC3 header, HMAC", hmacEntry(string(header))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(f.entryPath(), tc.entry, 0o600); err != nil {
				t.Fatal(err)
			}
			log := f.compileAndRun(f.keyFile)
			if !log.has("entry rejected") || log.has("compilation cache hit") {
				t.Fatalf("log %q, want the old entry rejected", log)
			}
			if !bytes.HasPrefix(f.entry(), header) {
				t.Errorf("the old entry was not replaced by a new one")
			}
			if log := f.compileAndRun(f.keyFile); !log.has("compilation cache hit") {
				t.Errorf("after replacement: log %q, want a hit", log)
			}
		})
	}
}

// TestDiskCacheInterruptibleEntries: code compiled with and without
// interrupt checks has one entry each, so engines of both kinds sharing a
// cache both hit, and an entry of one kind is refused in place of the
// other (its MAC binds the kind).
func TestDiskCacheInterruptibleEntries(t *testing.T) {
	f := newCacheFixture(t)
	for _, interruptible := range []bool{false, true} {
		f.interruptible = interruptible
		if log := f.compileAndRun(f.keyFile); !log.has("compilation cache miss") {
			t.Errorf("interruptible=%v, first compile: log %q, want a miss", interruptible, log)
		}
	}
	for _, interruptible := range []bool{false, true} {
		f.interruptible = interruptible
		if log := f.compileAndRun(f.keyFile); !log.has("compilation cache hit") {
			t.Errorf("interruptible=%v, second compile: log %q, want a hit", interruptible, log)
		}
	}
	f.interruptible = true
	other := f.entry()
	f.interruptible = false
	if err := os.WriteFile(f.entryPath(), other, 0o600); err != nil {
		t.Fatal(err)
	}
	if log := f.compileAndRun(f.keyFile); !log.has("entry rejected") || log.has("compilation cache hit") {
		t.Errorf("interruptible entry in place of the plain one: log %q, want it rejected", log)
	}
}

// TestDiskCacheKeyIsDerived: an entry's GMAC key is derived from the key
// file and the entry's metadata, not the key file's bytes themselves, so a
// GMAC made for one entry's metadata does not authenticate another's.
func TestDiskCacheKeyIsDerived(t *testing.T) {
	f := newCacheFixture(t)
	e := f.plainEntry()
	dc := e.c
	data := []byte("compiled code")
	meta := e.entryMeta("file", uint64(len(data)))
	own, err := dc.entryAEAD(meta)
	if err != nil {
		t.Fatal(err)
	}
	trailer := own.Seal(nil, nil, nil, data)
	open := func(a cipher.AEAD) error { _, err := a.Open(nil, nil, trailer, data); return err }
	if err := open(own); err != nil {
		t.Fatalf("own seal does not open: %v", err)
	}
	raw, err := newCacheAEADRaw(dc.key)
	if err != nil {
		t.Fatal(err)
	}
	if open(raw) == nil {
		t.Errorf("the entry opens under the raw key file bytes: the key is not derived")
	}
	for _, other := range [][]byte{
		e.entryMeta("filf", uint64(len(data))),
		e.entryMeta("file", uint64(len(data)+1)),
		(&cacheEntry{header: entryHeader(versionDir(), cacheIDOf(f.wasm), true)}).entryMeta("file", uint64(len(data))),
	} {
		a, err := dc.entryAEAD(other)
		if err != nil {
			t.Fatal(err)
		}
		if open(a) == nil {
			t.Errorf("the GMAC made for metadata %q opens under %q", meta, other)
		}
	}
}

// newCacheAEADRaw is AES-256-GCM under key itself, without derivation.
func newCacheAEADRaw(key []byte) (cipher.AEAD, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(blk)
}

// TestDiskCacheLargeModule: a module of 12000 functions (an entry of
// several hundred KiB) hits and runs.
func TestDiskCacheLargeModule(t *testing.T) {
	f := newCacheFixture(t)
	var fns strings.Builder
	for i := 0; i < 12000; i++ {
		fmt.Fprintf(&fns, "(func $f%d (param i32) (result i32) (i32.add (local.get 0) (i32.const %d)))\n", i, i)
	}
	f.wasm = wat(t, watModule(fns.String()+`(func (export "_start") (call $exit (call $f11999 (i32.const -11957))))`))
	if log := f.compileAndRun(f.keyFile); !log.has("compilation cache miss") {
		t.Fatalf("first compile: log %q, want a miss", log)
	}
	if st, err := os.Stat(f.entryPath()); err != nil || st.Size() < 1<<19 {
		t.Fatalf("entry: %v; want over 512 KiB", err)
	}
	for i := 0; i < 3; i++ {
		if log := f.compileAndRun(f.keyFile); !log.has("compilation cache hit") || log.has("miss") {
			t.Errorf("compile %d: log %q, want a hit", i+2, log)
		}
	}
}

// TestDiskCacheEntryWazeroDoesNotUse: an authentic entry whose file is not
// the one wazero looks for (code for another CPU, say) is not used; wazero
// compiles, and the entry is replaced by one that hits.
func TestDiskCacheEntryWazeroDoesNotUse(t *testing.T) {
	f := newCacheFixture(t)
	f.compileAndRun(f.keyFile)
	good := f.entry()
	e := f.plainEntry()
	data := good[fileOffset(good) : len(good)-cacheTrailer]
	if err := os.WriteFile(f.entryPath(), sealEntry(t, e, "wazero-other/0000", data), 0o600); err != nil {
		t.Fatal(err)
	}
	log := f.compileAndRun(f.keyFile)
	if log.has("compilation cache hit") || log.has("rejected") {
		t.Errorf("log %q, want the entry unused, not a hit or a rejection", log)
	}
	if got, want := entryFileName(t, f.entry()), entryFileName(t, good); got != want {
		t.Errorf("the entry holds %q, want it replaced by wazero's %q", got, want)
	}
	if log := f.compileAndRun(f.keyFile); !log.has("compilation cache hit") {
		t.Errorf("after replacement: log %q, want a hit", log)
	}
}

// TestDiskCacheEntryWazeroCannotRead: an authentic entry holding bytes
// that are not wazero's format under wazero's own file name: wazero
// refuses it, the module is compiled once more without it and runs, and the
// entry is replaced by one that hits.
func TestDiskCacheEntryWazeroCannotRead(t *testing.T) {
	f := newCacheFixture(t)
	f.compileAndRun(f.keyFile)
	good := f.entry()
	e := f.plainEntry()
	if err := os.WriteFile(f.entryPath(), sealEntry(t, e, entryFileName(t, good), []byte("not WAZEVO")), 0o600); err != nil {
		t.Fatal(err)
	}
	if log := f.compileAndRun(f.keyFile); !log.has("refused") || log.has("compilation cache hit") { // exits 42
		t.Errorf("log %q, want the unreadable entry refused", log)
	}
	if log := f.compileAndRun(f.keyFile); !log.has("compilation cache hit") {
		t.Errorf("after the unreadable entry: log %q, want a hit", log)
	}
}

// entryFileName returns the name of the file an entry holds.
func entryFileName(t *testing.T, entry []byte) string {
	t.Helper()
	off := fileOffset(entry)
	h := bytes.Index(entry, []byte("\ncode:"))
	h += bytes.IndexByte(entry[h+1:], '\n') + 2
	return string(entry[h+4 : off-8])
}
