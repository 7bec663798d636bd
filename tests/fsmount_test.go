package tests

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// wazeroDirMount matches the wazero calls that give a guest a host
// directory through wazero's own filesystem, which follows symlinks out
// of the directory (issue 12, finding 2). Host directories reach guests
// only through internal/rootfs.
var wazeroDirMount = regexp.MustCompile(`\.(WithDirMount|WithReadOnlyDirMount)\(|sysfs\.DirFS\(|sysfs\.ReadFS\{`)

// TestNoWazeroDirMounts keeps it so: no production Go file of the module
// mounts a host directory with wazero's own filesystem.
func TestNoWazeroDirMounts(t *testing.T) {
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "build" || strings.HasPrefix(d.Name(), ".")) && p != repoRoot {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			if wazeroDirMount.MatchString(line) {
				rel, _ := filepath.Rel(repoRoot, p)
				t.Errorf("%s:%d mounts a host directory with wazero's filesystem (use internal/rootfs): %s", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
