package wasi

import (
	"bytes"
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
)

// memModule is a module with one exported page of memory and nothing else.
var memModule = []byte("\x00asm\x01\x00\x00\x00" +
	"\x05\x03\x01\x00\x01" + // memory section: one memory, min 1 page
	"\x07\x0a\x01\x06memory\x02\x00") // export "memory"

// TestWithScratch: the scratch area avoids the ranges it must, and guest
// memory is as it was afterwards.
func TestWithScratch(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	mod, err := r.Instantiate(ctx, memModule)
	if err != nil {
		t.Fatal(err)
	}
	if withScratch(nil, 8, nil, func(uint32) { t.Error("fn called without memory") }) {
		t.Error("withScratch(nil) = true")
	}
	mem := mod.Memory()
	before := make([]byte, mem.Size())
	for i := range before {
		before[i] = byte(i * 7)
	}
	mem.Write(0, before)
	for _, tc := range []struct {
		name  string
		n     uint32
		avoid [][2]uint32
		ok    bool
	}{
		{"start", 24, nil, true},
		{"past a range at 0", 64, [][2]uint32{{0, 10}}, true},
		{"past ranges at both ends", 4096, [][2]uint32{{100, 10}, {mem.Size() - 1, 1}}, true},
		{"whole memory", mem.Size(), nil, true},
		{"nowhere", mem.Size(), [][2]uint32{{mem.Size() / 2, 1}}, false},
		{"larger than memory", mem.Size() + 1, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			ok := withScratch(mem, tc.n, tc.avoid, func(p uint32) {
				called = true
				for _, a := range tc.avoid {
					if p < a[0]+a[1] && a[0] < p+tc.n {
						t.Errorf("scratch [%d, %d) overlaps %v", p, p+tc.n, a)
					}
				}
				if !mem.Write(p, bytes.Repeat([]byte{0xff}, int(tc.n))) {
					t.Errorf("scratch [%d, %d) is outside memory", p, p+tc.n)
				}
			})
			if ok != tc.ok || called != tc.ok {
				t.Errorf("withScratch = %v (fn called %v), want %v", ok, called, tc.ok)
			}
			if after, _ := mem.Read(0, mem.Size()); !bytes.Equal(after, before) {
				t.Errorf("guest memory changed")
			}
		})
	}
}
