// Command keep runs WebAssembly workloads in a keep. See README.md for the
// CLI reference; this file only parses flags and calls the library.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/keepwasm/keep/keeps/backends"
	"github.com/keepwasm/keep/runtime"
)

// Exit codes of keep itself. A guest's own exit code (0-255) passes through
// unchanged, so these can collide with a guest's choice; they follow the
// conventions of coreutils timeout(1), container runtimes and shells.
const (
	exitUsage     = 2   // bad command line
	exitTimeout   = 124 // --timeout elapsed
	exitKeepError = 125 // keep could not run the module (bad input, link error)
	exitTrap      = 134 // the guest trapped (128+SIGABRT, as wasmtime)
	exitSignal    = 128 // + signal number: stopped by SIGINT (130) or SIGTERM (143)
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const topUsage = `Usage: keep [--log-level LEVEL] COMMAND [ARGS...]
       keep [run flags] MODULE [ARGS...]   (same as keep run)

Keep runs WebAssembly (WASI preview1) workloads in a keep.

Commands:
  run           run a module
  digest        print a module's digest (sha384:<hex>)
  push          publish a module to an OCI registry
  pull          fetch a module from an OCI registry, verified
  config init   write a commented Enarx.toml template
  verify        check a keep's RA-TLS certificate against a policy
  proxy         serve a keep to plain HTTP/TCP clients, verified against a policy
  ca trust      verify an attestation CA keep and write its root certificate
  attest-cert   write a sim-backed RA-TLS certificate and key, for tests
  platform info list the TEE backends and whether this machine can use them
  version       print the versions of keep and its engine
  help          show this help, or a command's help (keep help run)

Run 'keep COMMAND --help' for a command's flags.
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := flag.NewFlagSet("keep", flag.ContinueOnError)
	g.SetOutput(io.Discard)
	level := g.String("log-level", "warn", "")
	format := g.String("log-format", "text", "")
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-V") {
		args = append([]string{"version"}, args[1:]...)
	}
	pos, err := parseArgs(g, args, true)
	var uf unknownFlagError
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, topUsage)
		return 0
	case errors.As(err, &uf):
		// keep --dir . app.wasm: run's flags before the module, as with
		// wasmtime.
		pos = append([]string{"run"}, args...)
	case err != nil:
		fmt.Fprintf(stderr, "keep: %v (run 'keep help' for usage)\n", err)
		return exitUsage
	}
	args = pos
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return exitUsage
	}
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, level: *level, format: *format}
	switch args[0] {
	case "run":
		return c.run(args[1:])
	case "digest":
		err = c.digest(args[1:])
	case "push":
		err = c.push(args[1:])
	case "pull":
		err = c.pull(args[1:])
	case "verify":
		return c.verify(args[1:])
	case "proxy":
		return c.proxy(args[1:])
	case "ca":
		return c.ca(args[1:])
	case "attest-cert":
		err = c.attestCert(args[1:])
	case "platform":
		err = c.platform(args[1:])
	case "config":
		err = c.config(args[1:])
	case "version":
		err = c.version(args[1:])
	case "help", "-h", "--help":
		if len(args) > 1 {
			return run([]string{args[1], "--help"}, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, topUsage)
		return 0
	default:
		if looksLikeModule(args[0]) {
			// keep app.wasm [ARGS] is keep run app.wasm [ARGS], as with wasmtime.
			return c.run(args)
		}
		err = usageError{fmt.Sprintf("unknown command %q (run 'keep help' for the list)", args[0])}
	}
	return c.exit(err)
}

// looksLikeModule tells whether a first argument that is no command names
// a module: a .wasm file name, a path, or an existing regular file.
func looksLikeModule(arg string) bool {
	if strings.HasSuffix(arg, ".wasm") || strings.ContainsRune(arg, '/') {
		return true
	}
	st, err := os.Stat(arg)
	return err == nil && st.Mode().IsRegular()
}

type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	level          string
	log            *slog.Logger
	drain          func()        // SIGTERM drains a keep with listeners (ops.go)
	drainTimeout   time.Duration // --drain-timeout
	format         string        // --log-format (logs.go)
	guestStderr    io.Writer     // the process's stderr, for the guest
	logOut         io.Writer     // where JSON records go (logs.go)
}

// exit prints err (if any) and returns the exit code for it.
func (c *cli) exit(err error) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if j, ok := c.stderr.(*jsonLines); ok {
		j.errorLine(err.Error())
	} else {
		fmt.Fprintf(c.stderr, "keep: %v\n", err)
	}
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitKeepError
}

// flags returns a FlagSet for a subcommand with the common flags.
func (c *cli) flags(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed once, by exit
	fs.Func("log-level", "`LEVEL` of keep's own logs on stderr: debug, info, warn, error (default warn)", func(s string) error {
		c.level = s
		return nil
	})
	fs.Func("log-format", "`FORMAT` of keep's own stderr lines: text or json (default text)", func(s string) error {
		c.format = s
		return nil
	})
	fs.Usage = func() {
		fmt.Fprint(c.stdout, usage)
		printFlags(c.stdout, fs)
	}
	return fs
}

// parse parses subcommand flags, which may come before, between or after
// the positional arguments (fs.Args() holds those); usage errors become
// usageError.
func (c *cli) parse(fs *flag.FlagSet, args []string) error {
	return c.parseArgs(fs, args, false)
}

// parseArgs is parse; with stopAtFirst, the first positional argument
// ends keep's flags (keep run: the rest belong to the module).
func (c *cli) parseArgs(fs *flag.FlagSet, args []string, stopAtFirst bool) error {
	pos, err := parseArgs(fs, args, stopAtFirst)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return err
	}
	if err != nil {
		return usageError{err.Error()}
	}
	// Hand the positional arguments to fs, so that fs.Args() has them.
	if err := fs.Parse(append([]string{"--"}, pos...)); err != nil {
		return usageError{err.Error()}
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(c.level)); err != nil {
		return usageError{fmt.Sprintf("--log-level %q: want debug, info, warn or error", c.level)}
	}
	return c.setupLogs(lv)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

const runUsage = `Usage: keep run [flags] MODULE [ARGS...]
       keep [flags] MODULE [ARGS...]

Runs MODULE's _start (else its default export "") and exits with its exit
code. ARGS follow argv[0] (the module's file name), after any args from the
config. keep's flags come before MODULE; everything after MODULE goes to the
module, flags included (a "--" before MODULE also ends keep's flags).

MODULE is a file, or oci://REGISTRY/REPO@sha256:DIGEST (or :TAG) to fetch
it from an OCI registry, verified (see 'keep push').

Exit codes: the module's own exit code; 124 when --timeout elapsed; 125 when
keep could not run the module (bad input, link error); 134 on a trap; 130 or
143 when stopped by SIGINT or SIGTERM; 2 on a bad command line. SIGTERM
first drains a keep that has listeners: 0 once every connection finished.

Compiled code is cached (authenticated) in $XDG_CACHE_HOME/keep, else
~/.cache/keep; --no-cache turns the cache off.

Flags:
`

func (c *cli) run(args []string) int {
	fs := c.flags("run", runUsage)
	var envs, dirs multiFlag
	config := fs.String("config", "", "`FILE`: the keep's Enarx.toml (args, env and [[files]]); keep never reads one it is not given")
	fs.Var(&envs, "env", "set `NAME=VALUE` for the module, or pass NAME on from keep's environment (repeatable)")
	envInherit := fs.Bool("env-inherit", false, "pass keep's whole environment to the module (--env and the config's env take precedence)")
	fs.Var(&dirs, "dir", "expose a host directory (`SPEC`: HOST, HOST:GUEST, HOST:GUEST:ro or HOST::GUEST; repeatable)")
	timeout := fs.Duration("timeout", 0, "stop the module after this `duration`, with a unit (e.g. 30s, 5m; 0 = no limit)")
	maxMem := fs.String("max-memory", "", "cap the module's memory: `N` pages of 64 KiB, or a size such as 256MiB or 1GiB (default 4GiB)")
	cacheDir := fs.String("cache-dir", "", "keep compiled code in `DIR` (env KEEP_CACHE_DIR; default $XDG_CACHE_HOME/keep or ~/.cache/keep)")
	cacheKey := fs.String("cache-key", "", "`FILE` holding the cache's secret key, outside the cache dir (env KEEP_CACHE_KEY; default keep/cache.key in the user config dir, created 0600 on first use)")
	noCache := fs.Bool("no-cache", false, "compile the module afresh, without the on-disk cache")
	backend := fs.String("backend", "auto", "TEE backend (`NAME`) for the keep's evidence: auto, "+strings.Join(backends.Names(), ", "))
	requireTEE := fs.Bool("require-tee", false, "refuse to run without a hardware TEE (never fall back to sim)")
	instances := fs.Int("instances", 0, "run `N` instances of the module sharing its listeners (default: the config's instances, else 1)")
	opsf := addOpsFlags(fs)
	reg := c.registryFlags(fs)
	if err := c.parseArgs(fs, args, true); err != nil {
		return c.exit(err)
	}
	if fs.NArg() == 0 {
		return c.exit(usageError{"run: missing MODULE (see 'keep run --help')"})
	}
	path, guestArgs := fs.Arg(0), fs.Args()[1:]

	rc := runtime.RunConfig{Args: guestArgs, Stdin: c.stdin, Stdout: c.stdout, Stderr: c.guestStderr}
	needEvidence := false
	rc.OnListen = func(fd uint32, name string, addr net.Addr) {
		fmt.Fprintf(c.stderr, "keep: fd %d (%s): listening on %s\n", fd, name, addr)
	}
	explicit, err := parseEnv(envs)
	if err != nil {
		return c.exit(err)
	}
	for _, d := range dirs {
		m, err := parseDir(d)
		if err != nil {
			return c.exit(err)
		}
		rc.Mounts = append(rc.Mounts, m)
	}
	pages, err := parseMemory(*maxMem)
	if err != nil {
		return c.exit(err)
	}
	if err := opsf.check(); err != nil {
		return c.exit(err)
	}
	if *timeout < 0 {
		return c.exit(usageError{fmt.Sprintf("--timeout %v: must not be negative", *timeout)})
	}
	var cfg *runtime.Config
	if flagSet(fs, "instances") {
		if err := runtime.CheckInstances("--instances", int64(*instances)); err != nil {
			return c.exit(usageError{err.Error()})
		}
		rc.Instances = *instances
	}
	if *config != "" {
		cfg, err = runtime.LoadConfig(*config)
		if err != nil {
			return c.exit(pathErr(err))
		}
		if err := cfg.Unsupported(); err != nil {
			return c.exit(err)
		}
		rc.Config = cfg
		rc.Args = append(append([]string(nil), cfg.Args...), guestArgs...)
		for _, f := range cfg.Files {
			if f.Prot == runtime.ProtTLS && (f.Kind == runtime.KindListen || f.Policy != "") {
				needEvidence = true
			}
		}
		if !writesOutput(cfg) {
			fmt.Fprintf(c.stderr, "keep: warning: %s has no stdout or stderr in [[files]]: the module's output goes nowhere\n", *config)
		}
	}
	c.hintEnarxToml(*config)
	if *envInherit {
		rc.Env = inheritedEnv(os.Environ(), cfg)
	}
	rc.Env = append(rc.Env, explicit...)
	tdx := false
	if needEvidence || *requireTEE || *backend != "auto" {
		att, chosen, fellBack, err := backends.Select(*backend, *requireTEE)
		if err != nil {
			return c.exit(err)
		}
		if fellBack {
			fmt.Fprintf(c.stderr, "keep: warning: no TEE on this machine (see 'keep platform info'); running on the sim backend: the keep's evidence says SIMULATED and verifiers refuse it by default\n")
		}
		c.log.Info("backend", "name", chosen)
		rc.Attester = att
		tdx = chosen == "tdx"
	}
	o, err := c.startOps(opsf, rc.Config, tdx)
	if err != nil {
		return c.exit(err)
	}
	defer o.stop()
	rc.Control = o.ctl
	// A module fetched from elsewhere reports to o.sink (ModuleFetched).
	wasm, origin, err := c.loadModule(path, reg, o.sink)
	if err != nil {
		return c.exit(err)
	}
	rc.OCI = origin

	ec := runtime.EngineConfig{MaxMemoryPages: pages, Logger: c.log, Metrics: o.sink}
	if !*noCache {
		if ec.Cache, err = c.openCache(*cacheDir, *cacheKey); err != nil {
			return c.exit(err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if *timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	stop := c.watchStopsOf(ctx, cancel, path, fmt.Sprintf("keep: %s: stopped after --timeout %v (the module did not return within %v; exiting)", path, *timeout, stopGrace))
	defer stop.finish()

	engine, err := runtime.NewEngine(ec)
	if err != nil {
		return c.exit(err)
	}
	defer engine.Close(context.Background())
	mod, err := engine.Compile(ctx, path, wasm)
	if err != nil {
		var ce *runtime.CompileError
		if pages != 0 && errors.As(err, &ce) && strings.Contains(err.Error(), "over limit") {
			return c.exit(fmt.Errorf("%s: needs more memory than --max-memory %s allows (%v)", path, *maxMem, err))
		}
		return c.exit(fmt.Errorf("%s: %w", path, err))
	}
	defer mod.Close(context.Background())
	c.log.Info("running", "module", path, "digest", mod.Digest.String())
	if tdx {
		if err := c.measureRTMR3(opsf.eventLog, mod.Digest, rc.Config); err != nil {
			return c.exit(err)
		}
	}
	stop.started()
	code, err := mod.Run(ctx, rc)
	if s := stop.finish(); s != 0 {
		fmt.Fprintf(c.stderr, "keep: %s: stopped by %s\n", path, signalName(s))
		return exitSignal + int(s)
	}
	var trap *runtime.TrapError
	switch {
	case err == nil:
		return int(code & 0xff)
	case errors.Is(err, runtime.ErrDrained):
		c.log.Info("drained: every connection finished; module stopped")
		return 0
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(c.stderr, "keep: %s: stopped after --timeout %v\n", path, *timeout)
		return exitTimeout
	case errors.As(err, &trap):
		fmt.Fprintf(c.stderr, "keep: %s: %v\n", path, err) // names the instance, if several
		return exitTrap
	}
	var ce *runtime.ConfigError
	if errors.As(err, &ce) {
		return c.exit(err) // names the config's file and line
	}
	return c.exit(fmt.Errorf("%s: %w", path, err))
}

// openCache opens the compilation cache: dir (else $KEEP_CACHE_DIR, else
// keep in the user cache dir) with the key in keyFile (else
// $KEEP_CACHE_KEY, else keep/cache.key in the user config dir). A cache
// the user named must open; the default one is skipped, with a warning,
// when it cannot (no home directory, a read-only one).
func (c *cli) openCache(dir, keyFile string) (*runtime.DiskCache, error) {
	named := dir != "" || os.Getenv("KEEP_CACHE_DIR") != ""
	if dir == "" {
		dir = os.Getenv("KEEP_CACHE_DIR")
	}
	if keyFile == "" {
		keyFile = os.Getenv("KEEP_CACHE_KEY")
	}
	fail := func(err error) (*runtime.DiskCache, error) {
		if named {
			return nil, fmt.Errorf("--cache-dir: %w", err)
		}
		fmt.Fprintf(c.stderr, "keep: warning: compilation cache off (%v); use --cache-dir DIR, or --no-cache to silence this\n", err)
		return nil, nil
	}
	if dir == "" {
		ucd, err := os.UserCacheDir()
		if err != nil {
			return fail(err)
		}
		dir = filepath.Join(ucd, "keep")
	}
	if keyFile == "" {
		cd, err := os.UserConfigDir()
		if err != nil {
			return fail(fmt.Errorf("no place for the cache key (%v); give --cache-key", err))
		}
		keyFile = filepath.Join(cd, "keep", "cache.key")
	}
	dc, err := runtime.OpenDiskCache(dir, keyFile)
	if err != nil {
		return fail(err)
	}
	c.log.Debug("compilation cache", "dir", dir, "key", keyFile)
	return dc, nil
}

// writesOutput tells whether cfg gives the module a stdout or stderr.
func writesOutput(cfg *runtime.Config) bool {
	for _, f := range cfg.Files {
		if f.Kind == runtime.KindStdout || f.Kind == runtime.KindStderr {
			return true
		}
	}
	return false
}

// hintEnarxToml prints a one-line hint when the current directory has an
// Enarx.toml that --config (named config) does not name: Enarx reads it by
// itself, keep only when told to.
func (c *cli) hintEnarxToml(config string) {
	st, err := os.Stat("Enarx.toml")
	if err != nil || !st.Mode().IsRegular() {
		return
	}
	if config != "" {
		if cst, err := os.Stat(config); err == nil && os.SameFile(st, cst) {
			return
		}
	}
	fmt.Fprintf(c.stderr, "keep: hint: ./Enarx.toml is not used unless named: add --config Enarx.toml\n")
}

// parseEnv parses --env values: NAME=VALUE, or NAME alone to pass NAME on
// from keep's own environment (as wasmtime does).
func parseEnv(envs []string) ([][2]string, error) {
	var out [][2]string
	for _, e := range envs {
		k, v, ok := strings.Cut(e, "=")
		if k == "" || strings.ContainsRune(k, 0) || strings.ContainsRune(v, 0) {
			return nil, usageError{fmt.Sprintf("--env %q: want NAME=VALUE or NAME", e)}
		}
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				return nil, usageError{fmt.Sprintf("--env %q: %s is not set in keep's environment (give %s=VALUE)", e, k, k)}
			}
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// inheritedEnv is keep's environment for --env-inherit, less what the
// config sets (the config's env wins over the inherited one) and the
// FD_COUNT and FD_NAMES that Keep sets from the config's [[files]].
func inheritedEnv(environ []string, cfg *runtime.Config) [][2]string {
	var out [][2]string
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if cfg != nil {
			if _, set := cfg.Env[k]; set || k == "FD_COUNT" || k == "FD_NAMES" {
				continue
			}
		}
		out = append(out, [2]string{k, v})
	}
	return out
}

// flagSet reports whether the command line gave the flag name.
func flagSet(fs *flag.FlagSet, name string) (set bool) {
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// parseDir parses a --dir value: HOST (seen at the same path), wazero's
// HOST:GUEST and HOST:GUEST:ro (HOST:ro is HOST read-only), or wasmtime's
// HOST::GUEST. Anything else, such as HOST:GUEST:rw or an empty part, is an
// error, never a directory with a colon in its name.
func parseDir(s string) (runtime.Mount, error) {
	m := runtime.Mount{}
	bad := usageError{fmt.Sprintf("--dir %q: want HOST, HOST:GUEST, HOST:GUEST:ro or HOST::GUEST", s)}
	var host, guest string
	if h, g, ok := strings.Cut(s, "::"); ok {
		host, guest = h, g
		if strings.Contains(g, ":") {
			return m, bad
		}
	} else {
		parts := strings.Split(s, ":")
		switch {
		case len(parts) == 1:
			host, guest = parts[0], parts[0]
		case len(parts) == 2 && parts[1] == "ro":
			host, guest, m.ReadOnly = parts[0], parts[0], true
		case len(parts) == 2:
			host, guest = parts[0], parts[1]
		case len(parts) == 3 && parts[2] == "ro":
			host, guest, m.ReadOnly = parts[0], parts[1], true
		default:
			return m, bad
		}
	}
	if host == "" || guest == "" {
		return m, bad
	}
	st, err := os.Stat(host)
	if err != nil {
		return m, fmt.Errorf("--dir %q: %w", s, unwrapPath(err))
	}
	if !st.IsDir() {
		return m, fmt.Errorf("--dir %q: %s is not a directory", s, host)
	}
	m.Host, m.Guest = host, guest
	return m, nil
}

// parseMemory parses --max-memory: a number of 64 KiB pages, or a size with
// a KiB, MiB or GiB suffix that is a whole number of pages.
func parseMemory(s string) (uint32, error) {
	if s == "" {
		return 0, nil
	}
	bad := func(why string) (uint32, error) {
		return 0, usageError{fmt.Sprintf("--max-memory %q: %s", s, why)}
	}
	num, unit := s, uint64(0)
	for _, u := range []struct {
		suffix string
		size   uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			num, unit = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.size
		}
	}
	if strings.HasPrefix(num, "-") {
		return bad("must not be negative")
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return bad("want N pages or a size such as 256MiB")
	}
	pages := n
	if unit != 0 {
		if n > runtime.MaxPages*runtime.PageSize || (n*unit)%runtime.PageSize != 0 {
			return bad("not a whole number of 64 KiB pages up to 4GiB")
		}
		pages = n * unit / runtime.PageSize
	}
	if pages == 0 || pages > runtime.MaxPages {
		return bad(fmt.Sprintf("want 1 to %d pages (4GiB)", runtime.MaxPages))
	}
	return uint32(pages), nil
}

// pathErr turns "open x: no such file" into "x: no such file".
func pathErr(err error) error {
	var pe *iofs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

func unwrapPath(err error) error {
	var pe *iofs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

const digestUsage = `Usage: keep digest MODULE

Prints the module's digest, sha384:<hex>: the SHA-384 of its exact bytes, the
identity Keep binds into attestation evidence.

`

func (c *cli) digest(args []string) error {
	fs := c.flags("digest", digestUsage)
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"digest: want exactly one MODULE"}
	}
	wasm, err := runtime.ReadModule(fs.Arg(0))
	if err != nil {
		return pathErr(err)
	}
	fmt.Fprintln(c.stdout, runtime.DigestOf(wasm))
	return nil
}

const configUsage = `Usage: keep config init [--force] [FILE]

Writes a commented Enarx.toml template to FILE (default Enarx.toml), or to
standard output when FILE is -. It refuses to overwrite unless --force.

`

func (c *cli) config(args []string) error {
	if len(args) == 0 || (args[0] != "init" && args[0] != "--help" && args[0] != "-h" && args[0] != "help") {
		if len(args) == 0 {
			return usageError{"config: want a subcommand: init"}
		}
		return usageError{fmt.Sprintf("config: unknown subcommand %q (want init)", args[0])}
	}
	if args[0] == "init" {
		args = args[1:]
	}
	fs := c.flags("config init", configUsage)
	force := fs.Bool("force", false, "overwrite FILE if it exists")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError{"config init: want at most one FILE"}
	}
	path := "Enarx.toml"
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	if path == "-" {
		_, err := io.WriteString(c.stdout, runtime.ConfigTemplate)
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, iofs.ErrExist) {
		return fmt.Errorf("%s: already exists (use --force to overwrite)", path)
	}
	if err != nil {
		return pathErr(err)
	}
	if _, err := io.WriteString(f, runtime.ConfigTemplate); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "keep: wrote %s\n", path)
	return nil
}

const platformUsage = `Usage: keep platform info [--json]

Lists Keep's TEE backends, whether this machine can use each, and why not.

`

func (c *cli) platform(args []string) error {
	if len(args) == 0 || (args[0] != "info" && args[0] != "--help" && args[0] != "-h") {
		return usageError{"platform: want a subcommand: info"}
	}
	if args[0] == "info" {
		args = args[1:]
	}
	fs := c.flags("platform info", platformUsage)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"platform info: takes no arguments"}
	}
	st := backends.Statuses()
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	for _, s := range st {
		mark := "no "
		if s.Available {
			mark = "yes"
		}
		fmt.Fprintf(c.stdout, "%-4s %s  %s\n", s.Name, mark, s.Reason)
	}
	return nil
}

func (c *cli) version(args []string) error {
	fs := c.flags("version", "Usage: keep version\n\n")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "keep %s\nwazero %s\n%s %s/%s\n", runtime.Version(), runtime.WazeroVersion(), goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
	return nil
}
