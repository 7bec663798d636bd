package tdx

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/tdx/tdxtest"
)

// The real quotes and collateral live in shared/vectors beside the
// repository (read-only; its README.md gives sources, licenses, decoded
// values and validity windows). Paths are relative to this directory.
var vectorsDir = filepath.Join("..", "..", "..", "shared", "vectors")

func readVector(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(vectorsDir, name))
	if err != nil {
		tb.Fatalf("test vector %s (want shared/vectors beside the repository): %v", name, err)
	}
	return b
}

// readQuote reads a quote file; *.hex and *_hex.txt files are ASCII hex.
func readQuote(tb testing.TB, name string) []byte {
	tb.Helper()
	b := readVector(tb, name)
	if !strings.HasSuffix(name, ".hex") && !strings.HasSuffix(name, "_hex.txt") {
		return b
	}
	q, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"))
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return q
}

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func ts(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func ev(q []byte) *keeps.Evidence { return &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: q} }

func withCollateral(now time.Time, col []byte) keeps.VerifyOptions {
	return keeps.VerifyOptions{Now: now, Collateral: map[string][]byte{CollateralName: col}}
}

func newSigner(tb testing.TB) *tdxtest.Signer {
	tb.Helper()
	s, err := tdxtest.NewSigner(tdxtest.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func mustQuote(tb testing.TB, s *tdxtest.Signer, rd [64]byte) []byte {
	tb.Helper()
	q, err := s.Quote(rd)
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

func mustCollateral(tb testing.TB, s *tdxtest.Signer, spec tdxtest.CollateralSpec) []byte {
	tb.Helper()
	c, err := s.Collateral(spec)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func hasNote(c *keeps.Claims, prefix string) bool {
	return slices.ContainsFunc(c.Notes, func(n string) bool { return strings.HasPrefix(n, prefix) })
}

// collateralNotes counts the three mutually exclusive collateral notes.
func collateralNotes(c *keeps.Claims) int {
	n := 0
	for _, note := range c.Notes {
		switch note {
		case NoteCollateralGiven, NoteCollateralFetched, NoteNoCollateral:
			n++
		}
	}
	return n
}

var bg = context.Background()
