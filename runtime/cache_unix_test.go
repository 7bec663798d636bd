//go:build unix

package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cacheHangGuard bounds how long a test waits for a compile that opens a
// FIFO; it is not a timing assertion: a keep that does not block finishes
// at once, and one that blocks fails the test instead of hanging it.
const cacheHangGuard = 30 * time.Second

// TestDiskCacheRefusesNonRegularEntries: a FIFO, a symlink (even to a
// genuine entry) or a directory where an entry should be is never read:
// the compile does not block, the thing is removed, the module is
// compiled again and a regular entry takes its place (issue 12, finding
// 7: a FIFO hung keep run forever, --timeout or not).
func TestDiskCacheRefusesNonRegularEntries(t *testing.T) {
	for _, kind := range []string{"fifo", "symlink", "directory"} {
		t.Run(kind, func(t *testing.T) {
			f := newCacheFixture(t)
			f.compileAndRun(f.keyFile)
			good := f.entry()
			p := f.entryPath()
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			switch kind {
			case "fifo":
				if err := syscall.Mkfifo(p, 0o600); err != nil {
					t.Fatal(err)
				}
			case "symlink":
				genuine := filepath.Join(t.TempDir(), "entry")
				if err := os.WriteFile(genuine, good, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(genuine, p); err != nil {
					t.Fatal(err)
				}
			case "directory":
				if err := os.Mkdir(p, 0o700); err != nil {
					t.Fatal(err)
				}
			}

			done, hung := make(chan struct{}), make(chan bool, 1)
			go func() {
				select {
				case <-done:
					hung <- false
				case <-time.After(cacheHangGuard):
					// Give a blocked open its writer, so that the test
					// ends and reports the hang.
					if w, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
						w.Close()
					}
					hung <- true
				}
			}()
			log := f.compileAndRun(f.keyFile)
			close(done)
			if <-hung {
				t.Fatalf("compiling blocked on the %s planted as the cache entry", kind)
			}
			if !log.has("entry rejected") || log.has("compilation cache hit") {
				t.Errorf("log %q, want the %s rejected", log, kind)
			}
			st, err := os.Lstat(p)
			if err != nil || !st.Mode().IsRegular() {
				t.Fatalf("entry after the compile: %v, %v; want a regular file", st, err)
			}
			if log := f.compileAndRun(f.keyFile); !log.has("compilation cache hit") {
				t.Errorf("after replacement: log %q, want a hit", log)
			}
		})
	}
}

// TestOpenDiskCacheRefusesFIFOKey: a FIFO as the key file is an error at
// once, not a read that waits for a writer.
func TestOpenDiskCacheRefusesFIFOKey(t *testing.T) {
	base := t.TempDir()
	key := filepath.Join(base, "cache.key")
	if err := syscall.Mkfifo(key, 0o600); err != nil {
		t.Fatal(err)
	}
	type result struct{ err error }
	res := make(chan result, 1)
	go func() {
		_, err := OpenDiskCache(filepath.Join(base, "cache"), key)
		res <- result{err}
	}()
	select {
	case r := <-res:
		if !errors.Is(r.err, errNotRegular) || !strings.Contains(r.err.Error(), key) {
			t.Errorf("OpenDiskCache with a FIFO key: %v; want a not-a-regular-file error naming it", r.err)
		}
	case <-time.After(cacheHangGuard):
		if w, err := os.OpenFile(key, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		t.Fatal("OpenDiskCache blocked reading a FIFO key file")
	}
}
