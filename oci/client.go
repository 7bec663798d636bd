package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Options configure registry access.
type Options struct {
	// InsecureRegistries lists registries (host or host:port) that may be
	// reached over plain HTTP. Loopback registries always may.
	InsecureRegistries []string
	// Credential, if set, is used for the reference's registry instead of
	// Docker's credentials (--registry-auth / KEEP_REGISTRY_AUTH in CI).
	Credential *auth.Credential
	// DockerConfig is the Docker config.json to read credentials (and
	// credential helpers) from; "" means the default ($DOCKER_CONFIG or
	// ~/.docker/config.json). NoDockerConfig skips it.
	DockerConfig   string
	NoDockerConfig bool
	// MaxModuleSize bounds the Wasm layer (default DefaultMaxModuleSize).
	MaxModuleSize int64
	// RequireDigest refuses tag references.
	RequireDigest bool
	// Store, if set, keeps verified blobs; a digest reference whose blobs
	// are all in it needs no network.
	Store *Store
	// Transport is the HTTP transport (default: a clone of
	// http.DefaultTransport with connect, TLS and header timeouts).
	Transport http.RoundTripper
	// UserAgent is sent to registries.
	UserAgent string
}

// Timeouts of the default transport. The whole operation is bounded by
// the caller's context.
const (
	dialTimeout     = 30 * time.Second
	tlsTimeout      = 30 * time.Second
	responseTimeout = 60 * time.Second
)

// Module is a module fetched and verified.
type Module struct {
	// Reference is what was asked for.
	Reference Reference
	// ManifestDigest is the digest of the manifest (or index) the
	// reference resolved to: for a tag, what the tag named at that moment.
	ManifestDigest digest.Digest
	// Layer describes the Wasm layer.
	Layer ocispec.Descriptor
	// Wasm is the module's exact bytes, verified against Layer.Digest.
	Wasm []byte
	// FromStore is true when no byte came from the network.
	FromStore bool
}

// Pinned is the reference pinned to the manifest digest.
func (m *Module) Pinned() Reference { return m.Reference.WithDigest(m.ManifestDigest) }

// Error is a registry operation's error: one line naming the reference.
type Error struct {
	Ref string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("oci://%s: %v", e.Ref, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// repository returns an oras client for ref, applying the transport rule:
// HTTPS, except loopback registries and InsecureRegistries, which use
// plain HTTP. A reference written http:// to another registry is refused.
func (o *Options) repository(ref Reference) (*remote.Repository, error) {
	insecure := slices.ContainsFunc(o.InsecureRegistries, func(h string) bool {
		return strings.EqualFold(h, ref.Registry) || strings.EqualFold(h, ref.host())
	})
	plain := ref.loopback() || insecure
	if ref.PlainHTTP && !plain {
		return nil, fmt.Errorf("plain HTTP to registry %s, which is not on loopback: refused (name it with --insecure-registry %s to allow it)", ref.Registry, ref.Registry)
	}
	if plain && !ref.loopback() && o.Credential != nil {
		return nil, fmt.Errorf("--registry-auth over plain HTTP to %s would send the password in clear: refused", ref.Registry)
	}
	tr := o.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = tlsTimeout
		t.ResponseHeaderTimeout = responseTimeout
		tr = t
	}
	cred, err := o.credentialFunc(ref)
	if err != nil {
		return nil, err
	}
	client := &auth.Client{
		Client:     &http.Client{Transport: tr},
		Header:     http.Header{},
		Credential: cred,
		Cache:      auth.NewCache(),
	}
	ua := o.UserAgent
	if ua == "" {
		ua = "keep"
	}
	client.SetUserAgent(ua)
	return &remote.Repository{
		Client:    client,
		Reference: orasRef(ref),
		PlainHTTP: plain,
		ManifestMediaTypes: []string{
			MediaTypeImageManifest, MediaTypeImageIndex,
		},
		MaxMetadataBytes: MaxManifestSize,
		SkipReferrersGC:  true,
	}, nil
}

// credentialFunc is the static credential for the reference's registry,
// or Docker's store (config.json, credential helpers).
func (o *Options) credentialFunc(ref Reference) (auth.CredentialFunc, error) {
	if o.Credential != nil {
		return auth.StaticCredential(ref.Registry, *o.Credential), nil
	}
	if o.NoDockerConfig {
		return nil, nil
	}
	var store credentials.Store
	var err error
	if o.DockerConfig != "" {
		store, err = credentials.NewStore(o.DockerConfig, credentials.StoreOptions{})
	} else {
		store, err = credentials.NewStoreFromDocker(credentials.StoreOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("docker credentials: %v", err)
	}
	return credentials.Credential(store), nil
}

func (o *Options) maxModule() int64 {
	if o.MaxModuleSize > 0 {
		return o.MaxModuleSize
	}
	return DefaultMaxModuleSize
}

// Fetch fetches the module ref names, checking every digest and size and
// the artifact's shape, from the store when it has every blob of a digest
// reference, else from the registry (storing what it verified).
func Fetch(ctx context.Context, ref Reference, o Options) (*Module, error) {
	m, err := fetch(ctx, ref, &o)
	if err != nil {
		return nil, &Error{Ref: ref.String(), Err: describe(err)}
	}
	return m, nil
}

// fetcher fetches blobs of one repository, from the store or the network.
type fetcher struct {
	o      *Options
	ref    Reference
	repo   *remote.Repository
	net    bool // something came from the network
	repoEr error
}

func (f *fetcher) repository() (*remote.Repository, error) {
	if f.repo == nil && f.repoEr == nil {
		f.repo, f.repoEr = f.o.repository(f.ref)
	}
	return f.repo, f.repoEr
}

func fetch(ctx context.Context, ref Reference, o *Options) (*Module, error) {
	if ref.Digest == "" && o.RequireDigest {
		return nil, fmt.Errorf("tag %q refused: digests are required (write @sha256:DIGEST)", ref.Tag)
	}
	f := &fetcher{o: o, ref: ref}
	if _, err := f.repository(); err != nil { // transport rules apply even when the store has it
		return nil, err
	}
	top, mt, body, err := f.manifest(ctx, ref)
	if err != nil {
		return nil, err
	}
	mod := &Module{Reference: ref, ManifestDigest: top}
	if mt == MediaTypeImageIndex {
		desc, err := ParseIndex(body)
		if err != nil {
			return nil, err
		}
		if desc.Size > MaxManifestSize {
			return nil, fmt.Errorf("manifest %s: %d bytes, more than the %d-byte limit", desc.Digest, desc.Size, MaxManifestSize)
		}
		child, err := f.blob(ctx, desc, MaxManifestSize, true)
		if err != nil {
			return nil, err
		}
		if mt, err = kindOf(desc.MediaType, child); err != nil {
			return nil, err
		}
		if mt != MediaTypeImageManifest {
			return nil, errors.New("index entry is itself an index: refused")
		}
		body = child
	}
	m, layer, err := ParseManifest(body)
	if err != nil {
		return nil, err
	}
	if m.Config.MediaType == MediaTypeWasmConfig {
		if m.Config.Size > MaxConfigSize {
			return nil, fmt.Errorf("wasm config: %d bytes, more than the %d-byte limit", m.Config.Size, MaxConfigSize)
		}
		cfg, err := f.blob(ctx, m.Config, MaxConfigSize, false)
		if err != nil {
			return nil, err
		}
		if err := ParseWasmConfig(cfg, layer.Digest); err != nil {
			return nil, err
		}
	}
	if layer.Size > o.maxModule() {
		return nil, fmt.Errorf("module of %d bytes exceeds the %d-byte limit (--max-module-size)", layer.Size, o.maxModule())
	}
	wasm, err := f.blob(ctx, layer, o.maxModule(), false)
	if err != nil {
		return nil, err
	}
	if err := CheckCoreModule(wasm); err != nil {
		return nil, fmt.Errorf("layer %s: %w", layer.Digest, err)
	}
	mod.Layer, mod.Wasm, mod.FromStore = layer, wasm, !f.net
	return mod, nil
}

// manifest resolves ref and returns the top-level manifest: by digest from
// the store if it is there, else from the registry, verified.
func (f *fetcher) manifest(ctx context.Context, ref Reference) (digest.Digest, string, []byte, error) {
	if ref.Digest != "" && f.o.Store != nil {
		if body, ok, err := f.o.Store.Get(ref.Digest, MaxManifestSize); err == nil && ok {
			if mt, err := kindOf("", body); err == nil {
				return ref.Digest, mt, body, nil
			}
		}
	}
	repo, err := f.repository()
	if err != nil {
		return "", "", nil, err
	}
	f.net = true
	want := ref.Tag
	if ref.Digest != "" {
		want = ref.Digest.String()
	}
	desc, rc, err := repo.FetchReference(ctx, want)
	if err != nil {
		return "", "", nil, err
	}
	defer rc.Close()
	if desc.Size > MaxManifestSize {
		return "", "", nil, fmt.Errorf("manifest of %d bytes exceeds the %d-byte limit", desc.Size, MaxManifestSize)
	}
	body, err := readVerified(rc, desc, MaxManifestSize, "manifest")
	if err != nil {
		return "", "", nil, err
	}
	if ref.Digest != "" && desc.Digest != ref.Digest {
		return "", "", nil, fmt.Errorf("registry served manifest %s for %s: digest mismatch", desc.Digest, ref.Digest)
	}
	mt, err := kindOf(desc.MediaType, body)
	if err != nil {
		return "", "", nil, err
	}
	if f.o.Store != nil {
		f.o.Store.Put(desc.Digest, body) // a cache: failing to fill it is not fatal
	}
	return desc.Digest, mt, body, nil
}

// blob returns the blob desc from the store or the registry, verified and
// at most limit bytes.
func (f *fetcher) blob(ctx context.Context, desc ocispec.Descriptor, limit int64, isManifest bool) ([]byte, error) {
	if desc.Size > limit {
		return nil, fmt.Errorf("blob %s: %d bytes, more than the %d-byte limit", desc.Digest, desc.Size, limit)
	}
	if f.o.Store != nil {
		if data, ok, err := f.o.Store.Get(desc.Digest, limit); err == nil && ok && int64(len(data)) == desc.Size {
			return data, nil
		}
	}
	repo, err := f.repository()
	if err != nil {
		return nil, err
	}
	f.net = true
	var rc io.ReadCloser
	if isManifest {
		rc, err = repo.Manifests().Fetch(ctx, desc)
	} else {
		rc, err = repo.Blobs().Fetch(ctx, desc)
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := readVerified(rc, desc, limit, "blob "+desc.Digest.String())
	if err != nil {
		return nil, err
	}
	if f.o.Store != nil {
		f.o.Store.Put(desc.Digest, data)
	}
	return data, nil
}

// readVerified reads exactly desc.Size bytes (at most limit) and checks
// that they hash to desc.Digest.
func readVerified(r io.Reader, desc ocispec.Descriptor, limit int64, what string) ([]byte, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("%s: digest %q: %v", what, desc.Digest, err)
	}
	n := min(desc.Size, limit)
	data, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	if int64(len(data)) != desc.Size {
		return nil, fmt.Errorf("%s: size mismatch: registry sent %s, the descriptor says %d bytes", what, sizeText(len(data), n), desc.Size)
	}
	if got := desc.Digest.Algorithm().FromBytes(data); got != desc.Digest {
		return nil, fmt.Errorf("%s: digest mismatch: the bytes served hash to %s", what, got)
	}
	return data, nil
}

func sizeText(got int, n int64) string {
	if int64(got) > n {
		return fmt.Sprintf("more than %d bytes", n)
	}
	return fmt.Sprintf("%d bytes", got)
}

// describe turns oras and network errors into one short line.
func describe(err error) error {
	var er *errcode.ErrorResponse
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &er):
		switch er.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("authentication refused by the registry (%d %s; check docker login or --registry-auth)", er.StatusCode, http.StatusText(er.StatusCode))
		case http.StatusNotFound:
			return fmt.Errorf("not found (repository, tag or digest): %v", er.Errors)
		}
		msg := http.StatusText(er.StatusCode)
		if len(er.Errors) > 0 {
			msg = er.Errors.Error()
		}
		return fmt.Errorf("registry answered %d: %s", er.StatusCode, msg)
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return errors.New("authentication refused: the registry wants a login and none was given (docker login, or --registry-auth / KEEP_REGISTRY_AUTH)")
	case errors.Is(err, errdef.ErrNotFound):
		return errors.New("not found (repository, tag or digest)")
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("timed out (--registry-timeout)")
	case errors.As(err, &oe) && oe.Op == "dial":
		return fmt.Errorf("registry unreachable: %v", oe.Err)
	case errors.As(err, &ne):
		return fmt.Errorf("registry unreachable: %v", ne)
	}
	return err
}

// Push publishes wasm, a core module, in the CNCF layout: config
// MediaTypeWasmConfig (architecture wasm, os wasip1, layerDigests), one
// layer MediaTypeWasm with the exact bytes, and an OCI image manifest
// v1.1. It tags the manifest if ref has a tag and returns its digest. The
// manifest is a function of the module bytes alone (no time stamps), so
// pushing the same module twice gives the same digest.
func Push(ctx context.Context, ref Reference, wasm []byte, o Options) (digest.Digest, error) {
	d, err := push(ctx, ref, wasm, &o)
	if err != nil {
		return "", &Error{Ref: ref.String(), Err: describe(err)}
	}
	return d, nil
}

// created is the config's "created": a fixed time, as reproducible image
// builders write, so that the manifest digest depends on the module only.
const created = "1970-01-01T00:00:00Z"

// Artifact builds the CNCF-layout config and manifest for wasm.
func Artifact(wasm []byte) (config, manifest []byte, layer ocispec.Descriptor, err error) {
	layer = ocispec.Descriptor{MediaType: MediaTypeWasm, Digest: digest.FromBytes(wasm), Size: int64(len(wasm))}
	config, err = json.Marshal(WasmConfig{Created: created, Architecture: ArchWasm, OS: OSWasip1, LayerDigests: []digest.Digest{layer.Digest}})
	if err != nil {
		return nil, nil, layer, err
	}
	cdesc := ocispec.Descriptor{MediaType: MediaTypeWasmConfig, Digest: digest.FromBytes(config), Size: int64(len(config))}
	// image-spec v1.1 manifest.md, "Guidelines for Artifact Usage", case 3
	// (an artifact with a config blob): artifactType is set to the value
	// common to the artifact's tooling, here the CNCF config type that
	// designates a Wasm artifact (and what readers fall back to anyway).
	m := ocispec.Manifest{
		MediaType:    MediaTypeImageManifest,
		ArtifactType: MediaTypeWasmConfig,
		Config:       cdesc,
		Layers:       []ocispec.Descriptor{layer},
	}
	m.SchemaVersion = 2
	manifest, err = json.Marshal(m)
	return config, manifest, layer, err
}

func push(ctx context.Context, ref Reference, wasm []byte, o *Options) (digest.Digest, error) {
	if ref.Digest != "" {
		return "", errors.New("push needs oci://REGISTRY/REPO[:TAG], not a digest")
	}
	if err := CheckCoreModule(wasm); err != nil {
		return "", err
	}
	if int64(len(wasm)) > o.maxModule() {
		return "", fmt.Errorf("module of %d bytes exceeds the %d-byte limit (--max-module-size)", len(wasm), o.maxModule())
	}
	repo, err := o.repository(ref)
	if err != nil {
		return "", err
	}
	config, manifest, layer, err := Artifact(wasm)
	if err != nil {
		return "", err
	}
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{
		{layer, wasm},
		{ocispec.Descriptor{MediaType: MediaTypeWasmConfig, Digest: digest.FromBytes(config), Size: int64(len(config))}, config},
	} {
		ok, err := repo.Blobs().Exists(ctx, b.desc)
		if err != nil {
			return "", err
		}
		if !ok {
			if err := repo.Blobs().Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil {
				return "", err
			}
		}
	}
	mdesc := ocispec.Descriptor{MediaType: MediaTypeImageManifest, Digest: digest.FromBytes(manifest), Size: int64(len(manifest)), ArtifactType: MediaTypeWasmConfig}
	if ref.Tag != "" {
		err = repo.PushReference(ctx, mdesc, bytes.NewReader(manifest), ref.Tag)
	} else {
		err = repo.Manifests().Push(ctx, mdesc, bytes.NewReader(manifest))
	}
	if err != nil {
		return "", err
	}
	return mdesc.Digest, nil
}
