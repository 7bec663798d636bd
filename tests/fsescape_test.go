package tests

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// These tests run a real guest (testdata/guests/fsprobe) through the keep
// binary and try to leave its --dir as an attacker would: through a
// symlink the guest makes, symlinks the host left in the directory (in
// writable and read-only dirs), and a symlink swapped in while the guest
// opens files. Nothing outside the directory may be read or changed, and
// a read-only dir may not change at all. (internal/rootfs has the same at
// the filesystem level, with every operation.)

// outsideSecret is the content of the file the guest must never read.
const outsideSecret = "OUTSIDE-SECRET"

// buildFSProbe builds the fsprobe guest once per test run.
func buildFSProbe(t *testing.T) string {
	t.Helper()
	guest := filepath.Join(buildDir, "fsprobe.wasm")
	guestMu.Lock()
	defer guestMu.Unlock()
	if _, err := os.Stat(guest); err == nil {
		return guest
	}
	if out, err := goBuild(guest, "./tests/testdata/guests/fsprobe", []string{"GOOS=wasip1", "GOARCH=wasm"}); err != nil {
		t.Fatalf("building fsprobe: %v\n%s", err, out)
	}
	return guest
}

// escapeLayout makes base/outside/secret and base/dir, the guest's
// directory, and returns base.
func escapeLayout(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	for _, d := range []string{"outside", "dir/sub"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(base, "outside"), "secret", outsideSecret)
	writeFile(t, filepath.Join(base, "dir"), "file", "inside")
	writeFile(t, filepath.Join(base, "dir", "sub"), "inner", "inner")
	return base
}

// tree lists every name under dir with its type, size and modification
// time.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		lines = append(lines, strings.Join([]string{rel, fi.Mode().String(), fi.ModTime().String(), string(rune('0' + fi.Size()%10))}, " "))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// probeLines runs fsprobe with steps and returns its output line per step.
func probeLines(t *testing.T, dirArg string, steps ...string) map[string]string {
	t.Helper()
	r := keepGuarded(t, "", nil, append([]string{"run", "--dir", dirArg, buildFSProbe(t)}, steps...)...)
	checkNoCrash(t, r)
	if r.code != 0 {
		t.Fatalf("fsprobe exited %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, outsideSecret) {
		t.Errorf("the guest read the file outside its directory:\n%s", r.stdout)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		for _, s := range steps {
			if rest, ok := strings.CutPrefix(line, s+": "); ok {
				out[s] = rest
			}
		}
	}
	for _, s := range steps {
		if _, ok := out[s]; !ok {
			t.Fatalf("no line for step %q in:\n%s", s, r.stdout)
		}
	}
	return out
}

func wantErr(t *testing.T, lines map[string]string, steps ...string) {
	t.Helper()
	for _, s := range steps {
		if !strings.HasPrefix(lines[s], "err ") {
			t.Errorf("%s: %s, want an error", s, lines[s])
		}
	}
}

func wantOK(t *testing.T, lines map[string]string, step, content string) {
	t.Helper()
	if got := lines[step]; got != strings.TrimSpace("ok "+content) && got != "ok "+content {
		t.Errorf("%s: %s, want ok %s", step, got, content)
	}
}

// TestGuestMadeSymlinkEscape: a guest with a writable dir makes
// `root -> ../../../..` and reads and creates files through it (issue 12,
// finding 2). The host also leaves such a link, to show that following
// one is refused, not only making it.
func TestGuestMadeSymlinkEscape(t *testing.T) {
	t.Parallel()
	base := escapeLayout(t)
	dir := filepath.Join(base, "dir")
	up := strings.Repeat("../", strings.Count(dir, "/")+2)
	if err := os.Symlink(up, filepath.Join(dir, "hostroot")); err != nil {
		t.Fatal(err)
	}
	before := tree(t, filepath.Join(base, "outside"))
	secret := filepath.Join(base, "outside", "secret")
	steps := []string{
		"symlink|" + up + "|/data/root",
		"read|/data/root" + secret,
		"write|/data/root" + filepath.Join(base, "outside", "pwned") + "|x",
		"read|/data/root/etc/passwd",
		"read|/data/hostroot" + secret,
		"write|/data/hostroot" + filepath.Join(base, "outside", "pwned2") + "|x",
		"read|/data/hostroot/etc/passwd",
		"symlink|/etc|/data/abs",
		"read|/data/abs/passwd",
		// The guest still owns its directory.
		"write|/data/new|hello",
		"read|/data/new",
		"symlink|sub|/data/in",
		"read|/data/in/inner",
	}
	lines := probeLines(t, dir+":/data", steps...)
	wantErr(t, lines, steps[:9]...)
	wantOK(t, lines, "write|/data/new|hello", "")
	wantOK(t, lines, "read|/data/new", "hello")
	wantOK(t, lines, "symlink|sub|/data/in", "")
	wantOK(t, lines, "read|/data/in/inner", "inner")
	if after := tree(t, filepath.Join(base, "outside")); after != before {
		t.Errorf("the guest changed files outside its directory:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestHostPlantedSymlinks: links the host left in the directory
// (`etc -> /etc`-style, absolute, and relative) are not followed out, in
// a writable and in a read-only dir; a read-only dir does not change.
func TestHostPlantedSymlinks(t *testing.T) {
	t.Parallel()
	for _, ro := range []bool{false, true} {
		base := escapeLayout(t)
		dir := filepath.Join(base, "dir")
		outside := filepath.Join(base, "outside")
		for name, target := range map[string]string{"etc": outside, "up": "../outside", "in": "sub"} {
			if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		beforeOut, beforeDir := tree(t, outside), tree(t, dir)
		escapes := []string{
			"read|/data/etc/secret",
			"read|/data/up/secret",
			"write|/data/etc/new|x",
			"write|/data/up/secret|x",
			"mkdir|/data/etc/d",
			"remove|/data/up/secret",
			"rename|/data/file|/data/up/moved",
		}
		writes := []string{
			// Opened for reading, yet creating or truncating (wazero's
			// read-only mounts let both through).
			"createro|/data/created-ro",
			"truncro|/data/sub/inner",
			"write|/data/file|changed",
			"write|/data/in/inner|changed",
			"write|/data/created|x",
			"mkdir|/data/d",
			"remove|/data/file",
			"rename|/data/sub|/data/sub2",
			"symlink|sub|/data/link",
		}
		arg := dir + ":/data"
		if ro {
			arg += ":ro"
		}
		steps := append(append([]string{"read|/data/in/inner"}, escapes...), writes...)
		lines := probeLines(t, arg, steps...)
		wantOK(t, lines, "read|/data/in/inner", "inner")
		wantErr(t, lines, escapes...)
		if ro {
			wantErr(t, lines, writes...)
			if after := tree(t, dir); after != beforeDir {
				t.Errorf("read-only dir changed:\nbefore:\n%s\nafter:\n%s", beforeDir, after)
			}
		} else {
			for _, s := range writes {
				if !strings.HasPrefix(lines[s], "ok") {
					t.Errorf("writable dir: %s: %s", s, lines[s])
				}
			}
		}
		if after := tree(t, outside); after != beforeOut {
			t.Errorf("ro=%v: files outside changed:\nbefore:\n%s\nafter:\n%s", ro, beforeOut, after)
		}
	}
}

// TestGuestSymlinkSwapRace: while the guest reads and creates files under
// /data/flip, the host swaps flip between a directory and a symlink out of
// the directory, atomically (renameat2 RENAME_EXCHANGE), as fast as it
// can. The guest's loops have fixed counts; whichever state each call
// meets, none may read or create anything outside.
func TestGuestSymlinkSwapRace(t *testing.T) {
	t.Parallel()
	base := escapeLayout(t)
	dir := filepath.Join(base, "dir")
	outside := filepath.Join(base, "outside")
	if err := os.Mkdir(filepath.Join(dir, "flip"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "flip"), "secret", "inside")
	// The outside file's content is what the guest counts as OUTSIDE.
	writeFile(t, outside, "secret", "OUTSIDE")
	if err := os.Symlink(outside, filepath.Join(dir, "other")); err != nil {
		t.Fatal(err)
	}
	before := tree(t, outside)
	guest := buildFSProbe(t)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a, b := filepath.Join(dir, "flip"), filepath.Join(dir, "other")
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("renameat2: %v", err)
				return
			}
		}
	}()
	r := keepGuarded(t, "", nil, "run", "--dir", dir+":/data", guest,
		"loopread|/data/flip/secret|2000", "loopwrite|/data/flip/new|500")
	close(stop)
	wg.Wait()
	checkNoCrash(t, r)
	if r.code != 0 {
		t.Fatalf("fsprobe exited %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, " OUTSIDE=0 ") {
		t.Errorf("the guest read outside its directory during the swaps:\n%s", r.stdout)
	}
	if after := tree(t, outside); after != before {
		t.Errorf("files outside changed during the swaps:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	t.Logf("%s", strings.TrimSpace(r.stdout))
}
