package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildHello builds guests/hello (a ~2.6 MB Go wasip1 guest) into dir.
func buildHello(b *testing.B) []byte {
	b.Helper()
	out := filepath.Join(b.TempDir(), "hello.wasm")
	cmd := exec.Command("go", "build", "-o", out, "./guests/hello")
	cmd.Dir = ".." // the module root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build guests/hello: %v\n%s", err, msg)
	}
	wasm, err := ReadModule(out)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("hello.wasm: %d bytes", len(wasm))
	return wasm
}

// startHello compiles wasm on e, runs it to completion and closes the module:
// one start of a keep.
func startHello(b *testing.B, e *Engine, wasm []byte) {
	ctx := context.Background()
	m, err := e.Compile(ctx, "hello.wasm", wasm)
	if err != nil {
		b.Fatal(err)
	}
	code, err := m.Run(ctx, RunConfig{Stdout: io.Discard, Stderr: io.Discard})
	if err != nil || code != 0 {
		b.Fatalf("Run = %d, %v", code, err)
	}
	if err := m.Close(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStartCold: every start compiles (a new Engine, no disk cache).
func BenchmarkStartCold(b *testing.B) {
	wasm := buildHello(b)
	for b.Loop() {
		e, err := NewEngine(EngineConfig{})
		if err != nil {
			b.Fatal(err)
		}
		startHello(b, e, wasm)
		e.Close(context.Background())
	}
}

// BenchmarkStartDiskCacheWarm: every start is a new Engine (as in a new
// keep process) reading the compiled code from a populated disk cache.
func BenchmarkStartDiskCacheWarm(b *testing.B) {
	wasm := buildHello(b)
	base := b.TempDir()
	dc, err := OpenDiskCache(filepath.Join(base, "cache"), filepath.Join(base, "cache.key"))
	if err != nil {
		b.Fatal(err)
	}
	log := &logRecorder{}
	start := func() {
		e, err := NewEngine(EngineConfig{Cache: dc, Logger: slog.New(log)})
		if err != nil {
			b.Fatal(err)
		}
		startHello(b, e, wasm)
		e.Close(context.Background())
	}
	start() // populate
	log.reset()
	start()
	if !log.has("compilation cache hit") {
		b.Fatalf("the disk cache did not hit: %s", log)
	}
	for b.Loop() {
		start()
	}
}

// BenchmarkStartMemCacheWarm: one Engine; every start after the first finds
// the compiled code in the Engine's memory cache.
func BenchmarkStartMemCacheWarm(b *testing.B) {
	wasm := buildHello(b)
	e, err := NewEngine(EngineConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())
	startHello(b, e, wasm) // populate
	for b.Loop() {
		startHello(b, e, wasm)
	}
}

// BenchmarkParseConfigEnv parses configs with many [env] keys. A linear
// parser's ns/op grows with the size; ParseConfig's line locator rescans
// the whole file for every key, so it grows with the square.
func BenchmarkParseConfigEnv(b *testing.B) {
	for _, size := range []int{10_000, 20_000, 40_000} {
		var sb strings.Builder
		sb.WriteString("[env]\n")
		for i := 0; sb.Len() < size; i++ {
			fmt.Fprintf(&sb, "K%d = \"v\"\n", i)
		}
		src := []byte(sb.String())
		b.Run(fmt.Sprintf("%dKB", size/1000), func(b *testing.B) {
			for b.Loop() {
				if _, err := ParseConfig("bench.toml", src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseConfigFiles is the same for many [[files]] entries.
func BenchmarkParseConfigFiles(b *testing.B) {
	for _, size := range []int{10_000, 20_000, 40_000} {
		var sb strings.Builder
		for i := 0; sb.Len() < size; i++ {
			fmt.Fprintf(&sb, "[[files]]\nkind = \"null\"\nname = \"n%d\"\n", i)
		}
		src := []byte(sb.String())
		b.Run(fmt.Sprintf("%dKB", size/1000), func(b *testing.B) {
			for b.Loop() {
				if _, err := ParseConfig("bench.toml", src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
