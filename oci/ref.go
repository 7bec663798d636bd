package oci

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"
)

// Reference names a module in a registry: oci://REGISTRY/REPO:TAG or
// oci://REGISTRY/REPO@sha256:DIGEST. A reference written http://... asks
// for plain HTTP, which is allowed only for loopback registries and those
// named in Options.InsecureRegistries.
type Reference struct {
	// Registry is host[:port].
	Registry string
	// Repository is the repository path.
	Repository string
	// Tag is set for a tag reference.
	Tag string
	// Digest is set for a digest reference.
	Digest digest.Digest
	// PlainHTTP is true when the reference was written http://.
	PlainHTTP bool
}

// Schemes that mark an argument as a registry reference rather than a file.
var schemes = []string{"oci://", "http://", "https://"}

// IsReference reports whether s is written as a registry reference (it
// may still be malformed: ParseReference says).
func IsReference(s string) bool {
	for _, p := range schemes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// ParseReference parses oci://REGISTRY/REPO(:TAG|@ALG:HEX). A reference
// may name a tag or a digest, not both, and must name one: "latest" is
// never implied. Only sha256 and sha512 digests are accepted.
func ParseReference(s string) (Reference, error) { return parseReference(s, false) }

// ParsePushReference parses oci://REGISTRY/REPO[:TAG], the target of a
// push: the tag may be left out (the manifest is then pushed by digest
// only), a digest may not be given.
func ParsePushReference(s string) (Reference, error) {
	r, err := parseReference(s, true)
	if err == nil && r.Digest != "" {
		return r, errors.New("push to a digest: want oci://REGISTRY/REPO[:TAG]")
	}
	return r, err
}

func parseReference(s string, bare bool) (Reference, error) {
	var r Reference
	if len(s) > MaxReferenceLength {
		return r, fmt.Errorf("reference longer than %d bytes", MaxReferenceLength)
	}
	rest, ok := "", false
	for _, p := range schemes {
		if rest, ok = strings.CutPrefix(s, p); ok {
			r.PlainHTTP = p == "http://"
			break
		}
	}
	if !ok {
		return r, errors.New("want oci://REGISTRY/REPO:TAG or oci://REGISTRY/REPO@sha256:DIGEST")
	}
	if strings.ContainsAny(rest, " \t\r\n?#") {
		return r, errors.New("reference contains a space, '?' or '#'")
	}
	slash := strings.IndexByte(rest, '/')
	if slash <= 0 || slash == len(rest)-1 {
		return r, errors.New("want oci://REGISTRY/REPO:TAG or oci://REGISTRY/REPO@sha256:DIGEST (no repository)")
	}
	path := rest[slash+1:]
	at := strings.IndexByte(path, '@')
	if at >= 0 && strings.Contains(path[:at], ":") {
		return r, errors.New("give a tag or a digest, not both")
	}
	ref, err := registry.ParseReference(rest)
	if err != nil {
		return r, errors.New(strings.TrimPrefix(err.Error(), "invalid reference: "))
	}
	r.Registry, r.Repository = ref.Registry, ref.Repository
	switch {
	case ref.Reference == "" && bare:
	case ref.Reference == "":
		return r, errors.New("no tag or digest (write :TAG or @sha256:DIGEST; \"latest\" is not implied)")
	case at >= 0:
		d, err := ref.Digest()
		if err != nil {
			return r, fmt.Errorf("digest: %v", err)
		}
		if a := d.Algorithm(); a != digest.SHA256 && a != digest.SHA512 {
			return r, fmt.Errorf("digest algorithm %q: want sha256 or sha512", a)
		}
		r.Digest = d
	default:
		r.Tag = ref.Reference
	}
	return r, nil
}

// String is the reference without scheme: REGISTRY/REPO:TAG or
// REGISTRY/REPO@DIGEST. It is what the keep-oci-reference claim holds.
func (r Reference) String() string {
	s := r.Registry + "/" + r.Repository
	if r.Digest != "" {
		return s + "@" + r.Digest.String()
	}
	if r.Tag != "" {
		return s + ":" + r.Tag
	}
	return s
}

// WithDigest returns the reference pinned to d (the tag dropped).
func (r Reference) WithDigest(d digest.Digest) Reference {
	r.Tag, r.Digest = "", d
	return r
}

// host returns the registry's host without port.
func (r Reference) host() string {
	h, _, err := net.SplitHostPort(r.Registry)
	if err != nil {
		h = r.Registry
	}
	return strings.Trim(h, "[]")
}

// loopback reports whether the registry is on this machine: localhost or
// a loopback IP address.
func (r Reference) loopback() bool {
	h := r.host()
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// orasRef is the repository part of r for oras.
func orasRef(r Reference) registry.Reference {
	return registry.Reference{Registry: r.Registry, Repository: r.Repository}
}
