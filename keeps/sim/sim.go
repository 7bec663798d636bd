package sim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/fxamacker/cbor/v2"

	"github.com/keepwasm/keep/keeps"
)

// Tag is the CBOR tag of sim evidence. It is private to Keep (the bytes
// spell "KEEP") and lies in the first-come-first-served range of the IANA
// CBOR tags registry; it is not registered, and no other tool knows it.
const Tag uint64 = 0x4b454550

// Format is the first field of every sim evidence body.
const Format = "keep-sim-v1: SIMULATED, not a real TEE"

// MaxEvidenceSize bounds sim evidence.
const MaxEvidenceSize = 4 << 10

// body is what the sim key signs.
type body struct {
	_           struct{} `cbor:",toarray"`
	Format      string
	ReportData  []byte
	Measurement []byte // SHA-384 of the keep executable
	Key         []byte // PKIX DER of the signing key
}

// evidence is the wire form: [bstr body, bstr signature].
type evidence struct {
	_    struct{} `cbor:",toarray"`
	Body []byte
	Sig  []byte // ASN.1 ECDSA signature over SHA-256(Body)
}

// Attester is the sim attester.
type Attester struct {
	key         *ecdsa.PrivateKey
	measurement []byte
}

// NewAttester returns an attester with a fresh signing key. Its
// measurement is the SHA-384 of the running executable, a stand-in for the
// launch measurement a TEE would take.
func NewAttester() (*Attester, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Attester{key: key, measurement: selfMeasurement()}, nil
}

var selfMeasurement = sync.OnceValue(func() []byte {
	h := sha512.New384()
	if exe, err := os.Executable(); err == nil {
		if f, err := os.Open(exe); err == nil {
			io.Copy(h, f)
			f.Close()
		}
	}
	return h.Sum(nil)
})

// TEE returns keeps.TEESim.
func (a *Attester) TEE() keeps.TEE { return keeps.TEESim }

// Attest signs a sim evidence body binding rd.
func (a *Attester) Attest(ctx context.Context, rd keeps.ReportData) (*keeps.Evidence, error) {
	pub, err := x509.MarshalPKIXPublicKey(&a.key.PublicKey)
	if err != nil {
		return nil, err
	}
	b, err := cbor.Marshal(body{Format: Format, ReportData: rd[:], Measurement: a.measurement, Key: pub})
	if err != nil {
		return nil, err
	}
	d := sha256.Sum256(b)
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, d[:])
	if err != nil {
		return nil, err
	}
	data, err := cbor.Marshal(evidence{Body: b, Sig: sig})
	if err != nil {
		return nil, err
	}
	return &keeps.Evidence{Tag: Tag, Data: data}, nil
}

var decMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		MaxNestedLevels:  4,
		MaxArrayElements: 16,
		MaxMapPairs:      16,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// Verifier is the sim verifier.
type Verifier struct{}

// Tags returns the sim tag.
func (Verifier) Tags() []uint64 { return []uint64{Tag} }

// Parse decodes sim evidence and checks its self-signature. It returns
// the claims with Simulated set; SignatureVerified stays false, because no
// trusted root stands behind the key.
func Parse(data []byte) (*keeps.Claims, error) {
	if len(data) > MaxEvidenceSize {
		return nil, fmt.Errorf("sim evidence of %d bytes exceeds the %d-byte limit", len(data), MaxEvidenceSize)
	}
	var ev evidence
	if err := decMode.Unmarshal(data, &ev); err != nil {
		return nil, fmt.Errorf("sim evidence: %v", err)
	}
	var b body
	if err := decMode.Unmarshal(ev.Body, &b); err != nil {
		return nil, fmt.Errorf("sim evidence body: %v", err)
	}
	if b.Format != Format {
		return nil, fmt.Errorf("sim evidence: format %q, want %q", b.Format, Format)
	}
	if len(b.ReportData) != keeps.ReportDataSize {
		return nil, fmt.Errorf("sim evidence: %d bytes of report data, want %d", len(b.ReportData), keeps.ReportDataSize)
	}
	if len(b.Measurement) != sha512.Size384 {
		return nil, fmt.Errorf("sim evidence: %d-byte measurement, want %d", len(b.Measurement), sha512.Size384)
	}
	pub, err := x509.ParsePKIXPublicKey(b.Key)
	if err != nil {
		return nil, fmt.Errorf("sim evidence key: %v", err)
	}
	ek, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("sim evidence key is not ECDSA")
	}
	d := sha256.Sum256(ev.Body)
	if !ecdsa.VerifyASN1(ek, d[:], ev.Sig) {
		return nil, errors.New("sim evidence: bad signature")
	}
	c := &keeps.Claims{
		TEE:          keeps.TEESim,
		Simulated:    true,
		Measurements: map[string][]byte{"sim": b.Measurement},
		Notes:        []string{"SIMULATED: no TEE stands behind this evidence; it is signed by a key the keep process made itself"},
	}
	copy(c.ReportData[:], b.ReportData)
	return c, nil
}

// Verify parses and self-checks sim evidence.
func (Verifier) Verify(ctx context.Context, ev *keeps.Evidence, _ keeps.VerifyOptions) (*keeps.Claims, error) {
	if ev.Tag != Tag {
		return nil, fmt.Errorf("sim verifier: tag %d is not the sim tag", ev.Tag)
	}
	return Parse(ev.Data)
}
