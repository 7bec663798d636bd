package sim

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/keepwasm/keep/keeps"
)

func newAttester(t testing.TB) *Attester {
	t.Helper()
	a, err := NewAttester()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func randomReportData(t testing.TB) keeps.ReportData {
	t.Helper()
	var rd keeps.ReportData
	if _, err := rand.Read(rd[:]); err != nil {
		t.Fatal(err)
	}
	return rd
}

func attest(t testing.TB, a *Attester, rd keeps.ReportData) *keeps.Evidence {
	t.Helper()
	ev, err := a.Attest(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// sign builds wire evidence for an arbitrary body, signed by key.
func sign(t testing.TB, key *ecdsa.PrivateKey, b body) []byte {
	t.Helper()
	raw, err := cbor.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return signRaw(t, key, raw)
}

// signRaw builds wire evidence for raw body bytes, signed by key.
func signRaw(t testing.TB, key *ecdsa.PrivateKey, raw []byte) []byte {
	t.Helper()
	d := sha256.Sum256(raw)
	sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	data, err := cbor.Marshal(evidence{Body: raw, Sig: sig})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func pkix(t testing.TB, pub any) []byte {
	t.Helper()
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAttestVerifyRoundTrip(t *testing.T) {
	a := newAttester(t)
	if a.TEE() != keeps.TEESim {
		t.Fatalf("TEE() = %q", a.TEE())
	}
	rd := randomReportData(t)
	ev := attest(t, a, rd)
	if ev.Tag != Tag || ev.Endorsements != nil || len(ev.Data) == 0 || len(ev.Data) > MaxEvidenceSize {
		t.Fatalf("evidence tag %#x, %d bytes, endorsements %x", ev.Tag, len(ev.Data), ev.Endorsements)
	}
	if !bytes.Contains(ev.Data, []byte("SIMULATED")) {
		t.Fatal(`evidence does not say "SIMULATED"`)
	}
	var v keeps.Verifier = Verifier{}
	if tags := v.Tags(); len(tags) != 1 || tags[0] != Tag {
		t.Fatalf("Tags() = %v", tags)
	}
	c, err := v.Verify(context.Background(), ev, keeps.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.ReportData != rd {
		t.Fatalf("report data %x, want %x", c.ReportData, rd)
	}
	if !c.Simulated || c.TEE != keeps.TEESim || c.Debug || c.SignatureVerified || c.TCBStatus != "" {
		t.Fatalf("claims %+v", c)
	}
	if m := c.Measurements["sim"]; len(m) != 48 || len(c.Measurements) != 1 {
		t.Fatalf("measurements %x", c.Measurements)
	}
	if len(c.Notes) == 0 || !strings.Contains(c.Notes[0], "SIMULATED") {
		t.Fatalf("notes %q", c.Notes)
	}

	// The measurement is the SHA-384 of the running executable, the same
	// for every attester of the process.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	h := sha512.New384()
	io.Copy(h, fh)
	fh.Close()
	if !bytes.Equal(c.Measurements["sim"], h.Sum(nil)) {
		t.Fatalf("measurement %x is not the SHA-384 of %s", c.Measurements["sim"], exe)
	}
	c2, err := Parse(attest(t, newAttester(t), rd).Data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c2.Measurements["sim"], c.Measurements["sim"]) {
		t.Fatal("two attesters of one process report different measurements")
	}

	// Zero report data round-trips too, and two attestations of the same
	// data differ (fresh ECDSA signatures).
	var zero keeps.ReportData
	e1, e2 := attest(t, a, zero), attest(t, a, zero)
	if bytes.Equal(e1.Data, e2.Data) {
		t.Fatal("two attestations are identical")
	}
	for _, e := range []*keeps.Evidence{e1, e2} {
		if c, err := Parse(e.Data); err != nil || c.ReportData != zero {
			t.Fatalf("zero report data: %+v, %v", c, err)
		}
	}
}

// Parse must not keep references into its input.
func TestParseDoesNotAlias(t *testing.T) {
	rd := randomReportData(t)
	data := attest(t, newAttester(t), rd).Data
	c, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	m := bytes.Clone(c.Measurements["sim"])
	for i := range data {
		data[i] = 0
	}
	if c.ReportData != rd || !bytes.Equal(c.Measurements["sim"], m) {
		t.Fatal("claims alias the evidence buffer")
	}
}

func TestVerifyWrongTag(t *testing.T) {
	ev := attest(t, newAttester(t), randomReportData(t))
	ev.Tag = keeps.TagIntelQuote
	_, err := Verifier{}.Verify(context.Background(), ev, keeps.VerifyOptions{})
	if err == nil || !strings.Contains(err.Error(), "is not the sim tag") {
		t.Fatalf("err = %v", err)
	}
}

// Flipping any bits of any single byte of the evidence fails Parse: every
// byte is either CBOR structure or covered by the signature (or is the
// signature), so no flip may yield evidence that parses, with the same or
// with changed report data.
func TestByteFlips(t *testing.T) {
	rd := randomReportData(t)
	data := attest(t, newAttester(t), rd).Data
	masks := []byte{0x01, 0x02, 0x10, 0x20, 0x40, 0x80, 0xff}
	if testing.Short() {
		masks = masks[:1]
	}
	for i := range data {
		for _, m := range masks {
			mut := bytes.Clone(data)
			mut[i] ^= m
			c, err := Parse(mut)
			if err == nil {
				t.Fatalf("byte %d ^ %#02x: parsed (report data changed: %v)", i, m, c.ReportData != rd)
			}
		}
	}
}

// No proper prefix of valid evidence parses, nor evidence with trailing
// bytes.
func TestTruncatedAndTrailing(t *testing.T) {
	data := attest(t, newAttester(t), randomReportData(t)).Data
	for n := range len(data) {
		if _, err := Parse(data[:n]); err == nil {
			t.Fatalf("prefix of %d/%d bytes parsed", n, len(data))
		}
	}
	for _, tail := range [][]byte{{0}, {0xf6}, data} {
		if _, err := Parse(append(bytes.Clone(data), tail...)); err == nil || !strings.Contains(err.Error(), "extraneous data") {
			t.Fatalf("trailing %x: err = %v", tail, err)
		}
	}
}

func TestBadEvidence(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rd := make([]byte, 64)
	meas := make([]byte, 48)
	good := func() body {
		return body{Format: Format, ReportData: rd, Measurement: meas, Key: pkix(t, &key.PublicKey)}
	}
	with := func(f func(*body)) []byte {
		b := good()
		f(&b)
		return sign(t, key, b)
	}
	goodBody, err := cbor.Marshal(good())
	if err != nil {
		t.Fatal(err)
	}
	goodSig := func() []byte {
		d := sha256.Sum256(goodBody)
		s, err := ecdsa.SignASN1(rand.Reader, key, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	enc := func(v any) []byte {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	for _, tc := range []struct {
		name    string
		data    []byte
		wantErr string // "" means it parses
	}{
		{name: "hand-built good", data: sign(t, key, good())},
		{name: "P-384 key", data: func() []byte {
			b := good()
			b.Key = pkix(t, &other.PublicKey)
			return sign(t, other, b)
		}()},
		{name: "wrong format", data: with(func(b *body) { b.Format = "keep-sim-v2: SIMULATED, not a real TEE" }), wantErr: `format "keep-sim-v2: SIMULATED, not a real TEE", want "keep-sim-v1`},
		{name: "empty format", data: with(func(b *body) { b.Format = "" }), wantErr: `format "", want`},
		{name: "format with trailing space", data: with(func(b *body) { b.Format = Format + " " }), wantErr: "format"},
		{name: "63 bytes of report data", data: with(func(b *body) { b.ReportData = rd[:63] }), wantErr: "63 bytes of report data, want 64"},
		{name: "65 bytes of report data", data: with(func(b *body) { b.ReportData = append(bytes.Clone(rd), 0) }), wantErr: "65 bytes of report data, want 64"},
		{name: "no report data", data: with(func(b *body) { b.ReportData = nil }), wantErr: "0 bytes of report data"},
		{name: "32-byte measurement", data: with(func(b *body) { b.Measurement = meas[:32] }), wantErr: "32-byte measurement, want 48"},
		{name: "garbage key", data: with(func(b *body) { b.Key = []byte{1, 2, 3} }), wantErr: "sim evidence key:"},
		{name: "RSA key", data: with(func(b *body) { b.Key = pkix(t, &rsaKey.PublicKey) }), wantErr: "sim evidence key is not ECDSA"},
		{name: "signed by another key", data: func() []byte {
			return sign(t, other, good()) // body names key
		}(), wantErr: "sim evidence: bad signature"},
		{name: "empty signature", data: enc(evidence{Body: goodBody, Sig: nil}), wantErr: "bad signature"},
		{name: "signature over another body", data: enc(evidence{Body: enc(body{Format: Format, ReportData: make([]byte, 64), Measurement: bytes.Repeat([]byte{1}, 48), Key: pkix(t, &key.PublicKey)}), Sig: goodSig}), wantErr: "bad signature"},
		{name: "good parts reassembled", data: enc(evidence{Body: goodBody, Sig: goodSig})},
		{name: "evidence not an array", data: enc(map[string][]byte{"body": goodBody}), wantErr: "sim evidence: "},
		{name: "evidence of 3 elements", data: enc([][]byte{goodBody, goodSig, nil}), wantErr: "sim evidence: "},
		{name: "evidence of 1 element", data: enc([][]byte{goodBody}), wantErr: "sim evidence: "},
		{name: "body as text", data: enc([]any{string(goodBody), goodSig}), wantErr: "sim evidence: "},
		{name: "body not an array", data: signRaw(t, key, enc("body")), wantErr: "sim evidence body: "},
		{name: "body of 3 elements", data: signRaw(t, key, enc([]any{Format, rd, meas})), wantErr: "sim evidence body: "},
		{name: "body with trailing bytes", data: signRaw(t, key, append(bytes.Clone(goodBody), 0)), wantErr: "sim evidence body: "},
		{name: "indefinite-length evidence", data: append(append([]byte{0x9f}, enc(goodBody)...), append(enc(goodSig), 0xff)...), wantErr: "indefinite-length array isn't allowed"},
		{name: "indefinite-length body", data: signRaw(t, key, append(append([]byte{0x9f}, enc(Format)...), append(append(enc(rd), enc(meas)...), append(enc(pkix(t, &key.PublicKey)), 0xff)...)...)), wantErr: "sim evidence body: cbor: indefinite-length array isn't allowed"},
		{name: "empty", data: nil, wantErr: "sim evidence: EOF"},
		{name: "oversize", data: make([]byte, MaxEvidenceSize+1), wantErr: "sim evidence of 4097 bytes exceeds the 4096-byte limit"},
		{name: "1 MiB", data: make([]byte, 1<<20), wantErr: "exceeds the 4096-byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.data)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if !c.Simulated || c.TEE != keeps.TEESim || !bytes.Equal(c.ReportData[:], rd) {
					t.Fatalf("claims %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse = %+v, %v; want an error containing %q", c, err, tc.wantErr)
			}
		})
	}
}

// The size limit is inclusive: 4096 bytes pass the size check (and then
// fail as CBOR), 4097 do not.
func TestSizeLimitBoundary(t *testing.T) {
	_, err := Parse(make([]byte, MaxEvidenceSize))
	if err == nil || strings.Contains(err.Error(), "limit") {
		t.Fatalf("4096 zero bytes: err = %v, want a CBOR error", err)
	}
}

func FuzzParseSim(f *testing.F) {
	a := newAttester(f)
	var rd keeps.ReportData
	f.Add(attest(f, a, rd).Data)
	for i := range rd {
		rd[i] = byte(i)
	}
	f.Add(attest(f, a, rd).Data)
	f.Add([]byte{})
	f.Add([]byte{0x82, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if c != nil {
				t.Fatalf("claims %+v with error %v", c, err)
			}
			return
		}
		if len(data) > MaxEvidenceSize {
			t.Fatalf("accepted %d bytes", len(data))
		}
		if !c.Simulated || c.TEE != keeps.TEESim || c.SignatureVerified || c.Debug {
			t.Fatalf("claims %+v", c)
		}
		if len(c.Measurements["sim"]) != sha512.Size384 {
			t.Fatalf("measurement %x", c.Measurements["sim"])
		}
		if !strings.Contains(string(data), "SIMULATED") {
			t.Fatal(`accepted evidence that does not say "SIMULATED"`)
		}
	})
}
