package intel

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/keepwasm/keep/keeps/intel/inteltest"
)

var realCollateralFiles = []string{
	"sgx/dcap-qvl-sgx_quote_collateral.json",
	"tdx/dcap-qvl-tdx_quote_collateral.json",
	"tdx/dcap-qvl-tdx_quote_outdated_collateral.json",
	"tdx/dcap-qvl-near-quote_collateral.json",
}

// TestParseRealCollateral checks the parsed bundles against the README.
func TestParseRealCollateral(t *testing.T) {
	for _, tc := range []struct {
		file       string
		id, qeID   string
		fmspc      string
		levels     int
		modules    int
		evalNumber int
		pckCA      string
		revoked    int
	}{
		{"sgx/dcap-qvl-sgx_quote_collateral.json", "SGX", "QE", "00A067110000", 11, 0, 17, cnProcessorCA, 0},
		{"tdx/dcap-qvl-tdx_quote_collateral.json", "TDX", "TD_QE", "B0C06F000000", 2, 2, 17, cnPlatformCA, 44},
		{"tdx/dcap-qvl-tdx_quote_outdated_collateral.json", "TDX", "TD_QE", "90C06F000000", 3, 2, 18, cnPlatformCA, 57},
		{"tdx/dcap-qvl-near-quote_collateral.json", "TDX", "TD_QE", "20A06F000000", 2, 2, 17, cnPlatformCA, -1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c, err := ParseCollateral(readVector(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			ti := c.TCBInfo
			if ti.ID != tc.id || c.QEIdentity.ID != tc.qeID || strings.ToUpper(string(hexOf(ti.FMSPC))) != tc.fmspc ||
				len(ti.TCBLevels) != tc.levels || len(ti.TDXModuleIdentities) != tc.modules || ti.TCBEvaluationDataNumber != tc.evalNumber {
				t.Errorf("tcbInfo %s FMSPC %X, %d levels, %d modules, eval %d; QE %s", ti.ID, []byte(ti.FMSPC), len(ti.TCBLevels), len(ti.TDXModuleIdentities), ti.TCBEvaluationDataNumber, c.QEIdentity.ID)
			}
			if c.PCKCRL.Issuer.CommonName != tc.pckCA || c.RootCACRL.Issuer.CommonName != cnRoot {
				t.Errorf("CRL issuers %q %q", c.PCKCRL.Issuer.CommonName, c.RootCACRL.Issuer.CommonName)
			}
			if tc.revoked >= 0 && len(c.PCKCRL.RevokedCertificateEntries) != tc.revoked {
				t.Errorf("%d revoked", len(c.PCKCRL.RevokedCertificateEntries))
			}
			if c.TCBInfoIssuerChain[0].Subject.CommonName != cnTCBSigning || len(c.QEIdentityIssuerChain) != 2 || len(c.PCKCRLIssuerChain) != 2 {
				t.Error("issuer chains")
			}
			if !json.Valid(c.RawTCBInfo) || !bytes.HasPrefix(c.RawTCBInfo, []byte(`{"id":"`+tc.id+`"`)) {
				t.Errorf("raw tcbInfo %.40s", c.RawTCBInfo)
			}
		})
	}
}

func hexOf(b []byte) []byte {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return out
}

// editJSON decodes a bundle into a map, lets f change it, and encodes it.
func editJSON(t *testing.T, data []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editInner edits the JSON object held as a string in field key.
func editInner(t *testing.T, key string, f func(m map[string]any)) func(map[string]any) {
	return func(m map[string]any) {
		var inner map[string]any
		if err := json.Unmarshal([]byte(m[key].(string)), &inner); err != nil {
			t.Fatal(err)
		}
		f(inner)
		b, err := json.Marshal(inner)
		if err != nil {
			t.Fatal(err)
		}
		m[key] = string(b)
	}
}

func firstLevel(m map[string]any) map[string]any {
	return m["tcbLevels"].([]any)[0].(map[string]any)
}

func TestParseCollateralErrors(t *testing.T) {
	good := readVector(t, "tdx/dcap-qvl-tdx_quote_collateral.json")
	tcb := func(f func(map[string]any)) func(map[string]any) { return editInner(t, "tcb_info", f) }
	qe := func(f func(map[string]any)) func(map[string]any) { return editInner(t, "qe_identity", f) }
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	for _, tc := range []struct {
		name string
		edit func(map[string]any)
		raw  []byte
		want string
	}{
		{name: "not JSON", raw: []byte("{"), want: "unexpected end"},
		{name: "too large", raw: make([]byte, MaxCollateralSize+1), want: "at most"},
		{name: "no pck_crl", edit: func(m map[string]any) { delete(m, "pck_crl") }, want: `no "pck_crl"`},
		{name: "no qe_identity_signature", edit: func(m map[string]any) { delete(m, "qe_identity_signature") }, want: "qe_identity_signature"},
		{name: "pck_crl not hex", edit: set("pck_crl", "zz"), want: "pck_crl is not hex"},
		{name: "pck_crl not a CRL", edit: set("pck_crl", "3003020101"), want: "pck_crl"},
		{name: "root_ca_crl too large", edit: set("root_ca_crl", strings.Repeat("00", maxCRLSize+1)), want: "larger than"},
		{name: "issuer chain not PEM", edit: set("tcb_info_issuer_chain", "hello"), want: "tcb_info_issuer_chain"},
		{name: "issuer chain too long", edit: set("qe_identity_issuer_chain", strings.Repeat(jsonField(t, good, "qe_identity_issuer_chain"), 3)), want: "at most"},
		{name: "signature short", edit: set("tcb_info_signature", "abcd"), want: "tcb_info_signature"},
		{name: "tcb_info not JSON", edit: set("tcb_info", "nope"), want: "tcbInfo"},
		{name: "tcb_info data after object", edit: func(m map[string]any) { m["tcb_info"] = m["tcb_info"].(string) + " {}" }, want: "data after"},
		{name: "tcbInfo version 2", edit: tcb(set("version", 2)), want: "version 2"},
		{name: "tcbInfo id", edit: tcb(set("id", "SEV")), want: "tcbInfo id"},
		{name: "tcbInfo fmspc length", edit: tcb(set("fmspc", "00")), want: "fmspc has 1 bytes"},
		{name: "tcbInfo fmspc hex", edit: tcb(set("fmspc", "GG")), want: "not hex"},
		{name: "tcbInfo dates reversed", edit: tcb(func(m map[string]any) { m["issueDate"], m["nextUpdate"] = m["nextUpdate"], m["issueDate"] }), want: "not before"},
		{name: "tcbInfo no levels", edit: tcb(set("tcbLevels", []any{})), want: "0 TCB levels"},
		{name: "tcbInfo too many levels", edit: tcb(func(m map[string]any) {
			l := m["tcbLevels"].([]any)
			for len(l) <= maxLevels {
				l = append(l, l[0])
			}
			m["tcbLevels"] = l
		}), want: "TCB levels"},
		{name: "level with 15 SGX components", edit: tcb(func(m map[string]any) {
			tc := firstLevel(m)["tcb"].(map[string]any)
			tc["sgxtcbcomponents"] = tc["sgxtcbcomponents"].([]any)[1:]
		}), want: "15 SGX components"},
		{name: "TDX level without TDX components", edit: tcb(func(m map[string]any) {
			delete(firstLevel(m)["tcb"].(map[string]any), "tdxtcbcomponents")
		}), want: "0 TDX components"},
		{name: "component 256", edit: tcb(func(m map[string]any) {
			firstLevel(m)["tcb"].(map[string]any)["sgxtcbcomponents"].([]any)[0].(map[string]any)["svn"] = 256
		}), want: "tcbInfo"},
		{name: "unknown status", edit: tcb(func(m map[string]any) { firstLevel(m)["tcbStatus"] = "Fine" }), want: `unknown tcbStatus "Fine"`},
		{name: "module mrsigner short", edit: tcb(func(m map[string]any) { m["tdxModule"].(map[string]any)["mrsigner"] = "00" }), want: "tdxModule mrsigner"},
		{name: "module identity without levels", edit: tcb(func(m map[string]any) {
			m["tdxModuleIdentities"].([]any)[0].(map[string]any)["tcbLevels"] = []any{}
		}), want: "TDX_03"},
		{name: "QE identity version", edit: qe(set("version", 1)), want: "QE identity version 1"},
		{name: "QE identity id", edit: qe(set("id", "PCE")), want: "QE identity id"},
		{name: "QE identity mrsigner", edit: qe(set("mrsigner", "00")), want: "mrsigner has 1 bytes"},
		{name: "QE identity attributes mask", edit: qe(set("attributesMask", "FF")), want: "attributesMask"},
		{name: "QE identity miscselect", edit: qe(set("miscselect", "0000")), want: "miscselect has 2"},
		{name: "QE identity isvprodid", edit: qe(set("isvprodid", -1)), want: "QE identity"},
		{name: "QE identity levels", edit: qe(set("tcbLevels", nil)), want: "0 TCB levels"},
		{name: "QE level status", edit: qe(func(m map[string]any) { firstLevel(m)["tcbStatus"] = "" }), want: "unknown tcbStatus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.raw
			if data == nil {
				data = editJSON(t, good, tc.edit)
			}
			_, err := ParseCollateral(data)
			if !errors.Is(err, ErrCollateral) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want ErrCollateral about %q", err, tc.want)
			}
		})
	}
	// Unknown fields, outside and inside the signed objects, are ignored.
	extra := editJSON(t, good, func(m map[string]any) { m["pck_certificate_chain"] = "x" })
	if _, err := ParseCollateral(extra); err != nil {
		t.Errorf("unknown field: %v", err)
	}
}

func jsonField(t *testing.T, data []byte, key string) string {
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m[key]
}

// FuzzParseCollateral checks that the collateral parsers never panic, fail
// only with ErrCollateral, and return complete results. Seeded with the
// real bundles and a synthesized one.
func FuzzParseCollateral(f *testing.F) {
	for _, name := range realCollateralFiles {
		f.Add(readVector(f, name))
	}
	p, err := inteltest.NewPKI(inteltest.PKIOptions{})
	if err != nil {
		f.Fatal(err)
	}
	b, err := p.Collateral(inteltest.CollateralSpec{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCollateral(data)
		if err != nil {
			if c != nil || !errors.Is(err, ErrCollateral) {
				t.Fatalf("%v %v", c, err)
			}
		} else if c.TCBInfo == nil || c.QEIdentity == nil || c.PCKCRL == nil || c.RootCACRL == nil || len(c.TCBInfo.TCBLevels) == 0 || len(c.TCBInfo.TCBLevels[0].TCB.SGXComponents) != 16 {
			t.Fatalf("incomplete %+v", c)
		}
		// The inner parsers, on the raw input too.
		if ti, err := ParseTCBInfo(data); err == nil {
			if len(ti.FMSPC) != 6 || len(ti.TCBLevels) == 0 {
				t.Fatal("tcbInfo")
			}
		} else if !errors.Is(err, ErrCollateral) {
			t.Fatal(err)
		}
		if _, err := ParseEnclaveIdentity(data); err != nil && !errors.Is(err, ErrCollateral) {
			t.Fatal(err)
		}
	})
}
