package intel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

// allRealQuotes returns every real quote: the raw quote files and the
// quotes inside the RA-TLS certificates.
func allRealQuotes(tb testing.TB) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	for _, f := range rawQuoteFiles {
		out[f] = readQuoteFile(tb, f)
	}
	for _, cw := range certWants {
		cert := readCert(tb, cw.file)
		for i, cq := range certQuotes(tb, cert) {
			out[fmt.Sprintf("%s#%d(%s)", cw.file, i, cq.oid)] = cq.quote
		}
	}
	return out
}

// exact returns the quote without its trailing bytes.
func exact(t *testing.T, data []byte) []byte {
	t.Helper()
	q, err := ParseQuote(data)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(data[:len(data)-len(q.Trailing)])
}

func TestTruncatedAtEveryLength(t *testing.T) {
	for name, data := range allRealQuotes(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			full := exact(t, data)
			for n := 0; n < len(full); n++ {
				q, err := ParseQuote(full[:n])
				if err == nil || q != nil {
					t.Fatalf("quote cut to %d of %d bytes parsed", n, len(full))
				}
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("cut to %d bytes: %v, want ErrTruncated", n, err)
				}
			}
		})
	}
}

func TestTrailingBytesAccepted(t *testing.T) {
	data := readQuoteFile(t, "tdx/go-tdx-guest-ccel-cos-113-tdx-quote.dat")
	full := exact(t, data)
	for _, extra := range []int{0, 1, 100, len(data) - len(full)} {
		q, err := ParseQuote(data[:len(full)+extra])
		if err != nil {
			t.Fatalf("%d trailing bytes: %v", extra, err)
		}
		if len(q.Trailing) != extra {
			t.Errorf("Trailing %d, want %d", len(q.Trailing), extra)
		}
	}
	// A quote padded to exactly MaxQuoteSize parses; one byte more does not.
	padded := append(bytes.Clone(full), make([]byte, MaxQuoteSize-len(full))...)
	if _, err := ParseQuote(padded); err != nil {
		t.Errorf("quote padded to MaxQuoteSize: %v", err)
	}
	if _, err := ParseQuote(append(padded, 0)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("quote of MaxQuoteSize+1 bytes: %v, want ErrTooLarge", err)
	}
}

// Offsets in the real quotes used by the mutation tests.
const (
	v3SigLen     = HeaderSize + SGXReportBodySize                       // 432
	v3SigData    = v3SigLen + 4                                         // 436
	v3QEReport   = v3SigData + 128                                      // 564
	v3AuthSize   = v3QEReport + 384 + 64                                // 1012
	v3CertType   = v3AuthSize + 2 + 32                                  // 1046
	v3CertSize   = v3CertType + 2                                       // 1048
	v3CertData   = v3CertSize + 4                                       // 1052
	v4SigLen     = HeaderSize + TDReportBody10Size                      // 632
	v4Outer      = v4SigLen + 4 + 128                                   // 764
	v4Inner      = v4Outer + 6                                          // 770
	v4AuthSize   = v4Inner + 384 + 64                                   // 1218
	v4CertType   = v4AuthSize + 2 + 32                                  // 1252
	v4CertSize   = v4CertType + 2                                       // 1254
	v4CertData   = v4CertSize + 4                                       // 1258
	v5BodyType   = HeaderSize                                           // 48
	v5BodySize   = v5BodyType + 2                                       // 50
	v5SigLen     = HeaderSize + bodyDescriptorSize + TDReportBody15Size // 702
	sgxFileV3    = "sgx/dcap-qvl-sgx_quote"
	tdxFileV4    = "tdx/dcap-qvl-tdx_quote"
	tdxFileV5    = "tdx/go-tdx-guest-quote_sample_v5.dat"
	ratsTLSCert  = "ra-tls/rats-tls-legacy-rsa-sha1.pem"
	someBadValue = 0xdeadbeef
)

func put16(b []byte, off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
func put32(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
func get32(b []byte, off int) uint32    { return binary.LittleEndian.Uint32(b[off:]) }

func TestBadQuotes(t *testing.T) {
	v3 := exact(t, readQuoteFile(t, sgxFileV3))
	v4 := exact(t, readQuoteFile(t, tdxFileV4))
	v5 := exact(t, readQuoteFile(t, tdxFileV5))
	// Sanity: the offsets above are where the tests think they are.
	if get32(v3, v3SigLen) != uint32(len(v3)-v3SigData) || get32(v4, v4SigLen) != uint32(len(v4)-v4SigLen-4) || get32(v5, v5SigLen) != uint32(len(v5)-v5SigLen-4) {
		t.Fatal("signature length offsets are wrong")
	}
	if binary.LittleEndian.Uint16(v3[v3CertType:]) != 5 || binary.LittleEndian.Uint16(v4[v4Outer:]) != 6 || binary.LittleEndian.Uint16(v4[v4CertType:]) != 5 {
		t.Fatal("certification data offsets are wrong")
	}

	type mut struct {
		name string
		base []byte
		edit func(b []byte) []byte
		want error
	}
	set16 := func(off int, v uint16) func([]byte) []byte {
		return func(b []byte) []byte { put16(b, off, v); return b }
	}
	set32 := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { put32(b, off, v); return b }
	}
	add32 := func(off int, d int32) func([]byte) []byte {
		return func(b []byte) []byte { put32(b, off, uint32(int32(get32(b, off))+d)); return b }
	}
	cases := []mut{
		{"empty", nil, func([]byte) []byte { return nil }, ErrTruncated},
		{"header only", v3, func(b []byte) []byte { return b[:HeaderSize] }, ErrTruncated},
		{"too large", v3, func(b []byte) []byte { return append(b, make([]byte, MaxQuoteSize)...) }, ErrTooLarge},

		{"version 0", v3, set16(0, 0), ErrUnsupportedVersion},
		{"version 2 (EPID)", v3, set16(0, 2), ErrUnsupportedVersion},
		{"version 6", v4, set16(0, 6), ErrUnsupportedVersion},
		{"version 0xffff", v5, set16(0, 0xffff), ErrUnsupportedVersion},
		{"v3 key type 0 (EPID)", v3, set16(2, 0), ErrUnsupportedKeyType},
		{"v3 key type 3 (P-384)", v3, set16(2, 3), ErrUnsupportedKeyType},
		{"v4 key type 1", v4, set16(2, 1), ErrUnsupportedKeyType},
		{"v5 key type 0xffff", v5, set16(2, 0xffff), ErrUnsupportedKeyType},
		{"v3 reserved TEE field", v3, set32(4, 0x81), ErrUnsupportedTEEType},
		{"v4 TEE type 1", v4, set32(4, 1), ErrUnsupportedTEEType},
		{"v5 TEE type 0xffffffff", v5, set32(4, 0xffffffff), ErrUnsupportedTEEType},
		{"v4 TDX quote claiming SGX", v4, set32(4, 0), ErrTruncated}, // 384-byte body: the "length" read is TD body bytes

		{"v5 body type 0", v5, set16(v5BodyType, 0), ErrBadBody},
		{"v5 body type 4", v5, set16(v5BodyType, 4), ErrBadBody},
		{"v5 SGX body type in TDX quote", v5, set16(v5BodyType, 1), ErrBadBody},
		{"v5 TD 1.0 type with 1.5 size", v5, set16(v5BodyType, 2), ErrBadBody},
		{"v5 TDX quote with SGX TEE type", v5, set32(4, 0), ErrBadBody},
		{"v5 body size 0", v5, set32(v5BodySize, 0), ErrBadBody},
		{"v5 body size 584", v5, set32(v5BodySize, 584), ErrBadBody},
		{"v5 body size huge", v5, set32(v5BodySize, 0xffffffff), ErrBadBody},

		{"v3 signature length huge", v3, set32(v3SigLen, 0xffffffff), ErrTruncated},
		{"v3 signature length +1", v3, add32(v3SigLen, 1), ErrTruncated},
		{"v3 signature length -1", v3, add32(v3SigLen, -1), ErrTruncated},
		{"v3 signature length 0", v3, set32(v3SigLen, 0), ErrTruncated},
		{"v3 signature length 0, nothing after", v3, func(b []byte) []byte { put32(b, v3SigLen, 0); return b[:v3SigData] }, ErrTruncated},
		{"v3 auth data size huge", v3, set16(v3AuthSize, 0xffff), ErrTruncated},
		{"v3 cert data size huge", v3, set32(v3CertSize, 0xffffffff), ErrTruncated},
		{"v3 cert data size +1", v3, add32(v3CertSize, 1), ErrTruncated},
		{"v3 cert data size -1", v3, add32(v3CertSize, -1), ErrBadSignatureData},
		{"v3 cert data type 0", v3, set16(v3CertType, 0), ErrBadSignatureData},
		{"v3 cert data type 6", v3, set16(v3CertType, 6), ErrBadSignatureData},
		{"v3 cert data type 0xffff", v3, set16(v3CertType, 0xffff), ErrBadSignatureData},
		{"v3 byte after cert data", v3, func(b []byte) []byte { put32(b, v3SigLen, get32(b, v3SigLen)+1); return append(b, 0) }, ErrBadSignatureData},
		{"v3 PEM without BEGIN", v3, func(b []byte) []byte { b[v3CertData+11] = 'X'; return b }, ErrBadSignatureData},
		{"v3 PEM bad base64", v3, func(b []byte) []byte { b[v3CertData+40] = '*'; return b }, ErrBadSignatureData},
		{"v3 PEM without END", v3, func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte("-----END"))
			b[i+5] = 'X'
			return b
		}, ErrBadSignatureData},
		{"v3 PEM garbage after chain", v3, func(b []byte) []byte { b[len(b)-1] = 'x'; return b }, ErrBadSignatureData},
		{"v3 PEM empty", v3, func(b []byte) []byte {
			for i := v3CertData; i < len(b); i++ {
				b[i] = '\n'
			}
			return b
		}, ErrBadSignatureData},

		{"v4 signature length huge", v4, set32(v4SigLen, 0xffffffff), ErrTruncated},
		{"v4 signature length -1", v4, add32(v4SigLen, -1), ErrTruncated},
		{"v4 outer cert type 5", v4, set16(v4Outer, 5), ErrBadSignatureData},
		{"v4 outer cert type 0", v4, set16(v4Outer, 0), ErrBadSignatureData},
		{"v4 outer cert size huge", v4, set32(v4Outer+2, 0xffffffff), ErrTruncated},
		{"v4 outer cert size -1", v4, add32(v4Outer+2, -1), ErrBadSignatureData},
		{"v4 outer cert size 0", v4, set32(v4Outer+2, 0), ErrBadSignatureData},
		{"v4 auth data size huge", v4, set16(v4AuthSize, 0xffff), ErrTruncated},
		{"v4 inner cert size huge", v4, set32(v4CertSize, someBadValue), ErrTruncated},
		{"v4 inner cert size -1", v4, add32(v4CertSize, -1), ErrBadSignatureData},
		{"v4 inner cert type 6", v4, set16(v4CertType, 6), ErrBadSignatureData},
		{"v4 inner cert type 7", v4, set16(v4CertType, 7), ErrBadSignatureData},
		{"v4 byte after wrapper", v4, func(b []byte) []byte { put32(b, v4SigLen, get32(b, v4SigLen)+1); return append(b, 0) }, ErrBadSignatureData},
		{"v5 signature length huge", v5, set32(v5SigLen, 0xffffffff), ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.edit(bytes.Clone(c.base))
			q, err := ParseQuote(b)
			if err == nil || q != nil {
				t.Fatalf("parsed, want %v", c.want)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("error %q, want %v", err, c.want)
			}
		})
	}
}

func TestPEMChainWithoutNewline(t *testing.T) {
	// rats-tls quotes have "-----END CERTIFICATE----------BEGIN
	// CERTIFICATE-----"; all three certificates must come out.
	cert := readCert(t, ratsTLSCert)
	cq := certQuotes(t, cert)
	if len(cq) != 1 {
		t.Fatalf("%d quotes", len(cq))
	}
	if !bytes.Contains(cq[0].quote, []byte("-----END CERTIFICATE----------BEGIN CERTIFICATE-----")) {
		t.Fatal("vector no longer has the quirk")
	}
	q, err := ParseQuote(cq[0].quote)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(q.Signature.Certification.PCKChain); n != 3 {
		t.Fatalf("%d certificates, want 3", n)
	}
}

func TestSplitPEMChain(t *testing.T) {
	one := "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----"
	for _, c := range []struct {
		in   string
		n    int
		fail bool
	}{
		{one, 1, false},
		{one + "\n\x00", 1, false},
		{one + "\x00\x00", 1, false},
		{"\r\n" + one + one + "\n" + one, 3, false},
		{"-----BEGIN CERTIFICATE-----\nAQ ID\r\n\t-----END CERTIFICATE-----\n", 1, false},
		{"", 0, true},
		{"\x00", 0, true},
		{"\n\n", 0, true},
		{"x" + one, 0, true},
		{one + "x", 0, true},
		{one + "\x00\n", 0, true}, // NUL only at the very end
		{"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----", 0, true},
		{"-----BEGIN CERTIFICATE-----\nAQID\n", 0, true},
		{"-----BEGIN CERTIFICATE-----\nAQI=D\n-----END CERTIFICATE-----", 0, true},
		{"-----BEGIN PRIVATE KEY-----\nAQID\n-----END PRIVATE KEY-----", 0, true},
		{one + one + one + one + one + one + one + one + one, 0, true}, // more than 8
	} {
		chain, err := splitPEMChain([]byte(c.in))
		if c.fail {
			if err == nil {
				t.Errorf("%q: split into %d, want error", c.in, len(chain))
			}
			continue
		}
		if err != nil || len(chain) != c.n {
			t.Errorf("%q: %d certificates, %v; want %d", c.in, len(chain), err, c.n)
			continue
		}
		for _, der := range chain {
			if !bytes.Equal(der, []byte{1, 2, 3}) {
				t.Errorf("%q: DER %x", c.in, der)
			}
		}
	}
}

// buildQuote assembles a quote from its parts. desc is the version 5 body
// descriptor or nil.
func buildQuote(header, desc, body, sig []byte) []byte {
	var b []byte
	b = append(b, header...)
	b = append(b, desc...)
	b = append(b, body...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(sig)))
	return append(b, sig...)
}

func descriptor(t BodyType, size int) []byte {
	d := binary.LittleEndian.AppendUint16(nil, uint16(t))
	return binary.LittleEndian.AppendUint32(d, uint32(size))
}

// v4SigFromV3 rewraps version 3 signature data in the version 4 layout:
// the QE report and what follows go into certification data of type 6.
func v4SigFromV3(sig []byte) []byte {
	out := bytes.Clone(sig[:128])
	out = binary.LittleEndian.AppendUint16(out, uint16(CertDataQEReportCertified))
	out = binary.LittleEndian.AppendUint32(out, uint32(len(sig)-128))
	return append(out, sig[128:]...)
}

// TestSyntheticLayouts covers layouts no real vector has: SGX quotes of
// versions 4 and 5, and a version 5 quote with a TDX 1.0 body. They are
// built from real quotes (so their signatures do not verify).
func TestSyntheticLayouts(t *testing.T) {
	v3q, err := ParseQuote(readQuoteFile(t, sgxFileV3))
	if err != nil {
		t.Fatal(err)
	}
	v4q, err := ParseQuote(readQuoteFile(t, tdxFileV4))
	if err != nil {
		t.Fatal(err)
	}
	hdr := func(version uint16, tee TEEType) []byte {
		h := bytes.Clone(v3q.Raw[:HeaderSize])
		put16(h, 0, version)
		put32(h, 4, uint32(tee))
		put32(h, 8, 0)
		return h
	}
	sgxSig4 := v4SigFromV3(v3q.RawSignatureData)
	for _, c := range []struct {
		name     string
		quote    []byte
		bodyType BodyType
		tee      TEEType
	}{
		{"v4 SGX", buildQuote(hdr(4, TEETypeSGX), nil, v3q.RawBody, sgxSig4), BodyTypeSGX, TEETypeSGX},
		{"v5 SGX", buildQuote(hdr(5, TEETypeSGX), descriptor(BodyTypeSGX, SGXReportBodySize), v3q.RawBody, sgxSig4), BodyTypeSGX, TEETypeSGX},
		{"v5 TD 1.0", buildQuote(hdr(5, TEETypeTDX), descriptor(BodyTypeTD10, TDReportBody10Size), v4q.RawBody, v4q.RawSignatureData), BodyTypeTD10, TEETypeTDX},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := ParseQuote(c.quote)
			if err != nil {
				t.Fatal(err)
			}
			if q.BodyType != c.bodyType || q.Header.TEEType != c.tee || len(q.Trailing) != 0 {
				t.Errorf("body %s TEE %s trailing %d", q.BodyType, q.Header.TEEType, len(q.Trailing))
			}
			if c.tee == TEETypeSGX {
				if q.SGX == nil || *q.SGX != *v3q.SGX || q.TD != nil {
					t.Error("SGX body differs from the v3 quote's")
				}
			} else {
				want := *v4q.TD
				if q.TD == nil || *q.TD != want || q.SGX != nil {
					t.Error("TD body differs from the v4 quote's")
				}
			}
			src := v3q
			if c.tee == TEETypeTDX {
				src = v4q
			}
			if q.Signature.QEReport != src.Signature.QEReport || !bytes.Equal(q.Signature.QEAuthData, src.Signature.QEAuthData) ||
				len(q.Signature.Certification.PCKChain) != 3 {
				t.Error("signature data differs from the source quote's")
			}
			c := ClaimsFromQuote(q)
			if c.TEE != q.TEE() || c.SVNs[SVNQE] != uint64(src.Signature.QEReport.ISVSVN) {
				t.Errorf("claims %+v", c)
			}
			if _, ok := c.SVNs[SVNPCE]; ok {
				t.Error("pce_svn claimed for a v4/v5 quote")
			}
			// Each truncation fails.
			for n := range len(q.Raw) {
				if _, err := ParseQuote(q.Raw[:n]); !errors.Is(err, ErrTruncated) {
					t.Fatalf("cut to %d: %v", n, err)
				}
			}
		})
	}
}

func TestQuoteDoesNotAliasInput(t *testing.T) {
	data := readQuoteFile(t, sgxFileV3)
	q, err := ParseQuote(data)
	if err != nil {
		t.Fatal(err)
	}
	before := bytes.Clone(q.Raw)
	for i := range data {
		data[i] ^= 0xff
	}
	if !bytes.Equal(q.Raw, before) || q.RawSigned[0] != 3 || q.Signature.Certification.PCKChain[0][0] != 0x30 {
		t.Error("the parsed quote changed with the caller's buffer")
	}
}

func TestAttributeFlags(t *testing.T) {
	a := SGXAttributes{Flags: SGXAttrInit | SGXAttrMode64Bit | SGXAttrProvisionKey}
	if !a.Init() || a.Debug() || !a.Mode64Bit() || !a.ProvisionKey() || a.EInitTokenKey() {
		t.Errorf("%+v", a)
	}
	if !a.Flags.Has(SGXAttrInit|SGXAttrMode64Bit) || a.Flags.Has(SGXAttrInit|SGXAttrDebug) {
		t.Error("Has")
	}
	if !(SGXAttributes{Flags: SGXAttrDebug | SGXAttrEInitTokenKey}).EInitTokenKey() {
		t.Error("EINITTOKENKEY")
	}
	if !TDAttributes(1).Debug() || TDAttributes(TDAttrSEPTVEDisable).Debug() {
		t.Error("TD DEBUG")
	}
	if BodyType(9).Size() != 0 || BodyType(9).String() == "" || TEEType(5).String() == "" {
		t.Error("String/Size of unknown values")
	}
}
