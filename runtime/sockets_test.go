package runtime

import (
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// IsGoWasip1 finds Go's "go:buildid" custom section among the section
// headers, and nothing else counts.
func TestIsGoWasip1(t *testing.T) {
	custom := func(name string) []byte {
		body := append([]byte{byte(len(name))}, name...)
		return append([]byte{0, byte(len(body))}, body...)
	}
	hdr := []byte("\x00asm\x01\x00\x00\x00")
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	memory := []byte{5, 3, 1, 0, 1}
	for _, tc := range []struct {
		name string
		wasm []byte
		want bool
	}{
		{"go:buildid first", cat(hdr, custom("go:buildid"), memory), true},
		{"go:buildid after a section", cat(hdr, memory, custom("go:buildid")), true},
		{"other custom section", cat(hdr, custom("producers"), memory), false},
		{"name only as data", cat(hdr, []byte{11, 12}, []byte("\x01go:buildid\x00")), false},
		{"no sections", hdr, false},
		{"truncated section", cat(hdr, []byte{0, 50, 10}, []byte("go:buildid")), false},
		{"name longer than section", cat(hdr, []byte{0, 2, 10, 'g'}), false},
		{"overlong LEB128", cat(hdr, []byte{0, 0x80, 0x80, 0x80, 0x80, 0x80, 0}), false},
		{"not wasm", []byte("go:buildid go:buildid"), false},
	} {
		if got := IsGoWasip1(tc.wasm); got != tc.want {
			t.Errorf("%s: IsGoWasip1 = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A real Go guest is recognised; a real C guest is not.
func TestIsGoWasip1RealModules(t *testing.T) {
	dir := t.TempDir()
	goWasm := filepath.Join(dir, "hello.wasm")
	cmd := exec.Command("go", "build", "-o", goWasm, "../guests/hello")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(goWasm)
	if err != nil {
		t.Fatal(err)
	}
	if !IsGoWasip1(b) {
		t.Error("a Go wasip1 module was not recognised")
	}
	clang, err := exec.LookPath("clang-14")
	if err != nil {
		t.Fatal("this test needs clang-14 with wasi-libc (.ci/run installs them)")
	}
	cWasm := filepath.Join(dir, "echo.wasm")
	if out, err := exec.Command(clang, "--target=wasm32-wasi", "-O2", "-o", cWasm, "../tests/testdata/c/echo_blocking.c").CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	if b, err = os.ReadFile(cWasm); err != nil {
		t.Fatal(err)
	}
	if IsGoWasip1(b) {
		t.Error("a C module was taken for Go's runtime")
	}
}

// The start mode: the config's nonblock key wins; without it, Go guests
// start non-blocking and all others blocking.
func TestSocketStartMode(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		goRuntime bool
		key       *bool
		want      bool
	}{{false, nil, false}, {true, nil, true}, {false, &yes, true}, {true, &no, false}} {
		p := socketPlan{goRuntime: tc.goRuntime}
		if got := p.nonblock(File{Nonblock: tc.key}); got != tc.want {
			t.Errorf("go %v, nonblock key %v: start non-blocking = %v, want %v", tc.goRuntime, tc.key, got, tc.want)
		}
	}
	if v := (File{}).minTLS(); v != tls.VersionTLS13 {
		t.Errorf("default minimum TLS version %x, want TLS 1.3", v)
	}
}

// FuzzIsGoWasip1: any bytes, no panic.
func FuzzIsGoWasip1(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x00\x0b\x0ago:buildid"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x00\x01"))
	f.Fuzz(func(t *testing.T, b []byte) { IsGoWasip1(b) })
}
