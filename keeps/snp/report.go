package snp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"

	"github.com/keepwasm/keep/keeps"
)

// ReportSize is the size of an SEV-SNP ATTESTATION_REPORT: 0x4A0 bytes
// (SNP firmware ABI, pub. 56860, Table 23 "ATTESTATION_REPORT Structure",
// the same for report versions 2 to 5).
const ReportSize = abi.ReportSize

// signedSize is the number of leading report bytes the signature covers
// (pub. 56860, ATTESTATION_REPORT: SIGNATURE at offset 0x2A0 covers bytes
// 0x0-0x29F).
const signedSize = 0x2A0

// Limits on outside bytes.
const (
	// MaxEndorsementsSize bounds the certificate table of an evidence. A
	// real table (VCEK, ASK, ARK, VLEK, ASVK) is about 7 KiB.
	MaxEndorsementsSize = 64 << 10
	// MaxCertTableEntries bounds the entries of a certificate table.
	MaxCertTableEntries = 32
	// MaxCollateralSize bounds each collateral item the verifier reads.
	MaxCollateralSize = 64 << 10
)

// Errors. Verify and the parsers wrap one of these.
var (
	// ErrReportSize: the report is not ReportSize bytes.
	ErrReportSize = errors.New("snp: report size")
	// ErrReport: a report field is malformed (version, reserved bytes,
	// policy, signature algorithm, signer).
	ErrReport = errors.New("snp: malformed report")
	// ErrEndorsementsTooLarge: the endorsements exceed MaxEndorsementsSize.
	ErrEndorsementsTooLarge = errors.New("snp: endorsements too large")
	// ErrCertTable: the certificate table is malformed.
	ErrCertTable = errors.New("snp: malformed certificate table")
	// ErrCollateral: a collateral item is malformed.
	ErrCollateral = errors.New("snp: malformed collateral")
	// ErrNoVCEK: no certificate for the report's signing key was given and
	// fetching it was not allowed.
	ErrNoVCEK = errors.New("snp: no VCEK: the certificate carries none; give one or allow the network")
	// ErrVerify: the report's signature, or its certificate's chain to a
	// trusted AMD root, does not verify.
	ErrVerify = errors.New("snp: verification failed")
	// ErrTCBMismatch: the TCB or chip id the signing certificate was issued
	// for is not the one the report states.
	ErrTCBMismatch = errors.New("snp: report does not match its signing certificate")
)

// ParseReport decodes a raw ATTESTATION_REPORT. It checks the size, the
// version (2 to 5), the reserved fields, the guest policy, the signature
// algorithm (1 = ECDSA P-384 with SHA-384, pub. 56860, "Signature
// Algorithm Encodings") and that a VCEK or VLEK signed the report. It does
// not check the signature.
func ParseReport(raw []byte) (*spb.Report, error) {
	if len(raw) != ReportSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrReportSize, len(raw), ReportSize)
	}
	if err := abi.ValidateReportFormat(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReport, err)
	}
	r, err := abi.ReportToProto(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReport, err)
	}
	if r.GetSignatureAlgo() != abi.SignEcdsaP384Sha384 {
		return nil, fmt.Errorf("%w: signature algorithm %d, want %d (ECDSA P-384 SHA-384)", ErrReport, r.GetSignatureAlgo(), abi.SignEcdsaP384Sha384)
	}
	info, err := abi.ParseSignerInfo(r.GetSignerInfo())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReport, err)
	}
	if info.SigningKey != abi.VcekReportSigner && info.SigningKey != abi.VlekReportSigner {
		return nil, fmt.Errorf("%w: signing key %v; only VCEK- and VLEK-signed reports can be verified", ErrReport, info.SigningKey)
	}
	return r, nil
}

// Guest policy bits (pub. 56860, Table 9 "Guest Policy Structure").
const (
	policySMT     = 1 << 16
	policyMigrate = 1 << 18
	policyDebug   = 1 << 19
)

// ClaimsFromReport returns the claims a report states. SignatureVerified is
// false: it is for Verify to set.
func ClaimsFromReport(r *spb.Report, productLine string) *keeps.Claims {
	c := &keeps.Claims{
		TEE:   keeps.TEESNP,
		Debug: r.GetPolicy()&policyDebug != 0,
		Measurements: map[string][]byte{
			"measurement":       bytes.Clone(r.GetMeasurement()),
			"host_data":         bytes.Clone(r.GetHostData()),
			"id_key_digest":     bytes.Clone(r.GetIdKeyDigest()),
			"author_key_digest": bytes.Clone(r.GetAuthorKeyDigest()),
			"family_id":         bytes.Clone(r.GetFamilyId()),
			"image_id":          bytes.Clone(r.GetImageId()),
		},
		SVNs: map[string]uint64{
			"report_version": uint64(r.GetVersion()),
			"guest_svn":      uint64(r.GetGuestSvn()),
			"vmpl":           uint64(r.GetVmpl()),
			"policy":         r.GetPolicy(),
			"platform_info":  r.GetPlatformInfo(),
			"current_tcb":    r.GetCurrentTcb(),
			"reported_tcb":   r.GetReportedTcb(),
			"committed_tcb":  r.GetCommittedTcb(),
			"launch_tcb":     r.GetLaunchTcb(),
		},
	}
	// The reported TCB's security patch levels, for minimum-TCB policies.
	t := DecomposeTCB(r.GetReportedTcb(), productLine)
	c.SVNs["tcb_bootloader"], c.SVNs["tcb_tee"] = uint64(t.Bootloader), uint64(t.TEE)
	c.SVNs["tcb_snp"], c.SVNs["tcb_microcode"] = uint64(t.SNP), uint64(t.Microcode)
	copy(c.ReportData[:], r.GetReportData())
	c.Notes = append(c.Notes,
		fmt.Sprintf("%s; current %s; committed %s; launch %s", "reported TCB "+DescribeTCB(r.GetReportedTcb(), productLine),
			DescribeTCB(r.GetCurrentTcb(), productLine), DescribeTCB(r.GetCommittedTcb(), productLine), DescribeTCB(r.GetLaunchTcb(), productLine)),
		fmt.Sprintf("firmware %d.%d build %d (committed %d.%d build %d)", r.GetCurrentMajor(), r.GetCurrentMinor(), r.GetCurrentBuild(),
			r.GetCommittedMajor(), r.GetCommittedMinor(), r.GetCommittedBuild()),
		"guest policy "+describePolicy(r.GetPolicy()),
	)
	return c
}

func describePolicy(p uint64) string {
	var parts []string
	yes := func(bit uint64, on, off string) {
		if p&bit != 0 {
			parts = append(parts, on)
		} else {
			parts = append(parts, off)
		}
	}
	yes(policyDebug, "DEBUG allowed", "debug not allowed")
	yes(policySMT, "SMT allowed", "SMT not allowed")
	yes(policyMigrate, "migration agent allowed", "no migration agent")
	return fmt.Sprintf("0x%x (ABI %d.%d or later; %s)", p, (p>>8)&0xff, p&0xff, strings.Join(parts, ", "))
}

// TCB holds the security patch levels of a TCB_VERSION.
type TCB struct {
	// FMC is the FMC firmware's SPL; Turin and later only.
	FMC uint8
	// Bootloader, TEE, SNP and Microcode are the SPLs of the PSP
	// bootloader, the PSP OS, the SNP firmware and the CPU microcode.
	Bootloader, TEE, SNP, Microcode uint8
}

// DecomposeTCB splits a TCB_VERSION into its SPLs. The layout depends on
// the product line (pub. 56860 rev 1.58, Table 3 "TCB_VERSION Structure"):
// Milan and Genoa: byte 0 boot loader, 1 TEE, 6 SNP, 7 microcode; Turin:
// byte 0 FMC, 1 boot loader, 2 TEE, 3 SNP, 7 microcode.
func DecomposeTCB(tcb uint64, productLine string) TCB {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], tcb)
	if productLine == "Turin" {
		return TCB{FMC: b[0], Bootloader: b[1], TEE: b[2], SNP: b[3], Microcode: b[7]}
	}
	return TCB{Bootloader: b[0], TEE: b[1], SNP: b[6], Microcode: b[7]}
}

// DescribeTCB renders a TCB_VERSION and its SPLs for humans.
func DescribeTCB(tcb uint64, productLine string) string {
	t := DecomposeTCB(tcb, productLine)
	s := fmt.Sprintf("0x%016x (bootloader %d, TEE %d, SNP %d, microcode %d", tcb, t.Bootloader, t.TEE, t.SNP, t.Microcode)
	if productLine == "Turin" {
		s += fmt.Sprintf(", FMC %d", t.FMC)
	}
	return s + ")"
}

// certTCB returns the SPLs a V[CL]EK certificate was issued for, from its
// KDS extensions (AMD KDS specification, pub. 57230, "VCEK Certificate
// Extensions": blSPL 1.3.6.1.4.1.3704.1.3.1, teeSPL .3.2, snpSPL .3.3,
// ucodeSPL .3.8).
func certTCB(ext *kds.Extensions) TCB {
	p := kds.DecomposeTCBVersion(ext.TCBVersion)
	return TCB{Bootloader: p.BlSpl, TEE: p.TeeSpl, SNP: p.SnpSpl, Microcode: p.UcodeSpl}
}

// Well-known certificate table GUIDs (GHCB specification, pub. 56421,
// "SNP Extended Guest Request", and go-sev-guest's abi package).
const (
	GUIDVCEK = abi.VcekGUID // 63da758d-e664-4564-adc5-f4b93be8accd
	GUIDVLEK = abi.VlekGUID // a8074bc2-a25a-483e-aae6-39c045a0b8a1
	GUIDASK  = abi.AskGUID  // 4ab7b379-bbac-4fe4-a02f-05aef327c782
	GUIDARK  = abi.ArkGUID  // c0b406a4-a803-4952-9743-3fb6014cd0ae
)

// certTableEntrySize is the size of a table entry: GUID (16 bytes),
// offset (uint32 LE), length (uint32 LE) (pub. 56421, Table 20).
const certTableEntrySize = 24

// CertTableEntry is one certificate of a table.
type CertTableEntry struct {
	// GUID names the entry, in the canonical text form.
	GUID string
	// Data is the entry's bytes (a DER certificate for the known GUIDs).
	Data []byte
}

// ParseCertTable decodes an SEV-SNP certificate table (pub. 56421, "SNP
// Extended Guest Request": entries of GUID ‖ offset ‖ length, terminated by
// an all-zero entry, offsets counted from the table's start, data after
// the entries). An empty table has no entries. It refuses tables larger
// than MaxEndorsementsSize, with more than MaxCertTableEntries entries,
// without terminator, with ranges outside the table or inside its header,
// or with repeated GUIDs. An entry may be empty (length 0).
func ParseCertTable(b []byte) ([]CertTableEntry, error) {
	if len(b) > MaxEndorsementsSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the %d-byte limit", ErrEndorsementsTooLarge, len(b), MaxEndorsementsSize)
	}
	if len(b) == 0 {
		return nil, nil
	}
	type hdr struct {
		guid        string
		off, length uint64
	}
	var hs []hdr
	end := -1
	for i := 0; ; i++ {
		at := i * certTableEntrySize
		if at+certTableEntrySize > len(b) {
			return nil, fmt.Errorf("%w: no terminating entry in %d bytes", ErrCertTable, len(b))
		}
		e := b[at : at+certTableEntrySize]
		if allZero(e) {
			end = at + certTableEntrySize
			break
		}
		if i == MaxCertTableEntries {
			return nil, fmt.Errorf("%w: more than %d entries", ErrCertTable, MaxCertTableEntries)
		}
		hs = append(hs, hdr{
			guid:   formatGUID(e[:16]),
			off:    uint64(binary.LittleEndian.Uint32(e[16:20])),
			length: uint64(binary.LittleEndian.Uint32(e[20:24])),
		})
	}
	out := make([]CertTableEntry, 0, len(hs))
	seen := map[string]bool{}
	for i, h := range hs {
		switch {
		case seen[h.guid]:
			return nil, fmt.Errorf("%w: entry %d repeats GUID %s", ErrCertTable, i, h.guid)
		case h.length > 0 && h.off < uint64(end):
			return nil, fmt.Errorf("%w: entry %d (%s) starts at %d, inside the %d-byte header", ErrCertTable, i, h.guid, h.off, end)
		case h.off+h.length > uint64(len(b)):
			return nil, fmt.Errorf("%w: entry %d (%s) spans [%d, %d), beyond the %d-byte table", ErrCertTable, i, h.guid, h.off, h.off+h.length, len(b))
		}
		seen[h.guid] = true
		out = append(out, CertTableEntry{GUID: h.guid, Data: bytes.Clone(b[h.off : h.off+h.length])})
	}
	return out, nil
}

// MarshalCertTable encodes entries as a certificate table that
// ParseCertTable reads back.
func MarshalCertTable(entries []CertTableEntry) ([]byte, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	if len(entries) > MaxCertTableEntries {
		return nil, fmt.Errorf("%w: %d entries, at most %d", ErrCertTable, len(entries), MaxCertTableEntries)
	}
	hdr := (len(entries) + 1) * certTableEntrySize
	out := make([]byte, hdr)
	for i, e := range entries {
		g, err := parseGUID(e.GUID)
		if err != nil {
			return nil, err
		}
		h := out[i*certTableEntrySize:]
		copy(h[:16], g)
		binary.LittleEndian.PutUint32(h[16:20], uint32(len(out)))
		binary.LittleEndian.PutUint32(h[20:24], uint32(len(e.Data)))
		out = append(out, e.Data...)
	}
	if len(out) > MaxEndorsementsSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the %d-byte limit", ErrEndorsementsTooLarge, len(out), MaxEndorsementsSize)
	}
	return out, nil
}

// certChain sorts table entries into go-sev-guest's certificate chain.
func certChain(entries []CertTableEntry) *spb.CertificateChain {
	c := &spb.CertificateChain{Extras: map[string][]byte{}}
	for _, e := range entries {
		switch e.GUID {
		case GUIDVCEK:
			c.VcekCert = e.Data
		case GUIDVLEK:
			c.VlekCert = e.Data
		case GUIDASK:
			c.AskCert = e.Data
		case GUIDARK:
			c.ArkCert = e.Data
		default:
			c.Extras[e.GUID] = e.Data
		}
	}
	return c
}

// formatGUID renders 16 bytes in the byte order go-sev-guest (and the
// hosts it talks to) use: the text's hex digits in order.
func formatGUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func parseGUID(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 || len(s) != 36 || formatGUID(b) != strings.ToLower(s) {
		return nil, fmt.Errorf("%w: %q is not a GUID", ErrCertTable, s)
	}
	return b, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
