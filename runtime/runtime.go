package runtime

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	goruntime "runtime"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/keepwasm/keep/internal/rootfs"
	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/metrics"
	keepwasi "github.com/keepwasm/keep/wasi"
	"github.com/tetratelabs/wazero/sys"
)

// PageSize is the size of one WebAssembly memory page.
const PageSize = 64 << 10

// MaxPages is the largest memory a 32-bit WebAssembly module can address.
const MaxPages = 65536

// wasiModule is the import module name of WASI preview1.
const wasiModule = wasi_snapshot_preview1.ModuleName

// EngineConfig configures an Engine.
type EngineConfig struct {
	// MaxMemoryPages caps every module's linear memory, in 64 KiB pages.
	// 0 means MaxPages (4 GiB).
	MaxMemoryPages uint32
	// Cache, if set, persists compiled code across processes. Without it,
	// compiled code is cached in memory for the Engine's lifetime only.
	Cache *DiskCache
	// Logger receives the runtime's own logs; nil discards them.
	Logger *slog.Logger
	// Metrics receives the runtime's events (connections, handshakes,
	// verified peers, the guest's end, cache lookups); nil drops them.
	Metrics metrics.Sink
	// Interruptible compiles guests with wazero's interrupt checks
	// (RuntimeConfig.WithCloseOnContextDone), so that the end of Run's
	// context stops even a guest that computes without ever calling the
	// host, such as a `loop br 0`.
	//
	// It is off by default because of its cost: in wazero v1.12.0 every
	// loop iteration then leaves compiled code for Go to check the module's
	// state, which makes guest code 2-4 times slower (wazero issue #2466).
	// Without it, the end of the context stops a guest at its next host
	// call (every WASI function checks it) or at once while it sleeps or
	// waits on a socket; a guest that spins without host calls runs on
	// until it returns or the process exits, as `keep run` does after a
	// grace period. See docs/RATIONALE.md, "Stopping a guest".
	Interruptible bool
	// CompileWorkers is how many goroutines compile a module's functions
	// in parallel; 0 means GOMAXPROCS. The compiled code is the same for
	// any number (wazero assembles the functions in order), so it shares
	// cache entries.
	CompileWorkers int
}

// Engine compiles and runs modules. It is safe for concurrent use.
type Engine struct {
	cfg   EngineConfig
	mem   wazero.CompilationCache
	log   *slog.Logger
	wasiF map[string]bool
}

// NewEngine returns an Engine.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	if cfg.MaxMemoryPages > MaxPages {
		return nil, fmt.Errorf("max memory %d pages is more than %d (4 GiB)", cfg.MaxMemoryPages, MaxPages)
	}
	if cfg.MaxMemoryPages == 0 {
		cfg.MaxMemoryPages = MaxPages
	}
	if cfg.CompileWorkers <= 0 {
		cfg.CompileWorkers = goruntime.GOMAXPROCS(0)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.Metrics = metrics.Or(cfg.Metrics)
	return &Engine{cfg: cfg, mem: wazero.NewCompilationCache(), log: log}, nil
}

// Close releases the Engine's in-memory cache.
func (e *Engine) Close(ctx context.Context) error { return e.mem.Close(ctx) }

// Module is a compiled module, ready to run.
type Module struct {
	// Digest is the SHA-384 of the module's bytes.
	Digest Digest
	// Name is used in messages (normally the file name).
	Name string

	rt       wazero.Runtime
	cache    wazero.CompilationCache // a per-module disk-backed cache, if any
	released chan struct{}           // closed when the cache's private directory is gone
	compiled wazero.CompiledModule
	entry    string // the function Run calls: "_start" or ""
	log      *slog.Logger
	metrics  metrics.Sink
	// goRuntime: built by Go's toolchain (IsGoWasip1); sockets start
	// non-blocking for it.
	goRuntime bool
}

// CompileError is returned for bytes that are not a valid module.
type CompileError struct{ Err error }

func (e *CompileError) Error() string { return "invalid module: " + e.Err.Error() }
func (e *CompileError) Unwrap() error { return e.Err }

// LinkError is returned when a module needs something Keep does not provide.
type LinkError struct{ Msg string }

func (e *LinkError) Error() string { return e.Msg }

// ErrNoStart is returned for a module that exports neither `_start` nor a
// default function (export name ""): it is not a WASI command (it may be a
// reactor or a library).
var ErrNoStart = errors.New(`no _start function and no default export (""): not a WASI command module`)

// entryPoint returns the function a run calls: `_start`, else the module's
// default export "", as wasmtime and Enarx do; "" and false for neither.
func entryPoint(c wazero.CompiledModule) (string, bool) {
	fns := c.ExportedFunctions()
	for _, name := range []string{"_start", ""} {
		if _, ok := fns[name]; ok {
			return name, true
		}
	}
	return "", false
}

// TrapError is returned when the module traps (unreachable, out-of-bounds
// memory access, division by zero, stack overflow, ...).
type TrapError struct {
	// Reason is the trap's one-line cause, such as "unreachable".
	Reason string
	// Stack is the guest's stack trace as wazero reports it.
	Stack string
}

func (e *TrapError) Error() string { return "trap: " + e.Reason }

// Compile digests and compiles wasm. name is used in messages.
func (e *Engine) Compile(ctx context.Context, name string, wasm []byte) (*Module, error) {
	if err := CheckMagic(wasm); err != nil {
		return nil, &CompileError{Err: err}
	}
	// The SHA-384 digest (no SHA-512 instructions on x86: ~3 ms per MB)
	// is not needed to find compiled code, so it is computed on another
	// core while the disk cache is read and checked; the cache is keyed by
	// the SHA-256, which SHA instructions make cheap.
	digest := make(chan Digest, 1)
	go func() { digest <- DigestOf(wasm) }()
	m, err := e.compile(ctx, name, wasm)
	d := <-digest
	if err != nil {
		return nil, err
	}
	m.Digest = d
	m.goRuntime = IsGoWasip1(wasm)
	e.log.Debug("compiled", "module", name, "digest", d.String())
	return m, nil
}

func (e *Engine) compile(ctx context.Context, name string, wasm []byte) (*Module, error) {
	m := &Module{Name: name, log: e.log, metrics: e.cfg.Metrics}
	rc := wazero.NewRuntimeConfigCompiler().
		WithCloseOnContextDone(e.cfg.Interruptible).
		WithMemoryLimitPages(e.cfg.MaxMemoryPages)
	// Compiling ends by itself (and may store a cache entry): the end of
	// ctx, such as keep run's --timeout, does not cut it short, as it
	// never did with one compiler goroutine; wazero's parallel compiler
	// would stop at it.
	cctx := experimental.WithCompilationWorkers(context.WithoutCancel(ctx), e.cfg.CompileWorkers)
	start := time.Now()
	var compiled wazero.CompiledModule
	var host hostResult
	var err error
	if e.cfg.Cache == nil {
		m.rt = wazero.NewRuntimeWithConfig(ctx, rc.WithCompilationCache(e.mem))
		compiled, host, err = compileWithHost(ctx, cctx, m.rt, wasm)
	} else {
		id := cacheIDOf(wasm)
		for attempt := 0; ; attempt++ {
			// A second attempt, only if finish asks for it, compiles
			// without the entry it deleted.
			entry, oerr := e.cfg.Cache.open(id, e.cfg.Interruptible, e.log)
			if oerr != nil {
				return nil, oerr
			}
			cc, cerr := wazero.NewCompilationCacheWithDir(entry.dir)
			if cerr != nil {
				entry.release()
				return nil, fmt.Errorf("compilation cache: %w", cerr)
			}
			m.cache = cc // the engine lives in the cache: close it with the module
			m.rt = wazero.NewRuntimeWithConfig(ctx, rc.WithCompilationCache(cc))
			compiled, host, err = compileWithHost(ctx, cctx, m.rt, wasm)
			if entry.finish(err) && attempt == 0 {
				m.rt.Close(ctx)
				cc.Close(ctx)
				entry.release()
				continue
			}
			if err == nil {
				e.cfg.Metrics.CacheLookup(entry.hit)
				if err := entry.store(); err != nil {
					e.log.Warn("compilation cache: could not store entry", "err", err)
				}
			}
			// wazero has read (or written) the private directory: it is
			// removed while the module starts; Close waits for it.
			m.released = make(chan struct{})
			go func() { entry.release(); close(m.released) }()
			break
		}
	}
	if err != nil {
		m.Close(ctx)
		return nil, &CompileError{Err: err}
	}
	m.compiled = compiled
	e.log.Debug("compiled", "module", name, "took", time.Since(start))
	wasi, err := host.host, host.err
	if err != nil {
		m.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	if err := checkImports(compiled, wasi); err != nil {
		m.Close(ctx)
		return nil, err
	}
	entry, ok := entryPoint(compiled)
	if !ok {
		m.Close(ctx)
		return nil, ErrNoStart
	}
	m.entry = entry
	return m, nil
}

// hostResult is Keep's WASI host module, or why it could not be had.
type hostResult struct {
	host *keepwasi.Host
	err  error
}

// compileWithHost compiles wasm on rt while another goroutine instantiates
// Keep's WASI host module on the same runtime (wazero's runtimes are safe
// for concurrent use): a warm start spends its time in wazero's decoding,
// on one core, and the host module's ~2 ms then cost nothing on the other.
func compileWithHost(ctx, cctx context.Context, rt wazero.Runtime, wasm []byte) (wazero.CompiledModule, hostResult, error) {
	hc := make(chan hostResult, 1)
	go func() {
		h, err := keepwasi.Instantiate(ctx, rt)
		hc <- hostResult{h, err}
	}()
	compiled, err := rt.CompileModule(cctx, wasm)
	return compiled, <-hc, err
}

// checkImports gives a clear error for imports Keep cannot satisfy, before
// wazero's own linker would.
func checkImports(c wazero.CompiledModule, host *keepwasi.Host) error {
	provided := map[string]bool{}
	for n := range host.WASI.ExportedFunctionDefinitions() {
		provided[n] = true
	}
	for _, f := range c.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod == keepwasi.KeepModule && (name == "peer_identity" || name == "verify_csr") {
			continue
		}
		if mod != wasiModule {
			return &LinkError{Msg: fmt.Sprintf("imports function %s.%s, but Keep provides only %s, %s.peer_identity and %s.verify_csr", mod, name, wasiModule, keepwasi.KeepModule, keepwasi.KeepModule)}
		}
		if !provided[name] {
			return &LinkError{Msg: fmt.Sprintf("imports function %s.%s, which is not part of WASI preview1", mod, name)}
		}
	}
	for _, m := range c.ImportedMemories() {
		mod, name, _ := m.Import()
		return &LinkError{Msg: fmt.Sprintf("imports memory %s.%s, but Keep provides no memories", mod, name)}
	}
	return nil
}

// Close releases the compiled module.
func (m *Module) Close(ctx context.Context) error {
	err := m.rt.Close(ctx)
	if m.cache != nil {
		m.cache.Close(ctx)
	}
	if m.released != nil {
		<-m.released
	}
	return err
}

// Mount exposes a host directory to the module.
type Mount struct {
	Host, Guest string
	ReadOnly    bool
}

// RunConfig is how one run of a Module sees the world.
type RunConfig struct {
	// Args follow argv[0] (argv[0] is Module.Name's base name).
	Args []string
	// Env is the environment, in order. FD_COUNT and FD_NAMES come first
	// when Config is set.
	Env [][2]string
	// Mounts are preopened directories, at fds 3, 4, ... in order.
	Mounts []Mount
	// Config is the keep's Enarx.toml, if any. Without one, fds 0-2 are
	// Stdin, Stdout and Stderr and nothing else is set, as with wasmtime or
	// wazero. With one, fds follow its [[files]] and FD_COUNT/FD_NAMES are
	// set as Enarx sets them.
	Config *Config
	// Stdin, Stdout and Stderr are the host's standard streams; nil gives
	// EOF on read and discards writes.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Attester produces the evidence for the keep's RA-TLS certificate,
	// which TLS listeners present. Required when the config has one.
	Attester keeps.Attester
	// OCI, if set, says the module was fetched from an OCI registry: the
	// keep's RA-TLS certificate then carries it as extra claims beside the
	// module hash (which stays the SHA-384 of the module's bytes).
	OCI *OCIOrigin
	// OnListen, if set, is told each listener's bound address once all
	// sockets are open and before the module starts.
	OnListen func(fd uint32, name string, addr net.Addr)
	// Control, if set, reports the run's phase and listeners and can
	// drain it (control.go).
	Control *Control
	// Instances, if not 0, is how many instances of the module run
	// (1..MaxInstances); it overrides Config.Instances. See instances.go.
	Instances int
}

// run is Run without its Control and metrics (control.go).
func (m *Module) run(ctx context.Context, rc RunConfig) (uint32, error) {
	if rc.Config != nil {
		if err := rc.Config.Unsupported(); err != nil {
			return 0, err
		}
	}
	n, err := rc.instances()
	if err != nil {
		return 0, err
	}
	argv0 := m.Name
	if i := strings.LastIndexAny(argv0, `/\`); i >= 0 {
		argv0 = argv0[i+1:]
	}
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(). // the entry point is called below, to tell link errors from traps
		WithArgs(append([]string{argv0}, rc.Args...)...).
		WithRandSource(rand.Reader).
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(sleeper(ctx)).
		WithOsyield(goruntime.Gosched)
	stdin, stdout, stderr := rc.Stdin, rc.Stdout, rc.Stderr
	var env [][2]string
	if rc.Config != nil {
		stdin, stdout, stderr = rc.Config.stdio(rc.Stdin, rc.Stdout, rc.Stderr)
		env = append(env, rc.Config.FDEnv()...)
		for _, k := range sortedKeys(rc.Config.Env) {
			env = append(env, [2]string{k, rc.Config.Env[k]})
		}
	}
	env = mergeEnv(env, rc.Env)
	for _, kv := range env {
		mc = mc.WithEnv(kv[0], kv[1])
	}
	if n > 1 {
		// Instances write to the same streams from their own goroutines.
		var mu sync.Mutex
		stdout, stderr = lockWriter(&mu, stdout), lockWriter(&mu, stderr)
	}
	if stdout != nil {
		mc = mc.WithStdout(stdout)
	}
	if stderr != nil {
		mc = mc.WithStderr(stderr)
	}
	if rc.Config != nil && rc.Config.CA != nil {
		var err error
		if ctx, err = rc.Config.caContext(ctx, m.log); err != nil {
			return 0, err
		}
	}
	var mounts []fs.FS
	var socks []*keepwasi.Sockets // by instance
	if rc.Config != nil && rc.Config.hasSockets() {
		rs, err := socketPlan{cfg: rc.Config, attester: rc.Attester, digest: m.Digest, oci: rc.OCI, log: m.log, ctl: rc.Control, metrics: m.metrics, goRuntime: m.goRuntime, instances: n}.open(ctx)
		if err != nil {
			return 0, err
		}
		defer rs.close()
		socks = rs.sockets
		mounts = rc.Config.placeholderMounts()
		if len(rc.Mounts) > 0 {
			m.log.Warn("--dir mounts follow the socket fds; guests that scan preopens from fd 3 (wasi-libc, Go) stop at the first socket and will not find them")
		}
		if rc.OnListen != nil {
			for i, f := range rc.Config.Files {
				if a, ok := rs.addrs[uint32(i)]; ok {
					rc.OnListen(uint32(i), f.Name, a)
				}
			}
		}
	} else {
		// No sockets: the run still gets Keep's fd state (its rights table).
		for range n {
			socks = append(socks, keepwasi.NewSockets(nil, nil, m.log))
		}
	}
	defer func() {
		for _, s := range socks {
			s.Close() // a no-op for those closed as their instance ended
		}
	}()
	if len(rc.Mounts) > 0 || len(mounts) > 0 {
		fsc := wazero.NewFSConfig()
		for i, pm := range mounts {
			fsc = fsc.WithFSMount(pm, fmt.Sprintf("/.keep/socket-fd-%d", i+3))
		}
		// Each --dir is a rootfs.FS: no path the guest names, and no
		// symlink in the directory (whoever made it, whenever), leads
		// out of it, and a read-only one refuses every write. wazero's
		// WithDirMount follows symlinks out of the directory; see
		// docs/RATIONALE.md, "Preopens that no path can leave".
		for _, mt := range rc.Mounts {
			dir, err := rootfs.New(mt.Host, mt.ReadOnly)
			if err != nil {
				return 0, fmt.Errorf("--dir %s: %w", mt.Host, err)
			}
			defer dir.Close()
			fsc = fsc.(sysfs.FSConfig).WithSysFSMount(dir, mt.Guest)
		}
		mc = mc.WithFSConfig(fsc)
	}
	if n == 1 {
		if stdin != nil {
			mc = mc.WithStdin(stdin)
		}
		return m.instance(keepwasi.WithSockets(ctx, socks[0]), rc, mc)
	}
	return m.instances(ctx, rc, mc, stdin, socks)
}

// instance instantiates the module with mc and runs its _start.
func (m *Module) instance(ctx context.Context, rc RunConfig, mc wazero.ModuleConfig) (uint32, error) {
	// The instance's memory is not freed before this returns, even if the
	// module is closed while its guest runs (memory.go).
	mem := newInstanceMemory()
	mem.enter()
	defer mem.leave()
	mod, err := m.rt.InstantiateModule(mem.context(ctx), m.compiled, mc)
	if err != nil {
		if code, done, err := exitOf(ctx, err); done {
			return code, err
		}
		return 0, &LinkError{Msg: firstLine(err.Error())}
	}
	defer mod.Close(context.WithoutCancel(ctx))
	if ctx.Err() != nil {
		// Ended before the guest started (its sockets were opened and
		// reported all the same): run none of its code.
		return 0, fmt.Errorf("stopped: %w", ctx.Err())
	}
	rc.Control.running()
	_, err = mod.ExportedFunction(m.entry).Call(ctx)
	if ctx.Err() != nil {
		// Stopped, whatever the guest managed to do meanwhile.
		return 0, fmt.Errorf("stopped: %w", ctx.Err())
	}
	if err == nil {
		return 0, nil
	}
	if code, done, err := exitOf(ctx, err); done {
		return code, err
	}
	msg := err.Error()
	reason, stack, _ := strings.Cut(msg, "\n")
	reason = strings.TrimPrefix(reason, "wasm error: ")
	m.log.Debug("trap", "module", m.Name, "stack", stack)
	return 0, &TrapError{Reason: reason, Stack: stack}
}

// exitOf interprets an error from wazero as an exit (proc_exit or the end of
// ctx); done is false for any other error.
func exitOf(ctx context.Context, err error) (code uint32, done bool, _ error) {
	var ee *sys.ExitError
	if !errors.As(err, &ee) {
		if ctx.Err() != nil {
			return 0, true, ctx.Err()
		}
		return 0, false, nil
	}
	switch ee.ExitCode() {
	case sys.ExitCodeDeadlineExceeded:
		return 0, true, fmt.Errorf("stopped: %w", context.DeadlineExceeded)
	case sys.ExitCodeContextCanceled:
		return 0, true, fmt.Errorf("stopped: %w", context.Canceled)
	}
	return ee.ExitCode(), true, nil
}

// sleeper returns a nanosleep that really sleeps but wakes as soon as ctx
// ends, so a sleeping guest stops promptly on cancel or timeout (wazero's
// default returns at once, and its WithSysNanosleep cannot be interrupted).
func sleeper(ctx context.Context) func(ns int64) {
	return func(ns int64) {
		if ns <= 0 {
			return
		}
		t := time.NewTimer(time.Duration(ns))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			// Stop the guest here: returning would let it carry on as if
			// the sleep had ended.
			keepwasi.Stop(ctx)
		}
	}
}

// mergeEnv appends extra to base; a key in extra replaces the same key in
// base, in place.
func mergeEnv(base, extra [][2]string) [][2]string {
	out := append([][2]string(nil), base...)
	for _, kv := range extra {
		replaced := false
		for i := range out {
			if out[i][0] == kv[0] {
				out[i][1], replaced = kv[1], true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// stdio maps the config's fds 0-2 to host streams. Kinds other than stdin,
// stdout, stderr and null at those positions are refused by Unsupported; an
// fd the config does not list reads EOF and discards writes.
func (c *Config) stdio(in io.Reader, out, errw io.Writer) (io.Reader, io.Writer, io.Writer) {
	pick := func(k FileKind) io.Writer {
		switch k {
		case KindStdout:
			return out
		case KindStderr:
			return errw
		}
		return io.Discard
	}
	var r io.Reader = eofReader{}
	w1, w2 := io.Writer(io.Discard), io.Writer(io.Discard)
	if len(c.Files) > 0 && c.Files[0].Kind == KindStdin {
		r = in
	}
	if len(c.Files) > 1 {
		w1 = pick(c.Files[1].Kind)
	}
	if len(c.Files) > 2 {
		w2 = pick(c.Files[2].Kind)
	}
	return r, w1, w2
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// Stdio returns the process's own standard streams, for RunConfig.
func Stdio() (io.Reader, io.Writer, io.Writer) { return os.Stdin, os.Stdout, os.Stderr }
