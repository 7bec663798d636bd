package netattest

import (
	"crypto"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Certificate extension OIDs.
var (
	// OIDEvidence is tcg-dice-conceptual-message-wrapper (TCG DICE
	// Attestation Architecture; used for evidence by the CCC interoperable
	// RA-TLS format, formerly named tcg-dice-tagged-evidence).
	OIDEvidence = asn1.ObjectIdentifier{2, 23, 133, 5, 4, 9}
	// OIDEndorsements is tcg-dice-endorsement-manifest (same sources).
	OIDEndorsements = asn1.ObjectIdentifier{2, 23, 133, 5, 4, 2}

	// Legacy raw-quote extensions, accepted only with Options.Legacy.
	// OIDLegacyRATLS is the pre-2023 rats-tls/Intel sgx-ra-tls ECDSA quote OID.
	OIDLegacyRATLS = asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 6}
	// OIDLegacyGramine is Gramine's legacy OID as parsers decode it: Gramine
	// wrote the whole DER of 1.2.840.113741.1337.6 as the OID's content.
	OIDLegacyGramine = asn1.ObjectIdentifier{0, 6, 9, 42, 840, 113741, 1337, 6}
	// OIDLegacyIntelSDK is the Intel SGX SDK attested-TLS quote OID.
	OIDLegacyIntelSDK = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
)

// Claim names in the claims map. "pubkey-hash" and "nonce" come from the
// CCC format; the "keep-" claims are Keep's own.
const (
	ClaimPubkeyHash = "pubkey-hash"
	ClaimNonce      = "nonce"
	ClaimModuleHash = "keep-module-hash"
	ClaimConfigHash = "keep-config-hash"
	// ClaimOCIReference and ClaimOCIManifestDigest say where the module
	// came from when the keep fetched it from an OCI registry: the
	// reference as given (REGISTRY/REPO:TAG or REGISTRY/REPO@DIGEST, text)
	// and the digest of the manifest it resolved to (a hash-entry). They
	// come together or not at all; the module's identity stays
	// keep-module-hash.
	ClaimOCIReference      = "keep-oci-reference"
	ClaimOCIManifestDigest = "keep-oci-manifest-digest"
)

// MaxOCIReferenceSize bounds the keep-oci-reference claim.
const MaxOCIReferenceSize = 1024

// Hash algorithm ids of a CBOR hash-entry [alg-id, hash], from the IANA
// "Named Information Hash Algorithm Registry" (as the CCC format requires).
const (
	HashAlgSHA256 = 1
	HashAlgSHA384 = 7
	HashAlgSHA512 = 8
)

// Size limits for outside bytes.
const (
	// MaxExtensionSize bounds the evidence extension value. Intel quotes
	// with a PEM PCK chain are about 5 KB, SNP reports 1184 bytes.
	MaxExtensionSize = 64 << 10
	// MaxClaimsSize bounds the claims buffer.
	MaxClaimsSize = 4 << 10
	// MaxEndorsementsSize bounds the endorsements extension value.
	MaxEndorsementsSize = 64 << 10
)

var hashAlgs = map[uint64]crypto.Hash{
	HashAlgSHA256: crypto.SHA256,
	HashAlgSHA384: crypto.SHA384,
	HashAlgSHA512: crypto.SHA512,
}

func hashAlgID(h crypto.Hash) (uint64, error) {
	for id, hh := range hashAlgs {
		if hh == h {
			return id, nil
		}
	}
	return 0, fmt.Errorf("hash %v has no hash-entry id (want SHA-256, SHA-384 or SHA-512)", h)
}

// decMode decodes outside bytes strictly: definite lengths only, no
// duplicate map keys, no tags, bounded nesting and sizes. tagMode is the
// same but takes the one tag that wraps the evidence extension's array.
var decMode, tagMode = newDecMode(cbor.TagsForbidden), newDecMode(cbor.TagsAllowed)

func newDecMode(tags cbor.TagsMode) cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		MaxNestedLevels:  4,
		MaxArrayElements: 16,
		MaxMapPairs:      32,
		TagsMd:           tags,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}

var encMode = func() cbor.EncMode {
	em, err := cbor.EncOptions{Sort: cbor.SortNone, IndefLength: cbor.IndefLengthForbidden}.EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// Errors of the extension and claims parsers.
var (
	ErrNoEvidence    = errors.New("certificate has no RA-TLS evidence extension (2.23.133.5.4.9)")
	ErrEvidenceShape = errors.New("evidence extension is not tag(N)[bstr evidence, bstr claims]")
)

// TaggedEvidence is the decoded evidence extension value.
type TaggedEvidence struct {
	// Tag names the evidence format (keeps.TagIntelQuote, ...).
	Tag uint64
	// Evidence is the raw quote or report.
	Evidence []byte
	// Claims is the raw claims buffer, exactly as signed.
	Claims []byte
}

// ParseEvidenceExtension decodes an evidence extension value: a CBOR tag
// whose content is a definite array of exactly two byte strings, with no
// trailing bytes.
func ParseEvidenceExtension(value []byte) (*TaggedEvidence, error) {
	if len(value) > MaxExtensionSize {
		return nil, fmt.Errorf("evidence extension of %d bytes exceeds the %d-byte limit", len(value), MaxExtensionSize)
	}
	var raw cbor.RawTag
	if err := tagMode.Unmarshal(value, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEvidenceShape, err)
	}
	var parts []cbor.RawMessage
	if err := decMode.Unmarshal(raw.Content, &parts); err != nil {
		return nil, fmt.Errorf("%w: content: %v", ErrEvidenceShape, err)
	}
	if len(parts) != 2 {
		return nil, fmt.Errorf("%w: array of %d elements", ErrEvidenceShape, len(parts))
	}
	te := &TaggedEvidence{Tag: raw.Number}
	for i, dst := range []*[]byte{&te.Evidence, &te.Claims} {
		if err := decMode.Unmarshal(parts[i], dst); err != nil || !isByteString(parts[i]) {
			return nil, fmt.Errorf("%w: element %d is not a byte string", ErrEvidenceShape, i)
		}
	}
	if len(te.Evidence) == 0 {
		return nil, fmt.Errorf("%w: empty evidence", ErrEvidenceShape)
	}
	if len(te.Claims) > MaxClaimsSize {
		return nil, fmt.Errorf("claims buffer of %d bytes exceeds the %d-byte limit", len(te.Claims), MaxClaimsSize)
	}
	return te, nil
}

// isByteString reports whether the CBOR item's major type is 2.
func isByteString(item []byte) bool { return len(item) > 0 && item[0]>>5 == 2 }

// EncodeEvidenceExtension encodes tag(tag)[bstr evidence, bstr claims].
func EncodeEvidenceExtension(tag uint64, evidence, claims []byte) ([]byte, error) {
	return encMode.Marshal(cbor.Tag{Number: tag, Content: [][]byte{evidence, claims}})
}

// HashEntry is a CBOR hash-entry [alg-id, hash].
type HashEntry struct {
	Alg  crypto.Hash
	Hash []byte
}

// String formats the entry as "sha256:<hex>".
func (h HashEntry) String() string {
	name := map[crypto.Hash]string{crypto.SHA256: "sha256", crypto.SHA384: "sha384", crypto.SHA512: "sha512"}[h.Alg]
	return fmt.Sprintf("%s:%x", name, h.Hash)
}

type hashEntryWire struct {
	_    struct{} `cbor:",toarray"`
	Alg  uint64
	Hash []byte
}

// parseHashEntry decodes a claim value: a byte string holding a CBOR
// hash-entry. The algorithm must be known and the hash exactly its size.
func parseHashEntry(name string, v any) (HashEntry, error) {
	b, ok := v.([]byte)
	if !ok {
		return HashEntry{}, fmt.Errorf("claim %q is not a byte string", name)
	}
	var w hashEntryWire
	if err := decMode.Unmarshal(b, &w); err != nil {
		return HashEntry{}, fmt.Errorf("claim %q: not a hash-entry [alg, hash]: %v", name, err)
	}
	h, ok := hashAlgs[w.Alg]
	if !ok {
		return HashEntry{}, fmt.Errorf("claim %q: unknown hash algorithm id %d (want 1, 7 or 8)", name, w.Alg)
	}
	if len(w.Hash) != h.Size() {
		return HashEntry{}, fmt.Errorf("claim %q: %d-byte hash for %v (want %d)", name, len(w.Hash), h, h.Size())
	}
	return HashEntry{Alg: h, Hash: w.Hash}, nil
}

func encodeHashEntry(h HashEntry) ([]byte, error) {
	id, err := hashAlgID(h.Alg)
	if err != nil {
		return nil, err
	}
	return encMode.Marshal(hashEntryWire{Alg: id, Hash: h.Hash})
}

// Claims is a decoded claims buffer.
type Claims struct {
	// PubkeyHash is the hash of the certificate's SubjectPublicKeyInfo.
	PubkeyHash HashEntry
	// ModuleHash is the Wasm module digest, when the peer is a keep.
	ModuleHash *HashEntry
	// ConfigHash is the keep's config digest, when present.
	ConfigHash *HashEntry
	// OCI is where the module was fetched from, when the keep fetched it
	// from an OCI registry.
	OCI *OCIOrigin
	// Nonce is the "nonce" claim, when present.
	Nonce []byte
	// Other holds claims Keep does not interpret, by name.
	Other map[string]any
}

// OCIOrigin is the registry origin of a keep's module.
type OCIOrigin struct {
	// Reference is REGISTRY/REPO:TAG or REGISTRY/REPO@DIGEST, as given.
	Reference string
	// ManifestDigest is the digest of the manifest the reference resolved
	// to; its String() is the OCI digest form, "sha256:<hex>".
	ManifestDigest HashEntry
}

// check validates an origin's fields.
func (o *OCIOrigin) check() error {
	if o.Reference == "" || len(o.Reference) > MaxOCIReferenceSize {
		return fmt.Errorf("claim %q: want 1 to %d bytes", ClaimOCIReference, MaxOCIReferenceSize)
	}
	if a := o.ManifestDigest.Alg; a != crypto.SHA256 && a != crypto.SHA512 {
		return fmt.Errorf("claim %q: OCI digests are SHA-256 or SHA-512", ClaimOCIManifestDigest)
	}
	if len(o.ManifestDigest.Hash) != o.ManifestDigest.Alg.Size() {
		return fmt.Errorf("claim %q: %d-byte hash", ClaimOCIManifestDigest, len(o.ManifestDigest.Hash))
	}
	return nil
}

// ParseClaims decodes a claims buffer: a CBOR map with text keys and no
// duplicates, which must hold "pubkey-hash".
func ParseClaims(buf []byte) (*Claims, error) {
	if len(buf) > MaxClaimsSize {
		return nil, fmt.Errorf("claims buffer of %d bytes exceeds the %d-byte limit", len(buf), MaxClaimsSize)
	}
	if len(buf) == 0 || buf[0]>>5 != 5 {
		return nil, errors.New("claims buffer is not a CBOR map")
	}
	var m map[string]any
	if err := decMode.Unmarshal(buf, &m); err != nil {
		return nil, fmt.Errorf("claims buffer: %v", err)
	}
	c := &Claims{}
	ph, ok := m[ClaimPubkeyHash]
	if !ok {
		return nil, errors.New(`claims have no "pubkey-hash"`)
	}
	var err error
	if c.PubkeyHash, err = parseHashEntry(ClaimPubkeyHash, ph); err != nil {
		return nil, err
	}
	for k, v := range m {
		switch k {
		case ClaimPubkeyHash:
		case ClaimModuleHash, ClaimConfigHash:
			h, err := parseHashEntry(k, v)
			if err != nil {
				return nil, err
			}
			if k == ClaimModuleHash {
				c.ModuleHash = &h
			} else {
				c.ConfigHash = &h
			}
		case ClaimOCIReference:
			ref, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("claim %q is not a text string", k)
			}
			if c.OCI == nil {
				c.OCI = &OCIOrigin{}
			}
			c.OCI.Reference = ref
		case ClaimOCIManifestDigest:
			h, err := parseHashEntry(k, v)
			if err != nil {
				return nil, err
			}
			if c.OCI == nil {
				c.OCI = &OCIOrigin{}
			}
			c.OCI.ManifestDigest = h
		case ClaimNonce:
			b, ok := v.([]byte)
			if !ok {
				return nil, errors.New(`claim "nonce" is not a byte string`)
			}
			c.Nonce = b
		default:
			if c.Other == nil {
				c.Other = map[string]any{}
			}
			c.Other[k] = v
		}
	}
	if c.OCI != nil {
		_, hasRef := m[ClaimOCIReference]
		_, hasDigest := m[ClaimOCIManifestDigest]
		if !hasRef || !hasDigest {
			return nil, fmt.Errorf("claims %q and %q come together, and only one is present", ClaimOCIReference, ClaimOCIManifestDigest)
		}
		if err := c.OCI.check(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// claimsWire fixes the order of Keep's claims: "pubkey-hash" first, as the
// CCC format's examples and every peer put it.
type claimsWire struct {
	PubkeyHash []byte `cbor:"pubkey-hash"`
	ModuleHash []byte `cbor:"keep-module-hash,omitempty"`
	ConfigHash []byte `cbor:"keep-config-hash,omitempty"`
	OCIRef     string `cbor:"keep-oci-reference,omitempty"`
	OCIDigest  []byte `cbor:"keep-oci-manifest-digest,omitempty"`
}

// EncodeClaims encodes Keep's claims map.
func EncodeClaims(c *Claims) ([]byte, error) {
	var w claimsWire
	var err error
	if w.PubkeyHash, err = encodeHashEntry(c.PubkeyHash); err != nil {
		return nil, err
	}
	if c.ModuleHash != nil {
		if w.ModuleHash, err = encodeHashEntry(*c.ModuleHash); err != nil {
			return nil, err
		}
	}
	if c.ConfigHash != nil {
		if w.ConfigHash, err = encodeHashEntry(*c.ConfigHash); err != nil {
			return nil, err
		}
	}
	if c.OCI != nil {
		if err := c.OCI.check(); err != nil {
			return nil, err
		}
		w.OCIRef = c.OCI.Reference
		if w.OCIDigest, err = encodeHashEntry(c.OCI.ManifestDigest); err != nil {
			return nil, err
		}
	}
	return encMode.Marshal(w)
}
