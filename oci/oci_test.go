package oci

import (
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// module returns a small valid core module whose bytes depend on name (a
// custom section holds it).
func module(name string) []byte {
	b := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00, 0x00}
	payload := append([]byte{byte(len("keep"))}, "keep"+name...)
	b = append(b, byte(len(payload)))
	return append(b, payload...)
}

// component is the header of a component-model binary (layer 1).
var component = []byte{0x00, 'a', 's', 'm', 0x0d, 0x00, 0x01, 0x00}

func TestParseReference(t *testing.T) {
	d := digest.FromString("x")
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "oci://127.0.0.1:5000/hello:v1", want: "127.0.0.1:5000/hello:v1"},
		{in: "oci://ghcr.io/org/app@" + d.String(), want: "ghcr.io/org/app@" + d.String()},
		{in: "http://localhost:5000/a/b:c", want: "localhost:5000/a/b:c"},
		{in: "hello.wasm", err: "want oci://"},
		{in: "oci://", err: "no repository"},
		{in: "oci://host", err: "no repository"},
		{in: "oci://host/", err: "no repository"},
		{in: "oci://host/repo", err: "no tag or digest"},
		{in: "oci://host/Repo:v1", err: "repository"},
		{in: "oci://host/repo:v1@" + d.String(), err: "not both"},
		{in: "oci://host/repo@sha256:abc", err: "digest"},
		{in: "oci://host/repo@md5:d41d8cd98f00b204e9800998ecf8427e", err: "digest"},
		{in: "oci://host/repo:" + strings.Repeat("t", 129), err: "tag"},
		{in: "oci://host/repo:v1?x=1", err: "'?'"},
		{in: "oci://" + strings.Repeat("a", MaxReferenceLength), err: "longer than"},
	} {
		r, err := ParseReference(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseReference(%q): %v", tc.in, err)
		case tc.err == "" && r.String() != tc.want:
			t.Errorf("ParseReference(%q) = %s, want %s", tc.in, r, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseReference(%q) = %v, %v; want error with %q", tc.in, r, err, tc.err)
		}
	}
}

func TestCheckCoreModule(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"core", module("x"), ""},
		{"component", component, "this is a component"},
		{"short", []byte("\x00asm"), "no \\0asm"},
		{"not-wasm", []byte("#!/bin/sh\necho"), "no \\0asm"},
		{"version-2", []byte{0, 'a', 's', 'm', 2, 0, 0, 0}, "version 2"},
	} {
		err := CheckCoreModule(tc.in)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
