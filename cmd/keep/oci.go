package main

import (
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/keepwasm/keep/metrics"
	"github.com/keepwasm/keep/netattest"
	"github.com/keepwasm/keep/oci"
	"github.com/keepwasm/keep/runtime"
)

// registryFlags are the flags of commands that talk to OCI registries.
type registryFlags struct {
	insecure      multiFlag
	auth          string
	requireDigest bool
	maxSize       string
	timeout       time.Duration
	cache         string
}

// registryFlags registers the registry flags on fs.
func (c *cli) registryFlags(fs *flag.FlagSet) *registryFlags {
	r := &registryFlags{}
	fs.Var(&r.insecure, "insecure-registry", "allow plain HTTP to registry `HOST[:PORT]` (repeatable; loopback registries always may)")
	fs.StringVar(&r.auth, "registry-auth", "", "registry credential `USER:PASSWORD` for the reference's registry, instead of Docker's config.json (env KEEP_REGISTRY_AUTH, which keeps it out of ps)")
	fs.BoolVar(&r.requireDigest, "require-digest", os.Getenv("KEEP_REQUIRE_DIGEST") == "1", "refuse oci:// references by tag: only @sha256:DIGEST (env KEEP_REQUIRE_DIGEST=1)")
	fs.StringVar(&r.maxSize, "max-module-size", "256MiB", "refuse a registry module larger than `SIZE` (bytes, or KiB, MiB, GiB)")
	fs.DurationVar(&r.timeout, "registry-timeout", 5*time.Minute, "bound on a whole registry fetch or push")
	fs.StringVar(&r.cache, "registry-cache", os.Getenv("KEEP_REGISTRY_CACHE"), "`DIR`: content-addressed store of verified registry blobs (env KEEP_REGISTRY_CACHE; default $XDG_CACHE_HOME/keep/oci; \"none\" for none)")
	return r
}

// options turns the flags into oci.Options.
func (r *registryFlags) options() (oci.Options, error) {
	o := oci.Options{InsecureRegistries: r.insecure, RequireDigest: r.requireDigest, UserAgent: "keep/" + runtime.Version()}
	creds := r.auth
	from := "--registry-auth"
	if creds == "" {
		creds, from = os.Getenv("KEEP_REGISTRY_AUTH"), "KEEP_REGISTRY_AUTH"
	}
	if creds != "" {
		u, p, ok := strings.Cut(creds, ":")
		if !ok || u == "" || p == "" {
			return o, usageError{from + ": want USER:PASSWORD"}
		}
		o.Credential = &auth.Credential{Username: u, Password: p}
	}
	n, err := parseSize(r.maxSize)
	if err != nil {
		return o, usageError{fmt.Sprintf("--max-module-size %q: %v", r.maxSize, err)}
	}
	o.MaxModuleSize = n
	if r.timeout <= 0 {
		return o, usageError{fmt.Sprintf("--registry-timeout %v: must be positive", r.timeout)}
	}
	dir := r.cache
	if dir == "none" {
		return o, nil
	}
	if dir == "" {
		if dir, err = oci.DefaultStoreDir(); err != nil {
			return o, nil // no cache dir on this machine: fetch every time
		}
	}
	if o.Store, err = oci.OpenStore(dir); err != nil {
		return o, fmt.Errorf("--registry-cache: %v", err)
	}
	return o, nil
}

// parseSize parses N, NKiB, NMiB or NGiB.
func parseSize(s string) (int64, error) {
	num, unit := s, int64(1)
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			num, unit = strings.TrimSuffix(s, u.suffix), u.size
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/unit {
		return 0, errors.New("want a positive size such as 256MiB")
	}
	return n * unit, nil
}

// loadModule reads a module from a file, or fetches it when path is an
// oci:// reference; then it also returns the origin for the keep's claims.
func (c *cli) loadModule(path string, r *registryFlags, sink metrics.Sink) ([]byte, *runtime.OCIOrigin, error) {
	if !oci.IsReference(path) {
		wasm, err := runtime.ReadModule(path)
		return wasm, nil, pathErr(err)
	}
	m, err := c.fetch(path, r)
	if err != nil {
		sink.ModuleFetched(metrics.OutcomeError)
		return nil, nil, err
	}
	sink.ModuleFetched(metrics.OutcomeOK)
	raw, err := hex.DecodeString(m.ManifestDigest.Encoded()) // validated by Fetch
	if err != nil {
		return nil, nil, err
	}
	origin := &netattest.OCIOrigin{Reference: m.Reference.String(), ManifestDigest: netattest.HashEntry{Alg: ociHashes[m.ManifestDigest.Algorithm()], Hash: raw}}
	return m.Wasm, origin, nil
}

// ociHashes maps OCI digest algorithms (Fetch accepts only these) to hashes.
var ociHashes = map[digest.Algorithm]crypto.Hash{digest.SHA256: crypto.SHA256, digest.SHA512: crypto.SHA512}

// fetch fetches and verifies the module ref names; a tag's resolution is
// told on stderr.
func (c *cli) fetch(ref string, r *registryFlags) (*oci.Module, error) {
	parsed, err := oci.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", ref, err)
	}
	o, err := r.options()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	m, err := oci.Fetch(ctx, parsed, o)
	if err != nil {
		return nil, err
	}
	if parsed.Digest == "" {
		fmt.Fprintf(c.stderr, "keep: oci://%s resolved to %s (pin it: oci://%s)\n", parsed, m.ManifestDigest, m.Pinned())
	}
	c.log.Info("module fetched", "reference", parsed.String(), "manifest", m.ManifestDigest.String(), "layer", m.Layer.Digest.String(), "from_store", m.FromStore, "module", runtime.DigestOf(m.Wasm).String())
	return m, nil
}

const pushUsage = `Usage: keep push [flags] MODULE oci://REGISTRY/REPO[:TAG]

Publishes MODULE (a WASI preview1 core module) in the CNCF Wasm OCI artifact
layout: one application/wasm layer holding its exact bytes, config
application/vnd.wasm.config.v0+json (architecture wasm, os wasip1), OCI image
manifest v1.1. Prints the manifest digest: run it as
oci://REGISTRY/REPO@DIGEST. The same module always gives the same digest.

Credentials come from Docker's config.json and credential helpers, or
--registry-auth / KEEP_REGISTRY_AUTH.

Flags:
`

func (c *cli) push(args []string) error {
	fs := c.flags("push", pushUsage)
	r := c.registryFlags(fs)
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageError{"push: want MODULE and oci://REGISTRY/REPO[:TAG]"}
	}
	path, target := fs.Arg(0), fs.Arg(1)
	ref, err := oci.ParsePushReference(target)
	if err != nil {
		return fmt.Errorf("%s: %v", target, err)
	}
	wasm, err := runtime.ReadModule(path)
	if err != nil {
		return pathErr(err)
	}
	if err := oci.CheckCoreModule(wasm); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	o, err := r.options()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	d, err := oci.Push(ctx, ref, wasm, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, d)
	fmt.Fprintf(c.stderr, "keep: pushed %s as oci://%s (module %s)\n", path, ref.WithDigest(d), runtime.DigestOf(wasm))
	return nil
}

const pullUsage = `Usage: keep pull [flags] oci://REGISTRY/REPO(:TAG|@DIGEST) FILE

Fetches a module as 'keep run' would, with every digest and size checked,
and saves its exact bytes to FILE (refusing to overwrite unless --force).

Flags:
`

func (c *cli) pull(args []string) error {
	fs := c.flags("pull", pullUsage)
	r := c.registryFlags(fs)
	force := fs.Bool("force", false, "overwrite FILE if it exists")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageError{"pull: want oci://REGISTRY/REPO(:TAG|@DIGEST) and FILE"}
	}
	ref, file := fs.Arg(0), fs.Arg(1)
	m, err := c.fetch(ref, r)
	if err != nil {
		return err
	}
	if !*force {
		if _, err := os.Lstat(file); err == nil {
			return fmt.Errorf("%s: already exists (use --force to overwrite)", file)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".keep-pull-*")
	if err != nil {
		return pathErr(err)
	}
	_, werr := tmp.Write(m.Wasm)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), file)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		var pe *iofs.PathError
		if errors.As(werr, &pe) {
			return fmt.Errorf("%s: %v", file, pe.Err)
		}
		return fmt.Errorf("%s: %v", file, werr)
	}
	fmt.Fprintf(c.stderr, "keep: wrote %s (module %s, manifest %s)\n", file, runtime.DigestOf(m.Wasm), m.ManifestDigest)
	return nil
}
