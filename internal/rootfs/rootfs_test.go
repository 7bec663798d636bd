//go:build linux

package rootfs

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"golang.org/x/sys/unix"
)

// layout is a preopen beside a directory the guest must never reach:
//
//	base/outside/secret        "OUTSIDE"
//	base/root/file             "inside"
//	base/root/sub/inner        "inner"
//	base/root/in   -> sub      (stays inside)
//	base/root/up   -> ../outside        (planted by the host)
//	base/root/abs  -> <base>/outside    (planted by the host)
//	base/root/esc  -> ../../../../../../../../.. (planted by the host)
type layout struct {
	base, root, outside string
}

func newLayout(t *testing.T) layout {
	t.Helper()
	base := t.TempDir()
	l := layout{base: base, root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(l.root, "sub"), 0o755))
	must(os.MkdirAll(filepath.Join(l.outside, "dir"), 0o755))
	must(os.WriteFile(filepath.Join(l.outside, "secret"), []byte("OUTSIDE"), 0o644))
	must(os.WriteFile(filepath.Join(l.root, "file"), []byte("inside"), 0o644))
	must(os.WriteFile(filepath.Join(l.root, "sub", "inner"), []byte("inner"), 0o644))
	must(os.Symlink("sub", filepath.Join(l.root, "in")))
	must(os.Symlink("../outside", filepath.Join(l.root, "up")))
	must(os.Symlink(l.outside, filepath.Join(l.root, "abs")))
	must(os.Symlink(strings.Repeat("../", 9), filepath.Join(l.root, "esc")))
	return l
}

// snapshot lists every name under dir with its size and modification
// time, to show that nothing outside (or, read-only, inside) changed.
func snapshot(t *testing.T, dir string) string {
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
		lines = append(lines, rel+" "+fi.Mode().String()+" "+fi.ModTime().Format(time.RFC3339Nano)+" "+string(rune('0'+fi.Size()%10)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func newFS(t *testing.T, dir string, readOnly bool) *FS {
	t.Helper()
	f, err := New(dir, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readAll(t *testing.T, f experimentalsys.File) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 64)
	for {
		n, e := f.Read(buf)
		if e != 0 {
			t.Fatalf("read: %v", e)
		}
		if n == 0 {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

// escapes are the paths and links that lead out of the root, each tried
// with every operation below.
var escapes = []string{
	"up/secret", "abs/secret", "esc" + "/" + "etc/passwd",
	"../outside/secret", "sub/../../outside/secret", "in/../../outside/secret",
	"up/dir/../secret", "up", "abs", "esc",
}

// TestEscapesRefused tries every operation through every escaping path,
// on a writable and a read-only FS: each fails, and nothing outside the
// root changes.
func TestEscapesRefused(t *testing.T) {
	for _, ro := range []bool{false, true} {
		l := newLayout(t)
		f := newFS(t, l.root, ro)
		before := snapshot(t, l.outside)
		for _, p := range escapes {
			// A new name beside a path out of the root is out of it too;
			// beside a link's own name ("up") it would be inside, so it
			// goes under the link instead.
			leaf := p != "up" && p != "abs" && p != "esc"
			child := p + "-new"
			if !leaf {
				child = p + "/new"
			}
			ops := map[string]func() experimentalsys.Errno{
				"open": func() experimentalsys.Errno {
					file, e := f.OpenFile(p, experimentalsys.O_RDONLY, 0)
					if e == 0 {
						file.Close()
					}
					return e
				},
				"stat": func() experimentalsys.Errno { _, e := f.Stat(p); return e },
				"create": func() experimentalsys.Errno {
					file, e := f.OpenFile(child, experimentalsys.O_CREAT|experimentalsys.O_RDWR, 0o644)
					if e == 0 {
						file.Close()
					}
					return e
				},
				"mkdir":   func() experimentalsys.Errno { return f.Mkdir(child, 0o755) },
				"utimens": func() experimentalsys.Errno { return f.Utimens(p, 0, 0) },
				"chmod":   func() experimentalsys.Errno { return f.Chmod(p, 0o777) },
				"rename":  func() experimentalsys.Errno { return f.Rename("file", child) },
				"link":    func() experimentalsys.Errno { return f.Link("file", child) },
				"symlink": func() experimentalsys.Errno { return f.Symlink("file", child) },
			}
			if leaf {
				ops["lstat"] = func() experimentalsys.Errno { _, e := f.Lstat(p); return e }
				ops["unlink"] = func() experimentalsys.Errno { return f.Unlink(p) }
				ops["rmdir"] = func() experimentalsys.Errno { return f.Rmdir(p) }
				ops["rename-from"] = func() experimentalsys.Errno { return f.Rename(p, "stolen") }
				ops["link-from"] = func() experimentalsys.Errno { return f.Link(p, "stolen") }
				ops["readlink"] = func() experimentalsys.Errno { _, e := f.Readlink(p); return e }
			}
			for op, fn := range ops {
				if e := fn(); e == 0 {
					t.Errorf("readOnly=%v: %s %q succeeded", ro, op, p)
				}
			}
		}
		if after := snapshot(t, l.outside); after != before {
			t.Errorf("readOnly=%v: outside changed:\nbefore:\n%s\nafter:\n%s", ro, before, after)
		}
	}
}

// TestEscapeErrno checks the answers WASI expects (wasi-testsuite's
// interesting_paths): a path out of the root is EPERM, whether by "..",
// a leading "..", or a symlink.
func TestEscapeErrno(t *testing.T) {
	l := newLayout(t)
	f := newFS(t, l.root, false)
	for _, p := range []string{"up/secret", "abs/secret", "esc/etc/passwd", "../outside/secret", "sub/../../outside/secret"} {
		if _, e := f.OpenFile(p, experimentalsys.O_RDONLY, 0); e != experimentalsys.EPERM {
			t.Errorf("open %q: %v, want EPERM", p, e)
		}
	}
	// A guest-made link out of the root is refused as it is made.
	for _, target := range []string{"../outside", "/etc", "sub/../..", strings.Repeat("../", 5)} {
		if e := f.Symlink(target, "mine"); e != experimentalsys.EPERM {
			t.Errorf("symlink %q: %v, want EPERM", target, e)
		}
	}
	if e := f.Symlink("../file", "sub/ok"); e != 0 {
		t.Errorf("symlink ../file in sub (stays inside): %v", e)
	}
}

// TestInsideLinks: symlinks that stay inside work, readlink gives the
// text, and O_NOFOLLOW refuses the link itself (ELOOP).
func TestInsideLinks(t *testing.T) {
	l := newLayout(t)
	f := newFS(t, l.root, false)
	file, e := f.OpenFile("in/inner", experimentalsys.O_RDONLY, 0)
	if e != 0 {
		t.Fatalf("open in/inner: %v", e)
	}
	if got := readAll(t, file); got != "inner" {
		t.Errorf("in/inner = %q", got)
	}
	file.Close()
	for p, want := range map[string]string{"in": "sub", "up": "../outside", "abs": l.outside} {
		if got, e := f.Readlink(p); e != 0 || got != want {
			t.Errorf("readlink %s = %q, %v; want %q", p, got, e, want)
		}
	}
	for _, flag := range []experimentalsys.Oflag{0, experimentalsys.O_DIRECTORY} {
		if _, e := f.OpenFile("in", experimentalsys.O_NOFOLLOW|flag, 0); e != experimentalsys.ELOOP && e != experimentalsys.ENOTDIR {
			t.Errorf("open in O_NOFOLLOW|%v: %v, want ELOOP or ENOTDIR", flag, e)
		}
	}
	if st, e := f.Lstat("in"); e != 0 || st.Mode&fs.ModeSymlink == 0 {
		t.Errorf("lstat in: %v %v", st.Mode, e)
	}
	if st, e := f.Stat("in/"); e != 0 || !st.Mode.IsDir() {
		t.Errorf("stat in/: %v %v", st.Mode, e)
	}
	// Unlinking a link removes the link, not its target.
	if e := f.Unlink("in"); e != 0 {
		t.Fatalf("unlink in: %v", e)
	}
	if _, err := os.Stat(filepath.Join(l.root, "sub", "inner")); err != nil {
		t.Errorf("target gone after unlinking the link: %v", err)
	}
}

// TestReadOnly: a read-only FS refuses every write, through a symlink
// too, and the directory is left as it was.
func TestReadOnly(t *testing.T) {
	l := newLayout(t)
	if err := os.Symlink("file", filepath.Join(l.root, "tofile")); err != nil {
		t.Fatal(err)
	}
	f := newFS(t, l.root, true)
	before := snapshot(t, l.root)
	open := func(p string, flag experimentalsys.Oflag) func() experimentalsys.Errno {
		return func() experimentalsys.Errno {
			file, e := f.OpenFile(p, flag, 0o644)
			if e == 0 {
				file.Close()
			}
			return e
		}
	}
	rofs := experimentalsys.EROFS
	for _, c := range []struct {
		name string
		fn   func() experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"open wronly", open("file", experimentalsys.O_WRONLY), rofs},
		{"open rdwr via link", open("tofile", experimentalsys.O_RDWR), rofs},
		{"open trunc", open("file", experimentalsys.O_RDONLY|experimentalsys.O_TRUNC), rofs},
		{"open creat missing", open("new", experimentalsys.O_RDONLY|experimentalsys.O_CREAT), rofs},
		{"open creat excl existing", open("file", experimentalsys.O_RDONLY|experimentalsys.O_CREAT|experimentalsys.O_EXCL), experimentalsys.EEXIST},
		{"open append wronly", open("file", experimentalsys.O_WRONLY|experimentalsys.O_APPEND), rofs},
		{"mkdir", func() experimentalsys.Errno { return f.Mkdir("d", 0o755) }, rofs},
		{"rmdir", func() experimentalsys.Errno { return f.Rmdir("sub") }, rofs},
		{"unlink", func() experimentalsys.Errno { return f.Unlink("file") }, rofs},
		{"unlink link", func() experimentalsys.Errno { return f.Unlink("tofile") }, rofs},
		{"rename", func() experimentalsys.Errno { return f.Rename("file", "moved") }, rofs},
		{"link", func() experimentalsys.Errno { return f.Link("file", "hard") }, rofs},
		{"symlink", func() experimentalsys.Errno { return f.Symlink("file", "soft") }, rofs},
		{"utimens", func() experimentalsys.Errno { return f.Utimens("file", 0, 0) }, rofs},
		{"utimens via link", func() experimentalsys.Errno { return f.Utimens("tofile", 0, 0) }, rofs},
		{"chmod", func() experimentalsys.Errno { return f.Chmod("file", 0o777) }, rofs},
	} {
		if got := c.fn(); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// A file opened for reading cannot be written through its fd either.
	file, e := f.OpenFile("tofile", experimentalsys.O_RDONLY, 0)
	if e != 0 {
		t.Fatalf("open tofile read-only: %v", e)
	}
	defer file.Close()
	if _, e := file.Write([]byte("x")); e != experimentalsys.EBADF {
		t.Errorf("write: %v, want EBADF", e)
	}
	if _, e := file.Pwrite([]byte("x"), 0); e != experimentalsys.EBADF {
		t.Errorf("pwrite: %v, want EBADF", e)
	}
	if e := file.Truncate(0); e != experimentalsys.EBADF {
		t.Errorf("truncate: %v, want EBADF", e)
	}
	if e := file.Utimens(0, 0); e != experimentalsys.EROFS {
		t.Errorf("futimens: %v, want EROFS", e)
	}
	if got := readAll(t, file); got != "inside" {
		t.Errorf("read through link = %q", got)
	}
	if after := snapshot(t, l.root); after != before {
		t.Errorf("read-only root changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestSwapRace flips a name inside the root between a directory and a
// symlink out of it, as fast as another goroutine can, while the FS opens,
// creates and stats files under that name a fixed number of times. No
// call may ever read or create anything outside. (The loop count is fixed
// and nothing waits on time: if the race is lost or won by luck, every
// assertion still holds.)
func TestSwapRace(t *testing.T) {
	l := newLayout(t)
	inner := filepath.Join(l.root, "flip")
	if err := os.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(inner, "secret"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(l.outside, filepath.Join(l.root, "other")); err != nil {
		t.Fatal(err)
	}
	f := newFS(t, l.root, false)
	before := snapshot(t, l.outside)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var swaps int
	wg.Add(1)
	go func() {
		defer wg.Done()
		a, b := filepath.Join(l.root, "flip"), filepath.Join(l.root, "other")
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Exchange "flip" and "other" atomically: "flip" is always
			// either the directory or the link out.
			if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("renameat2: %v", err)
				return
			}
			swaps++
		}
	}()

	const rounds = 3000
	var inside int
	for i := range rounds {
		file, e := f.OpenFile("flip/secret", experimentalsys.O_RDONLY, 0)
		if e == 0 {
			buf := make([]byte, 16)
			n, _ := file.Read(buf)
			file.Close()
			if got := string(buf[:n]); got == "OUTSIDE" {
				t.Fatalf("round %d: read the outside secret", i)
			} else if got == "inside" {
				inside++
			}
		}
		if file, e := f.OpenFile("flip/new", experimentalsys.O_CREAT|experimentalsys.O_WRONLY, 0o644); e == 0 {
			file.Close()
		}
		if st, e := f.Stat("flip/secret"); e == 0 && st.Size == int64(len("OUTSIDE")) {
			t.Fatalf("round %d: stat reached the outside secret", i)
		}
		f.Mkdir("flip/d", 0o755)
		f.Rmdir("flip/d")
	}
	close(stop)
	wg.Wait()
	if after := snapshot(t, l.outside); after != before {
		t.Errorf("outside changed during the race:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	t.Logf("%d rounds, %d swaps, %d reads of the inside file", rounds, swaps, inside)
}

// TestFileBehaviour covers the descriptor calls wazero makes: stat with
// inode, readdir with inodes, rewind, append, pwrite on an append-mode
// file (at the end, as Linux writes), truncate and times.
func TestFileBehaviour(t *testing.T) {
	l := newLayout(t)
	f := newFS(t, l.root, false)
	d, e := f.OpenFile(".", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
	if e != 0 {
		t.Fatal(e)
	}
	defer d.Close()
	if isDir, e := d.IsDir(); !isDir || e != 0 {
		t.Fatalf("IsDir = %v, %v", isDir, e)
	}
	list := func() []string {
		var names []string
		for {
			ents, e := d.Readdir(2)
			if e != 0 {
				t.Fatal(e)
			}
			if len(ents) == 0 {
				break
			}
			for _, ent := range ents {
				if ent.Ino == 0 {
					t.Errorf("%s: no inode", ent.Name)
				}
				names = append(names, ent.Name)
			}
		}
		sort.Strings(names)
		return names
	}
	want := "abs esc file in sub up"
	if got := strings.Join(list(), " "); got != want {
		t.Errorf("readdir = %q, want %q", got, want)
	}
	if _, e := d.Seek(0, 0); e != 0 {
		t.Fatal(e)
	}
	if got := strings.Join(list(), " "); got != want {
		t.Errorf("readdir after rewind = %q, want %q", got, want)
	}
	if _, e := d.Write([]byte("x")); e != experimentalsys.EISDIR {
		t.Errorf("write to a directory: %v, want EISDIR", e)
	}

	w, e := f.OpenFile("log", experimentalsys.O_CREAT|experimentalsys.O_WRONLY|experimentalsys.O_APPEND, 0o644)
	if e != 0 {
		t.Fatal(e)
	}
	defer w.Close()
	w.Write([]byte("ab"))
	if _, e := w.Pwrite([]byte("cd"), 0); e != 0 {
		t.Errorf("pwrite on an append-mode file: %v", e)
	}
	if e := w.SetAppend(false); e != 0 || w.IsAppend() {
		t.Fatalf("SetAppend(false): %v, %v", e, w.IsAppend())
	}
	if _, e := w.Pwrite([]byte("X"), 0); e != 0 {
		t.Fatal(e)
	}
	if got, _ := os.ReadFile(filepath.Join(l.root, "log")); !bytes.Equal(got, []byte("Xbcd")) {
		t.Errorf("log = %q, want Xbcd", got)
	}
	if e := w.Truncate(1); e != 0 {
		t.Fatal(e)
	}
	if e := w.Utimens(1e9, experimentalsys.UTIME_OMIT); e != 0 {
		t.Fatal(e)
	}
	st, e := w.Stat()
	if e != 0 || st.Size != 1 || st.Atim != 1e9 || st.Ino == 0 {
		t.Errorf("stat = size %d atim %d ino %d, %v", st.Size, st.Atim, st.Ino, e)
	}
	if e := f.Utimens("in/inner", 2e9, 3e9); e != 0 {
		t.Fatal(e)
	}
	if st, _ := f.Stat("sub/inner"); st.Atim != 2e9 || st.Mtim != 3e9 {
		t.Errorf("utimens through a link: atim %d mtim %d", st.Atim, st.Mtim)
	}
}

// TestTrailingSlashes: the answers of wasi-testsuite's *_trailing_slashes
// tests, which the kernel gives for names with a slash (never handed to
// it here).
func TestTrailingSlashes(t *testing.T) {
	l := newLayout(t)
	f := newFS(t, l.root, false)
	for _, c := range []struct {
		name string
		got  experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"unlink file/", f.Unlink("file/"), experimentalsys.ENOTDIR},
		{"unlink sub/", f.Unlink("sub/"), experimentalsys.EISDIR},
		{"unlink sub", f.Unlink("sub"), experimentalsys.EISDIR},
		{"symlink to new/", f.Symlink("x", "new/"), experimentalsys.ENOENT},
		{"symlink to sub/", f.Symlink("x", "sub/"), experimentalsys.EEXIST},
		{"rename file/", f.Rename("file/", "f2"), experimentalsys.ENOTDIR},
		{"rename to f2/", f.Rename("file", "f2/"), experimentalsys.ENOTDIR},
		{"rmdir file/", f.Rmdir("file/"), experimentalsys.ENOTDIR},
		{"rmdir in/ (a link)", f.Rmdir("in/"), experimentalsys.ENOTDIR},
		{"rmdir up/ (a link out)", f.Rmdir("up/"), experimentalsys.ENOTDIR},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	if _, e := f.OpenFile("file/", experimentalsys.O_RDONLY|experimentalsys.O_NOFOLLOW, 0); e != experimentalsys.ENOTDIR {
		t.Errorf("open file/: %v, want ENOTDIR", e)
	}
	if e := f.Mkdir("nd/", 0o755); e != 0 {
		t.Errorf("mkdir nd/: %v", e)
	}
	if e := f.Rename("nd/", "nd2/"); e != 0 {
		t.Errorf("rename nd/ nd2/: %v", e)
	}
}

// FuzzPaths runs one operation (op picks it) with guest paths a and b on
// a fresh layout, then reads b: nothing may panic, read the outside file,
// or change anything outside the root.
func FuzzPaths(f *testing.F) {
	for i, p := range escapes {
		f.Add(byte(i), p, "up/"+p)
	}
	f.Add(byte(7), "up/secret", "mine")
	f.Add(byte(7), "in/../../outside/secret", "sub/mine")
	f.Add(byte(5), "sub", "up/moved")
	f.Add(byte(4), "up/", "file/")
	f.Fuzz(func(t *testing.T, op byte, a, b string) {
		if len(a) > 512 || len(b) > 512 {
			return
		}
		l := newLayout(t)
		fsys := newFS(t, l.root, op&0x80 != 0)
		before := snapshot(t, l.outside)
		read := func(p string) {
			for _, flag := range []experimentalsys.Oflag{experimentalsys.O_RDONLY, experimentalsys.O_RDONLY | experimentalsys.O_NOFOLLOW} {
				file, e := fsys.OpenFile(p, flag, 0)
				if e != 0 {
					continue
				}
				buf := make([]byte, 16)
				n, _ := file.Read(buf)
				file.Close()
				if string(buf[:n]) == "OUTSIDE" {
					t.Fatalf("op %d (%q, %q): read %q reached the outside file", op, a, b, p)
				}
			}
		}
		switch op % 12 {
		case 0:
			read(a)
		case 1:
			if file, e := fsys.OpenFile(a, experimentalsys.O_CREAT|experimentalsys.O_RDWR|experimentalsys.O_TRUNC, 0o644); e == 0 {
				file.Write([]byte("x"))
				file.Close()
			}
		case 2:
			fsys.Mkdir(a, 0o755)
		case 3:
			fsys.Rmdir(a)
		case 4:
			fsys.Unlink(a)
		case 5:
			fsys.Rename(a, b)
		case 6:
			fsys.Link(a, b)
		case 7:
			fsys.Symlink(a, b)
		case 8:
			fsys.Utimens(a, experimentalsys.UTIME_OMIT, 0) // an mtime the snapshot would show
		case 9:
			fsys.Stat(a)
			fsys.Lstat(a)
			fsys.Readlink(a)
		case 10:
			fsys.Chmod(a, 0o700)
		case 11:
			if file, e := fsys.OpenFile(a, experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0); e == 0 {
				file.Readdir(-1)
				file.Close()
			}
		}
		read(b)
		if after := snapshot(t, l.outside); after != before {
			t.Fatalf("op %d (%q, %q) changed the outside:\nbefore:\n%s\nafter:\n%s", op, a, b, before, after)
		}
	})
}

// TestErrnos: the answers to ordinary mistakes are the kernel's (and
// wazero's DirFS's), whichever way the call resolves its path.
func TestErrnos(t *testing.T) {
	l := newLayout(t)
	f := newFS(t, l.root, false)
	open := func(p string, flag experimentalsys.Oflag) experimentalsys.Errno {
		file, e := f.OpenFile(p, flag, 0o644)
		if e == 0 {
			file.Close()
		}
		return e
	}
	nofollow := experimentalsys.O_NOFOLLOW
	for _, c := range []struct {
		name      string
		got, want experimentalsys.Errno
	}{
		{"open missing", open("missing", 0), experimentalsys.ENOENT},
		{"open missing nofollow", open("missing", nofollow), experimentalsys.ENOENT},
		{"open missing/x nofollow", open("missing/x", nofollow), experimentalsys.ENOENT},
		{"open file/x nofollow", open("file/x", nofollow), experimentalsys.ENOTDIR},
		{"open file/x", open("file/x", 0), experimentalsys.ENOTDIR},
		{"open excl existing", open("file", experimentalsys.O_CREAT|experimentalsys.O_EXCL|nofollow), experimentalsys.EEXIST},
		{"open sub as file for writing", open("sub", experimentalsys.O_WRONLY), experimentalsys.EISDIR},
		{"open file as directory", open("file", experimentalsys.O_DIRECTORY|nofollow), experimentalsys.ENOTDIR},
		{"unlink missing", f.Unlink("missing"), experimentalsys.ENOENT},
		{"unlink file/x", f.Unlink("file/x"), experimentalsys.ENOTDIR},
		{"mkdir sub", f.Mkdir("sub", 0o755), experimentalsys.EEXIST},
		{"mkdir missing/x", f.Mkdir("missing/x", 0o755), experimentalsys.ENOENT},
		{"mkdir file/x", f.Mkdir("file/x", 0o755), experimentalsys.ENOENT},
		{"rmdir missing", f.Rmdir("missing"), experimentalsys.ENOENT},
		{"rmdir sub (not empty)", f.Rmdir("sub"), experimentalsys.ENOTEMPTY},
		{"rmdir file", f.Rmdir("file"), experimentalsys.ENOTDIR},
		{"rename missing", f.Rename("missing", "x"), experimentalsys.ENOENT},
		{"link missing", f.Link("missing", "x"), experimentalsys.ENOENT},
		{"symlink onto file", f.Symlink("sub", "file"), experimentalsys.EEXIST},
		{"readlink file", func() experimentalsys.Errno { _, e := f.Readlink("file"); return e }(), experimentalsys.EINVAL},
		{"stat missing", func() experimentalsys.Errno { _, e := f.Stat("missing"); return e }(), experimentalsys.ENOENT},
		{"path with NUL", open("file\x00", 0), experimentalsys.EINVAL},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}
