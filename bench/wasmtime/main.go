// Command wasmtime-run runs a WASI preview1 module under wasmtime (through
// wasmtime-go), for make bench only: it is the anchor that shows Keep
// against Enarx's engine in the start-up and compute tables. It lives in
// its own Go module so that cgo and wasmtime's static library are never
// linked into keep and `go vet ./...` of the main module does not build it.
//
// Usage: wasmtime-run [-cache DIR] MODULE [ARGS...]
//
// With -cache, the compiled module is serialized to DIR keyed by the
// SHA-256 of the module's bytes and deserialized on later runs (wasmtime's
// own precompiled-module path, as `wasmtime run` uses with its cache);
// without it every run compiles. stdio, the arguments and an empty
// environment are given to the module, as keep run and wazero run do. The
// module's exit code becomes the process's.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

func main() {
	cache := flag.String("cache", "", "directory for compiled modules (default: compile every run)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: wasmtime-run [-cache DIR] MODULE [ARGS...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(*cache, flag.Arg(0), flag.Args()[1:]))
}

func run(cache, path string, args []string) int {
	wasm, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasmtime-run:", err)
		return 125
	}
	cfg := wasmtime.NewConfig()
	cfg.SetParallelCompilation(true)
	engine := wasmtime.NewEngineWithConfig(cfg)
	mod, err := load(engine, cache, wasm)
	if err != nil {
		fmt.Fprintf(os.Stderr, "wasmtime-run: %s: %v\n", path, err)
		return 125
	}
	linker := wasmtime.NewLinker(engine)
	if err := linker.DefineWasi(); err != nil {
		fmt.Fprintln(os.Stderr, "wasmtime-run:", err)
		return 125
	}
	wc := wasmtime.NewWasiConfig()
	wc.SetArgv(append([]string{filepath.Base(path)}, args...))
	wc.InheritStdin()
	wc.InheritStdout()
	wc.InheritStderr()
	store := wasmtime.NewStore(engine)
	store.SetWasi(wc)
	inst, err := linker.Instantiate(store, mod)
	if err != nil {
		fmt.Fprintf(os.Stderr, "wasmtime-run: %s: %v\n", path, err)
		return 125
	}
	start := inst.GetFunc(store, "_start")
	if start == nil {
		fmt.Fprintf(os.Stderr, "wasmtime-run: %s: no _start export\n", path)
		return 125
	}
	if _, err := start.Call(store); err != nil {
		var we *wasmtime.Error
		if errors.As(err, &we) {
			if code, ok := we.ExitStatus(); ok {
				return int(code)
			}
		}
		fmt.Fprintf(os.Stderr, "wasmtime-run: %s: %v\n", path, err)
		return 134
	}
	return 0
}

// load compiles wasm, or with a cache directory deserializes the module
// compiled by an earlier run (and writes it on a miss).
func load(engine *wasmtime.Engine, cache string, wasm []byte) (*wasmtime.Module, error) {
	if cache == "" {
		return wasmtime.NewModule(engine, wasm)
	}
	sum := sha256.Sum256(wasm)
	file := filepath.Join(cache, hex.EncodeToString(sum[:])+".cwasm")
	if m, err := wasmtime.NewModuleDeserializeFile(engine, file); err == nil {
		return m, nil
	}
	m, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		return nil, err
	}
	if b, err := m.Serialize(); err == nil {
		if err := os.MkdirAll(cache, 0o755); err == nil {
			tmp := file + ".tmp"
			if os.WriteFile(tmp, b, 0o644) == nil {
				os.Rename(tmp, file)
			}
		}
	}
	return m, nil
}
