package intel

import (
	"encoding/asn1"
	"errors"
	"strings"
	"testing"

	"github.com/keepwasm/keep/keeps/intel/inteltest"
)

// sgxExt builds an SGX extension from fields, for malformed cases.
type field struct {
	ID    asn1.ObjectIdentifier
	Value any
}

func arc(parent asn1.ObjectIdentifier, a ...int) asn1.ObjectIdentifier {
	out := append(asn1.ObjectIdentifier{}, parent...)
	return append(out, a...)
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tcbFields(t *testing.T, mutate func([]field) []field) asn1.RawValue {
	t.Helper()
	tcb := arc(OIDSGXExtension, 2)
	var fs []field
	for i := 1; i <= 16; i++ {
		fs = append(fs, field{arc(tcb, i), i})
	}
	fs = append(fs, field{arc(tcb, 17), 13}, field{arc(tcb, 18), make([]byte, 16)})
	if mutate != nil {
		fs = mutate(fs)
	}
	return asn1.RawValue{FullBytes: marshal(t, fs)}
}

func topFields(t *testing.T, tcb asn1.RawValue, mutate func([]field) []field) []byte {
	t.Helper()
	fs := []field{
		{arc(OIDSGXExtension, 1), make([]byte, 16)},
		{arc(OIDSGXExtension, 2), tcb},
		{arc(OIDSGXExtension, 3), []byte{0, 0}},
		{arc(OIDSGXExtension, 4), []byte{1, 2, 3, 4, 5, 6}},
		{arc(OIDSGXExtension, 5), asn1.Enumerated(0)},
	}
	if mutate != nil {
		fs = mutate(fs)
	}
	return marshal(t, fs)
}

func TestParsePCKExtension(t *testing.T) {
	good := topFields(t, tcbFields(t, nil), nil)
	e, err := ParsePCKExtension(good)
	if err != nil {
		t.Fatal(err)
	}
	if e.FMSPC != [6]byte{1, 2, 3, 4, 5, 6} || e.PCESVN != 13 || e.TCBComponents[0] != 1 || e.TCBComponents[15] != 16 {
		t.Fatalf("%+v", e)
	}
	drop := func(i int) func([]field) []field {
		return func(fs []field) []field { return append(fs[:i:i], fs[i+1:]...) }
	}
	set := func(i int, v any) func([]field) []field {
		return func(fs []field) []field { fs[i].Value = v; return fs }
	}
	dup := func(i int) func([]field) []field {
		return func(fs []field) []field { return append(fs, fs[i]) }
	}
	for _, tc := range []struct {
		name string
		der  []byte
		want string
	}{
		{"empty", nil, "SGX extension"},
		{"trailing bytes", append(append([]byte{}, good...), 0), "after the sequence"},
		{"not a sequence", marshal(t, 5), "SGX extension"},
		{"no PPID", topFields(t, tcbFields(t, nil), drop(0)), "no PPID"},
		{"no TCB", topFields(t, tcbFields(t, nil), drop(1)), "no TCB"},
		{"no PCE-ID", topFields(t, tcbFields(t, nil), drop(2)), "no PCE-ID"},
		{"no FMSPC", topFields(t, tcbFields(t, nil), drop(3)), "no FMSPC"},
		{"no SGX type", topFields(t, tcbFields(t, nil), drop(4)), "no SGX Type"},
		{"FMSPC 5 bytes", topFields(t, tcbFields(t, nil), set(3, []byte{1, 2, 3, 4, 5})), "FMSPC has 5 bytes"},
		{"FMSPC integer", topFields(t, tcbFields(t, nil), set(3, 7)), "FMSPC is not an OCTET STRING"},
		{"PPID 15 bytes", topFields(t, tcbFields(t, nil), set(0, make([]byte, 15))), "PPID has 15"},
		{"SGX type 3", topFields(t, tcbFields(t, nil), set(4, asn1.Enumerated(3))), "SGX Type"},
		{"FMSPC twice", topFields(t, tcbFields(t, nil), dup(3)), "repeated"},
		{"TCB not a sequence", topFields(t, asn1.RawValue{FullBytes: marshal(t, 1)}, nil), "TCB is not a SEQUENCE"},
		{"component 256", topFields(t, tcbFields(t, set(3, 256)), nil), "TCB component 4 is 256"},
		{"component -1", topFields(t, tcbFields(t, set(0, -1)), nil), "is -1"},
		{"component huge", topFields(t, tcbFields(t, set(0, asn1.RawValue{FullBytes: []byte{2, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0}})), nil), "not an INTEGER"},
		{"PCESVN 65536", topFields(t, tcbFields(t, set(16, 65536)), nil), "PCESVN is 65536"},
		{"component missing", topFields(t, tcbFields(t, drop(7)), nil), ".2.8"},
		{"PCESVN missing", topFields(t, tcbFields(t, drop(16)), nil), ".2.17"},
		{"CPUSVN missing", topFields(t, tcbFields(t, drop(17)), nil), ".2.18"},
		{"component twice", topFields(t, tcbFields(t, dup(2)), nil), "repeated"},
		{"too large", make([]byte, MaxPCKExtensionSize+1), "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePCKExtension(tc.der)
			if !errors.Is(err, ErrBadPCKCertificate) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want ErrBadPCKCertificate about %q", err, tc.want)
			}
		})
	}
	// Unknown fields are ignored.
	withExtra := topFields(t, tcbFields(t, func(fs []field) []field { return append(fs, field{arc(OIDSGXExtension, 2, 99), 1}) }),
		func(fs []field) []field { return append(fs, field{arc(OIDSGXExtension, 42), true}) })
	if _, err := ParsePCKExtension(withExtra); err != nil {
		t.Errorf("unknown fields: %v", err)
	}
}

// TestPCKExtensionRoundTrip: what inteltest encodes, ParsePCKExtension
// decodes, for both CA kinds.
func TestPCKExtensionRoundTrip(t *testing.T) {
	for _, platform := range []bool{false, true} {
		comps := [16]uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 255}
		der, err := inteltest.SGXExtension([6]byte{9, 8, 7, 6, 5, 4}, [2]byte{1, 2}, comps, 65535, platform)
		if err != nil {
			t.Fatal(err)
		}
		e, err := ParsePCKExtension(der)
		if err != nil {
			t.Fatal(err)
		}
		if e.TCBComponents != comps || e.PCESVN != 65535 || e.PCEID != [2]byte{1, 2} || e.FMSPC != [6]byte{9, 8, 7, 6, 5, 4} ||
			(len(e.PlatformInstanceID) == 16) != platform || e.SGXType != map[bool]int{false: 0, true: 1}[platform] {
			t.Errorf("platform %v: %+v", platform, e)
		}
	}
}

func TestPCKExtensionOf(t *testing.T) {
	p := newPKI(t, inteltest.PKIOptions{})
	if _, err := PCKExtensionOf(p.Leaf); err != nil {
		t.Fatal(err)
	}
	if _, err := PCKExtensionOf(p.CA); !errors.Is(err, ErrBadPCKCertificate) || !strings.Contains(err.Error(), "no SGX extension") {
		t.Fatal(err)
	}
}

// FuzzParsePCKExtension checks that ParsePCKExtension never panics and
// fails only with ErrBadPCKCertificate.
func FuzzParsePCKExtension(f *testing.F) {
	quotes := allRealQuotes(f)
	for _, name := range sortedNames(quotes) {
		q, err := ParseQuote(quotes[name])
		if err != nil {
			f.Fatal(err)
		}
		certs, err := q.Signature.Certification.Certificates()
		if err != nil {
			f.Fatal(err)
		}
		for _, ext := range certs[0].Extensions {
			if ext.Id.Equal(OIDSGXExtension) {
				f.Add(ext.Value)
			}
		}
	}
	for _, platform := range []bool{false, true} {
		der, _ := inteltest.SGXExtension([6]byte{1}, [2]byte{}, [16]uint8{1, 2}, 3, platform)
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParsePCKExtension(data)
		if err != nil {
			if e != nil || !errors.Is(err, ErrBadPCKCertificate) {
				t.Fatalf("%v %v", e, err)
			}
			return
		}
		if e.SGXType < 0 || e.SGXType > 2 {
			t.Fatal(e.SGXType)
		}
	})
}
