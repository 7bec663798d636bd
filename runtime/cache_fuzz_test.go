package runtime

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCacheEntry feeds arbitrary bytes to the cache as a module's entry
// (the cache directory may be writable by others: its entries are outside
// bytes). Opening must never panic, never accept anything but the one
// authentic entry, and never leave files outside its private directory.
func FuzzCacheEntry(f *testing.F) {
	base := f.TempDir()
	dc, err := OpenDiskCache(filepath.Join(base, "cache"), filepath.Join(base, "cache.key"))
	if err != nil {
		f.Fatal(err)
	}
	id := cacheIDOf([]byte("\x00asm\x01\x00\x00\x00"))
	e := &cacheEntry{c: dc, header: entryHeader(versionDir(), id, false)}
	data := []byte("WAZEVO compiled code")
	meta := e.entryMeta("wazero-v/0123abcd", uint64(len(data)))
	aead, err := dc.entryAEAD(meta)
	if err != nil {
		f.Fatal(err)
	}
	genuine := append(append(meta, data...), aead.Seal(nil, nil, nil, data)...)
	f.Add(genuine)
	f.Add(genuine[:len(meta)])
	f.Add(append(bytes.Clone(genuine), 0))
	f.Add(bytes.Clone(e.header))

	path := filepath.Join(dc.dir, versionDir(), entryName(id, false))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		f.Fatal(err)
	}
	tmp := filepath.Join(base, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		f.Fatal(err)
	}
	f.Setenv("TMPDIR", tmp)
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, entry []byte) {
		if err := os.WriteFile(path, entry, 0o600); err != nil {
			t.Fatal(err)
		}
		e, err := dc.open(id, false, log)
		if err != nil {
			t.Fatal(err)
		}
		e.finish(nil) // as if wazero had compiled without error
		if e.hit {
			got, err := os.ReadFile(filepath.Join(e.dir, "wazero-v", "0123abcd"))
			if !bytes.Equal(entry, genuine) || err != nil || !bytes.Equal(got, data) {
				t.Errorf("accepted a %d-byte entry that is not the authentic one (file %q, %v)", len(entry), got, err)
			}
		}
		e.release()
		if left, _ := os.ReadDir(tmp); len(left) > 0 {
			t.Errorf("left in TMPDIR: %v", left)
		}
	})
}
