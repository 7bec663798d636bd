//go:build linux

package rootfs

import (
	"os"
	"path/filepath"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
)

// BenchmarkOpenReadClose opens, reads and closes a file two directories
// down, through FS and through wazero's DirFS (which Keep used before):
// the price of resolving each component beneath the root.
func BenchmarkOpenReadClose(b *testing.B) {
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "b", "f"), make([]byte, 4096), 0o644); err != nil {
		b.Fatal(err)
	}
	rfs, err := New(dir, false)
	if err != nil {
		b.Fatal(err)
	}
	defer rfs.Close()
	for _, c := range []struct {
		name string
		fs   experimentalsys.FS
	}{{"rootfs", rfs}, {"wazero-DirFS", sysfs.DirFS(dir)}} {
		b.Run(c.name, func(b *testing.B) {
			buf := make([]byte, 4096)
			for b.Loop() {
				f, e := c.fs.OpenFile("a/b/f", experimentalsys.O_RDONLY, 0)
				if e != 0 {
					b.Fatal(e)
				}
				if _, e := f.Read(buf); e != 0 {
					b.Fatal(e)
				}
				f.Close()
			}
		})
	}
}
