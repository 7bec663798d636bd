package intel

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The real quotes live in shared/vectors beside the repository (read-only
// test data; see its README.md for sources, licenses and decoded values).
// Paths are relative to this package's directory.
var vectorsDir = filepath.Join("..", "..", "..", "shared", "vectors")

func readVector(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(vectorsDir, name))
	if err != nil {
		tb.Fatalf("test vector %s (want shared/vectors beside the repository): %v", name, err)
	}
	return b
}

// readQuoteFile reads a quote file; *.hex and *_hex.txt files are ASCII
// hex, with an optional 0x prefix and surrounding whitespace.
func readQuoteFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b := readVector(tb, name)
	if !strings.HasSuffix(name, ".hex") && !strings.HasSuffix(name, "_hex.txt") {
		return b
	}
	s := strings.TrimSpace(string(b))
	s = strings.TrimPrefix(s, "0x")
	q, err := hex.DecodeString(s)
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

// rd returns 64 bytes: prefix followed by zeros.
func rd(prefix []byte) []byte {
	out := make([]byte, 64)
	copy(out, prefix)
	return out
}

var zero48 = make([]byte, 48)

// rawQuoteFiles are every raw (non-certificate) Intel quote in
// shared/vectors.
var rawQuoteFiles = []string{
	"sgx/dcap-qvl-sgx_quote",
	"tdx/dcap-qvl-tdx_quote",
	"tdx/dcap-qvl-tdx_quote_outdated",
	"tdx/go-tdx-guest-tdx_prod_quote_SPR_E4.dat",
	"tdx/go-tdx-guest-quote_sample_v5.dat",
	"tdx/go-tdx-guest-ccel-cos-113-tdx-quote.dat",
	"tdx/dcap-qvl-tdx-quote.hex",
	"tdx/dcap-qvl-quote-from-tappd.hex",
	"tdx/dcap-qvl-near-quote_hex.txt",
}

// tdWant are expected TD values; nil/empty fields are not checked, except
// RTMRs given as zero48.
type tdWant struct {
	tdAttributes string // 8 bytes as in the README (little-endian bytes)
	xfam         string
	teeTCBSVN    string
	teeTCBSVN2   string
	mrseam       string
	mrtd         string
	mrconfigid   string
	rtmr         [4]string // "" = zero
	reportData   []byte
}

type sgxWant struct {
	flags, xfrm          uint64
	cpusvnPrefix         string
	mrenclave, mrsigner  string
	isvProdID, isvSVN    uint16
	reportData           []byte
	reportDataPrefixOnly bool
	miscSelect           uint32
}

type quoteWant struct {
	file      string
	size      int
	version   uint16
	tee       TEEType
	bodyType  BodyType
	trailing  int
	qeSVN     uint16 // header (v3) and QE report ISVSVN
	pceSVN    uint16 // header, v3 only
	pckSerial string
	debug     bool
	sgx       *sgxWant
	td        *tdWant
}

// Values from shared/vectors/README.md (decoded there with go-tdx-guest and
// an independent parser). The tests check them, and also check the layout
// independently: the quote signature must verify over RawSigned with the
// attestation key, the QE report signature with the PCK leaf key, the QE
// report must bind sha256(attestation key || QE auth data), and the PCK
// chain must end in the Intel SGX Root CA.
var rawQuoteWants = []quoteWant{
	{
		file: "sgx/dcap-qvl-sgx_quote", size: 4600, version: 3, tee: TEETypeSGX, bodyType: BodyTypeSGX,
		qeSVN: 10, pceSVN: 15, pckSerial: "81b77732b761e98eb9b963a4abd1e5b9bf5dd8d6",
		sgx: &sgxWant{
			flags: 0x05, xfrm: 0xe7, cpusvnPrefix: "0b0b1a18ffff04000000000000000000",
			mrenclave:  "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb",
			mrsigner:   "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6",
			reportData: rd([]byte("Hello, world!")),
		},
	},
	{
		file: "tdx/dcap-qvl-tdx_quote", size: 5006, version: 4, tee: TEETypeTDX, bodyType: BodyTypeTD10, trailing: 70,
		qeSVN: 6, pckSerial: "3c16ed54eacbb4ced072be72630c85788cf46e36",
		td: &tdWant{
			tdAttributes: "0000001000000000", xfam: "e702060000000000", teeTCBSVN: "06010300000000000000000000000000",
			mrseam: "5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad34207b00c1",
			mrtd:   "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
			rtmr: [4]string{
				"44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0",
				"0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378",
				"d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132",
			},
			reportData: mustHex("9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20"),
		},
	},
	{
		file: "tdx/dcap-qvl-tdx_quote_outdated", size: 5006, version: 5, tee: TEETypeTDX, bodyType: BodyTypeTD15,
		qeSVN: 7, pckSerial: "e825941783e2cdb6a42d95a56f871957855b0edd",
		td: &tdWant{
			tdAttributes: "0000001000000000", xfam: "e718060000000000",
			teeTCBSVN: "07010300000000000000000000000000", teeTCBSVN2: "0d010300000000000000000000000000",
			mrseam:     "49b66faa451d19ebbdbe89371b8daf2b65aa3984ec90110343e9e2eec116af08850fa20e3b1aa9a874d77a65380ee7e6",
			mrtd:       "273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd",
			reportData: rd(mustHex("d2142b643598eb5fae2bc8529dd79a558b29f868ccbb6531cb28dab9dce47728")),
		},
	},
	{
		file: "tdx/go-tdx-guest-tdx_prod_quote_SPR_E4.dat", size: 4974, version: 4, tee: TEETypeTDX, bodyType: BodyTypeTD10, trailing: 39,
		qeSVN: 4, pckSerial: "bba6c175d838b8df3900cc3411f24f512d104102",
		td: &tdWant{
			tdAttributes: "0000004000000000", xfam: "e71a060000000000", teeTCBSVN: "03000400000000000000000000000000",
			mrseam: "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656",
			mrtd:   "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb",
			rtmr: [4]string{
				"2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a",
				"2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c59107c6bc5800db2cacb61",
				"8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe59c7368b3c2287fc7c3bf5c924eb4424e",
			},
			reportData: mustHex("6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113"),
		},
	},
	{
		file: "tdx/go-tdx-guest-quote_sample_v5.dat", size: 5006, version: 5, tee: TEETypeTDX, bodyType: BodyTypeTD15,
		qeSVN: 7, pckSerial: "281450cd833a6cf298ea01209af1400091fb756b",
		td: &tdWant{
			tdAttributes: "0000001000000000", xfam: "e702060000000000",
			teeTCBSVN: "0b010400000000000000000000000000", teeTCBSVN2: "0d010400000000000000000000000000",
			mrseam: "7bf063280e94fb051f5dd7b1fc59ce9aac42bb961df8d44b709c9b0ff87a7b4df648657ba6d1189589feab1d5a3c9a9d",
			mrtd:   "7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876",
			rtmr: [4]string{
				"5c8daf76063a71ac8fcef4067564661fc682ed7944c7a5d21dbbced02f61ceff4ba0678c6aef3bdae8cbc614cec24619",
				"463acaace1b6e97c76e92e41fe312aa66f3fd4dad60ec7acf169859db0343e3d1e591646795cdc80fbc0ca5f7041d253",
				"6369b9c9a3b791ebcbdc5a0bb9536cfb57f50df2b393b33c8b29616d3568baa61f4b59dc6092e31ea8764bcbdfc69f20",
			},
			reportData: mustHex("945eaacf5abc1f719d8666a942fda03d1edcb4490277396093dc5a5289ab9f1e094aed63060cd4a4933a4dd537ed1255c9c79ecb3ed82cd1b486233e31c25c3a"),
		},
	},
	{
		file: "tdx/go-tdx-guest-ccel-cos-113-tdx-quote.dat", size: 8000, version: 4, tee: TEETypeTDX, bodyType: BodyTypeTD10, trailing: 3065,
		qeSVN: 6, pckSerial: "69922d719f2e241a6212844934b9994e00c94a66",
		td: &tdWant{
			tdAttributes: "0000001000000000", xfam: "e700060000000000", teeTCBSVN: "04010700000000000000000000000000",
			mrseam: "ffc97a88587660fb04e1f7c851300c96ae0b5a463ac46d035d16c2d9f36d0ed1d23775bcbd27deb219e3a3cc28023895",
			mrtd:   "dae67181d3d65e073ad8f95b7907d5e927bfe9761c9ff3e9b89734a45d8954dba41394c7717cb2735396c1d04231f94a",
			rtmr: [4]string{
				"3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6",
				"f62dbc072bd5d3f3438b7b35c39a727f5aea2ffc2473f43723953f530daf62504f0a7944aa62c41a86e8a878c2b122c1",
				"4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1",
			},
			reportData: make([]byte, 64), // = ccel-nonce.dat, checked below
		},
	},
	{
		file: "tdx/dcap-qvl-tdx-quote.hex", size: 5006, version: 4, tee: TEETypeTDX, bodyType: BodyTypeTD10, trailing: 70,
		qeSVN: 6, pckSerial: "b4794c84fdfbd9ec075053675b2b5d0e256f0441",
		td: &tdWant{
			tdAttributes: "0000001000000000", teeTCBSVN: "05010200000000000000000000000000",
			mrseam: "1cc6a17ab799e9a693fac7536be61c12ee1e0fabada82d0c999e08ccee2aa86de77b0870f558c570e7ffe55d6d47fa04",
			mrtd:   "7ba9e262ce6979087e34632603f354dd8f8a870f5947d116af8114db6c9d0d74c48bec4280e5b4f4a37025a10905bb29",
			rtmr: [4]string{
				"4574c098915caf3e82057817dbd135c1ed0ee1b39ac300c921479e2f5ebf5726a13ee0c8745ac891b6aee7c4f9664610", "", "",
				"547fcba4630bfb981169a8a1903b79c244933413409dd0387acbd8e3b985bcc9164cf52735cd31f60bf2c5d1220c113f",
			},
			reportData: mustHex("7148f47ef58b475fce69b386e2d6b4c964a9533cc328ea8e544db66612a5174698d006951cefa8fd4450e884300638e567e22f9a012ef5754aa6a9d9564fcd8a"),
		},
	},
	{
		file: "tdx/dcap-qvl-quote-from-tappd.hex", size: 5006, version: 4, tee: TEETypeTDX, bodyType: BodyTypeTD10, trailing: 70,
		qeSVN: 6, pckSerial: "b4794c84fdfbd9ec075053675b2b5d0e256f0441",
		td: &tdWant{
			tdAttributes: "0000001000000000", teeTCBSVN: "05010200000000000000000000000000",
			mrseam: "1cc6a17ab799e9a693fac7536be61c12ee1e0fabada82d0c999e08ccee2aa86de77b0870f558c570e7ffe55d6d47fa04",
			mrtd:   "c68518a0ebb42136c12b2275164f8c72f25fa9a34392228687ed6e9caeb9c0f1dbd895e9cf475121c029dc47e70e91fd",
			rtmr: [4]string{
				"274c2344116db7c663470693b5ba62b8621eac28cb41d2f816ddf188f9f423f900a1c44d32386fd3c993dc814e62af9d",
				"918fbd97108e05450afa6aca140c6363ab913578b66cc312e3e8542ce5ade455a30c8d9e4d53a5e43d81955f76140279", "",
				"a2d25bc888a93009af5b70eadb410e9071d18387e4db39aae20fe767f5c4279d95e6519c5d797938a90694599c5bea7a",
			},
			reportData: mustHex("7668c6b4eafb62301c72714ecc7d90ce9a0e04b52dc117720df2047b0a59f1dbd937243eef1410a3cdc524aad66d4554b4f18b54da2fc0608dac40d6dea5f1d4"),
		},
	},
	{
		file: "tdx/dcap-qvl-near-quote_hex.txt", size: 5006, version: 4, tee: TEETypeTDX, bodyType: BodyTypeTD10, trailing: 70,
		qeSVN: 6, pckSerial: "3d535559206c42dcc20de761aa3c92b8ed396c60",
		td: &tdWant{
			tdAttributes: "0000001000000000", xfam: "0702000000000000", teeTCBSVN: "06010400000000000000000000000000",
			mrtd:       "f06dfda6dce1cf904d4e2bab1dc370634cf95cefa2ceb2de2eee127c9382698090d7a4a13e14c536ec6c9c3c8fa87077",
			mrconfigid: "0112a20aed7d6c68601e9f6e108a93b4199ae7231684307ffc4833c9cd08d45de7000000000000000000000000000000",
			rtmr: [4]string{
				"68102e7b524af310f7b7d426ce75481e36c40f5d513a9009c046e9d37e31551f0134d954b496a3357fd61d03f07ffe96",
				"19d16ecd33220ee15965b4fb28a0661e85ec4cad0a20d920bf4028f58ad014b262af3c9b0530f283e7d032e7bdca6308",
				"05ac95f479e23db627217ce58b2587483c9ee4f374a7d8ebee3b812b8cfd8fd8fca04696369c33bd5279590d83e713c0",
				"287a9242edd8c8429913ec66f44af611b820cf9b574f303a6caeddeb4c9826311aef6e518aaf4a17f55a81154592b7b3",
			},
			reportData: mustHex("0001d579ba6e734a1046feb6112f852df5f4f1e44a4e7ce1755ce3b07bd6aaab04e89ca01fdf4956d2f609c2709731cb813a0000000000000000000000000000"),
		},
	},
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func le64(tb testing.TB, s string) uint64 {
	tb.Helper()
	return binary.LittleEndian.Uint64(unhex(tb, s))
}

func TestRawQuoteWantsCoverEveryFile(t *testing.T) {
	if len(rawQuoteWants) != len(rawQuoteFiles) {
		t.Fatalf("%d expectations for %d files", len(rawQuoteWants), len(rawQuoteFiles))
	}
	for i, w := range rawQuoteWants {
		if w.file != rawQuoteFiles[i] {
			t.Errorf("expectation %d is for %s, want %s", i, w.file, rawQuoteFiles[i])
		}
	}
}

func TestParseRealQuotes(t *testing.T) {
	for _, w := range rawQuoteWants {
		t.Run(filepath.Base(w.file), func(t *testing.T) {
			data := readQuoteFile(t, w.file)
			if len(data) != w.size {
				t.Fatalf("file holds %d bytes, want %d", len(data), w.size)
			}
			q, err := ParseQuote(data)
			if err != nil {
				t.Fatalf("ParseQuote: %v", err)
			}
			checkQuote(t, q, w)
		})
	}
}

// checkQuote checks q against w and against the independent layout checks.
func checkQuote(t *testing.T, q *Quote, w quoteWant) {
	t.Helper()
	h := q.Header
	if h.Version != w.version || h.TEEType != w.tee || q.BodyType != w.bodyType {
		t.Errorf("version %d TEE %s body %s, want %d %s %s", h.Version, h.TEEType, q.BodyType, w.version, w.tee, w.bodyType)
	}
	if h.AttestationKeyType != AttestationKeyECDSAP256 {
		t.Errorf("key type %d", h.AttestationKeyType)
	}
	if h.QEVendorID != IntelQEVendorID {
		t.Errorf("QE vendor ID %x", h.QEVendorID)
	}
	if hex.EncodeToString(h.QEVendorID[:]) != "939a7233f79c4ca9940a0db3957f0607" {
		t.Errorf("QE vendor ID %x", h.QEVendorID)
	}
	if len(q.Trailing) != w.trailing {
		t.Errorf("%d trailing bytes, want %d", len(q.Trailing), w.trailing)
	}
	if got := len(q.RawSigned) + 4 + len(q.RawSignatureData) + len(q.Trailing); got != len(q.Raw) {
		t.Errorf("signed %d + 4 + signature data %d + trailing %d != %d", len(q.RawSigned), len(q.RawSignatureData), len(q.Trailing), len(q.Raw))
	}
	if q.Signature.QEReport.ISVSVN != w.qeSVN {
		t.Errorf("QE report ISVSVN %d, want %d", q.Signature.QEReport.ISVSVN, w.qeSVN)
	}
	if w.version == Version3 {
		if h.QESVN != w.qeSVN || h.PCESVN != w.pceSVN {
			t.Errorf("header QE SVN %d PCE SVN %d, want %d %d", h.QESVN, h.PCESVN, w.qeSVN, w.pceSVN)
		}
	} else if h.QESVN != 0 || h.PCESVN != 0 || h.Reserved != 0 {
		t.Errorf("v%d header: QESVN %d PCESVN %d reserved %#x, want zeros", h.Version, h.QESVN, h.PCESVN, h.Reserved)
	}

	// report_data at its well-known offset in the raw quote: 368 (SGX v3
	// and v4), 568 (TDX v4), 574 (v5, TD 1.5).
	var rdOff int
	switch {
	case w.version == Version5:
		rdOff = HeaderSize + bodyDescriptorSize + reportDataOffsetTD
		if rdOff != 574 {
			t.Fatalf("v5 report_data offset %d", rdOff)
		}
	case w.tee == TEETypeTDX:
		rdOff = 568
	default:
		rdOff = 368
	}
	gotRD := q.ReportData()
	if !bytes.Equal(q.Raw[rdOff:rdOff+64], gotRD[:]) {
		t.Errorf("ReportData() is not the 64 bytes at offset %d", rdOff)
	}

	if w.sgx != nil {
		checkSGX(t, q, w.sgx)
		if q.TD != nil {
			t.Error("SGX quote with a TD body")
		}
	}
	if w.td != nil {
		checkTD(t, q, w.td)
		if q.SGX != nil {
			t.Error("TDX quote with an SGX body")
		}
	}
	checkSignatureLayout(t, q, w.pckSerial)
}

func checkSGX(t *testing.T, q *Quote, w *sgxWant) {
	t.Helper()
	b := q.SGX
	if b == nil {
		t.Fatal("no SGX body")
	}
	if b.Attributes.Flags != SGXAttributeFlags(w.flags) || b.Attributes.XFRM != w.xfrm {
		t.Errorf("attributes %#x/%#x, want %#x/%#x", b.Attributes.Flags, b.Attributes.XFRM, w.flags, w.xfrm)
	}
	if w.cpusvnPrefix != "" && !strings.HasPrefix(hex.EncodeToString(b.CPUSVN[:]), w.cpusvnPrefix) {
		t.Errorf("CPUSVN %x, want prefix %s", b.CPUSVN, w.cpusvnPrefix)
	}
	if hex.EncodeToString(b.MREnclave[:]) != w.mrenclave {
		t.Errorf("MRENCLAVE %x, want %s", b.MREnclave, w.mrenclave)
	}
	if hex.EncodeToString(b.MRSigner[:]) != w.mrsigner {
		t.Errorf("MRSIGNER %x, want %s", b.MRSigner, w.mrsigner)
	}
	if b.ISVProdID != w.isvProdID || b.ISVSVN != w.isvSVN {
		t.Errorf("ISVPRODID %d ISVSVN %d, want %d %d", b.ISVProdID, b.ISVSVN, w.isvProdID, w.isvSVN)
	}
	if b.MiscSelect != w.miscSelect {
		t.Errorf("MISCSELECT %#x, want %#x", b.MiscSelect, w.miscSelect)
	}
	if w.reportData != nil {
		n := 64
		if w.reportDataPrefixOnly {
			n = len(w.reportData)
		}
		if !bytes.Equal(b.ReportData[:n], w.reportData[:n]) {
			t.Errorf("report_data %x, want %x", b.ReportData[:n], w.reportData[:n])
		}
	}
	// The body at offset 48 of the quote, MRENCLAVE at body+64.
	if !bytes.Equal(q.Raw[48+64:48+96], b.MREnclave[:]) || !bytes.Equal(q.RawBody, q.Raw[48:48+384]) {
		t.Error("SGX body is not at offset 48")
	}
}

func checkTD(t *testing.T, q *Quote, w *tdWant) {
	t.Helper()
	b := q.TD
	if b == nil {
		t.Fatal("no TD body")
	}
	if w.tdAttributes != "" && b.TDAttributes != TDAttributes(le64(t, w.tdAttributes)) {
		t.Errorf("TDATTRIBUTES %#x, want bytes %s", uint64(b.TDAttributes), w.tdAttributes)
	}
	if w.xfam != "" && b.XFAM != le64(t, w.xfam) {
		t.Errorf("XFAM %#x, want bytes %s", b.XFAM, w.xfam)
	}
	eq := func(name string, got []byte, want string) {
		t.Helper()
		if want == "" {
			return
		}
		if hex.EncodeToString(got) != want {
			t.Errorf("%s %x, want %s", name, got, want)
		}
	}
	eq("TEE_TCB_SVN", b.TEETCBSVN[:], w.teeTCBSVN)
	eq("MRSEAM", b.MRSEAM[:], w.mrseam)
	eq("MRTD", b.MRTD[:], w.mrtd)
	eq("MRCONFIGID", b.MRConfigID[:], w.mrconfigid)
	if q.BodyType == BodyTypeTD15 {
		eq("TEE_TCB_SVN_2", b.TEETCBSVN2[:], w.teeTCBSVN2)
		if b.MRServiceTD != [48]byte{} {
			t.Errorf("MRSERVICETD %x, want zero", b.MRServiceTD)
		}
	} else if b.TEETCBSVN2 != [16]byte{} || b.MRServiceTD != [48]byte{} {
		t.Error("TD 1.0 body with TDX 1.5 fields")
	}
	for i, want := range w.rtmr {
		if want == "" {
			want = hex.EncodeToString(zero48)
		}
		eq(fmt.Sprintf("RTMR%d", i), b.RTMR[i][:], want)
	}
	if w.mrconfigid == "" && b.MRConfigID != [48]byte{} {
		t.Errorf("MRCONFIGID %x, want zero", b.MRConfigID)
	}
	if b.MROwner != [48]byte{} || b.MROwnerConfig != [48]byte{} {
		t.Errorf("MROWNER %x MROWNERCONFIG %x, want zero", b.MROwner, b.MROwnerConfig)
	}
	if b.TDAttributes.Debug() {
		t.Error("debug TD")
	}
	if !bytes.Equal(b.ReportData[:], w.reportData) {
		t.Errorf("report_data %x, want %x", b.ReportData, w.reportData)
	}
	// Body position: 48 for v4, 54 for v5 (after the body descriptor).
	off := 48
	if q.Header.Version == Version5 {
		off = 54
		if bt := binary.LittleEndian.Uint16(q.Raw[48:]); BodyType(bt) != q.BodyType {
			t.Errorf("descriptor type %d", bt)
		}
		if sz := binary.LittleEndian.Uint32(q.Raw[50:]); int(sz) != len(q.RawBody) {
			t.Errorf("descriptor size %d", sz)
		}
	}
	if !bytes.Equal(q.Raw[off+136:off+184], b.MRTD[:]) || !bytes.Equal(q.RawSigned[off:], q.RawBody) {
		t.Errorf("TD body is not at offset %d", off)
	}
}

// checkSignatureLayout checks the parsed signature data against the
// cryptography it must satisfy: any offset error breaks one of these.
func checkSignatureLayout(t *testing.T, q *Quote, pckSerial string) {
	t.Helper()
	sd := &q.Signature
	if !verifyP256(t, sd.AttestationKey[:], q.RawSigned, sd.QuoteSignature) {
		t.Error("quote signature does not verify over RawSigned with the attestation key")
	}
	h := sha256.New()
	h.Write(sd.AttestationKey[:])
	h.Write(sd.QEAuthData)
	if !bytes.Equal(h.Sum(nil), sd.QEReport.ReportData[:32]) || [32]byte(sd.QEReport.ReportData[32:]) != [32]byte{} {
		t.Error("QE report does not bind sha256(attestation key || QE auth data)")
	}
	if len(sd.QEAuthData) != 32 {
		t.Errorf("QE auth data %d bytes, want 32", len(sd.QEAuthData))
	}
	if !bytes.Equal(sd.RawQEReport, mustSub(q.RawSignatureData, sd.RawQEReport)) {
		t.Error("RawQEReport is not inside the signature data")
	}
	if sd.Certification.Type != CertDataPCKChain || len(sd.Certification.PCKChain) != 3 {
		t.Fatalf("certification data type %d with %d certificates, want type 5 with 3", sd.Certification.Type, len(sd.Certification.PCKChain))
	}
	certs, err := sd.Certification.Certificates()
	if err != nil {
		t.Fatal(err)
	}
	leaf, inter, root := certs[0], certs[1], certs[2]
	if got := fmt.Sprintf("%040x", leaf.SerialNumber); got != pckSerial {
		t.Errorf("PCK leaf serial %s, want %s", got, pckSerial)
	}
	if !strings.Contains(leaf.Subject.CommonName, "PCK Certificate") {
		t.Errorf("leaf subject %q", leaf.Subject)
	}
	if !bytes.Equal(leaf.RawIssuer, inter.RawSubject) || !bytes.Equal(inter.RawIssuer, root.RawSubject) {
		t.Error("PCK chain is not leaf, intermediate, root")
	}
	if !bytes.Equal(root.Raw, readVector(t, "tdx/dcap-qvl-intel-sgx-root-ca.der")) {
		t.Error("chain root is not the Intel SGX Root CA")
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("PCK key %T", leaf.PublicKey)
	}
	hr := sha256.Sum256(sd.RawQEReport)
	r, s := new(big.Int).SetBytes(sd.QEReportSignature[:32]), new(big.Int).SetBytes(sd.QEReportSignature[32:])
	if !ecdsa.Verify(pub, hr[:], r, s) {
		t.Error("QE report signature does not verify with the PCK leaf key")
	}
}

// mustSub returns the bytes of sub as found in b, or nil.
func mustSub(b, sub []byte) []byte {
	i := bytes.Index(b, sub)
	if i < 0 {
		return nil
	}
	return b[i : i+len(sub)]
}

func verifyP256(t *testing.T, xy, msg []byte, sig [64]byte) bool {
	t.Helper()
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, xy...))
	if err != nil {
		t.Errorf("attestation key: %v", err)
		return false
	}
	h := sha256.Sum256(msg)
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, h[:], r, s)
}

func TestCCELNonceIsReportData(t *testing.T) {
	q, err := ParseQuote(readQuoteFile(t, "tdx/go-tdx-guest-ccel-cos-113-tdx-quote.dat"))
	if err != nil {
		t.Fatal(err)
	}
	nonce := readVector(t, "tdx/go-tdx-guest-ccel-nonce.dat")
	if got := q.ReportData(); !bytes.Equal(got[:], nonce) {
		t.Errorf("report_data %x, nonce.dat %x", got, nonce)
	}
}

// ---- quotes inside the RA-TLS certificates ----

// Legacy RA-TLS extensions whose value is the raw quote.
var legacyQuoteOIDs = map[string]bool{
	"1.2.840.113741.1337.6":      true, // rats-tls, Gramine (proper encoding)
	"0.6.9.42.840.113741.1337.6": true, // Gramine's misencoded legacy OID
	"1.2.840.113741.1.13.1":      true, // Intel SGX SDK
}

const diceEvidenceOID = "2.23.133.5.4.9"

type certQuote struct {
	oid    string
	quote  []byte
	claims []byte // CBOR claims buffer (DICE evidence only)
}

func readCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(readVector(t, name))
	if blk == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cert
}

func certQuotes(t testing.TB, cert *x509.Certificate) []certQuote {
	t.Helper()
	var out []certQuote
	for _, ext := range cert.Extensions {
		oid := ext.Id.String()
		switch {
		case legacyQuoteOIDs[oid]:
			out = append(out, certQuote{oid: oid, quote: ext.Value})
		case oid == diceEvidenceOID:
			quote, claims, err := decodeTaggedEvidence(ext.Value)
			if err != nil {
				t.Fatalf("evidence extension: %v", err)
			}
			out = append(out, certQuote{oid: oid, quote: quote, claims: claims})
		}
	}
	return out
}

// decodeTaggedEvidence decodes just enough CBOR for the CCC evidence
// extension: tag 60000 (d9 ea60), array(2) (82), two byte strings.
func decodeTaggedEvidence(b []byte) (quote, claims []byte, err error) {
	if !bytes.HasPrefix(b, []byte{0xd9, 0xea, 0x60, 0x82}) {
		return nil, nil, fmt.Errorf("not tag 60000 + array(2): % x", b[:min(len(b), 4)])
	}
	b = b[4:]
	bstr := func() ([]byte, error) {
		if len(b) == 0 || b[0]>>5 != 2 {
			return nil, fmt.Errorf("not a byte string")
		}
		ai := b[0] & 0x1f
		b = b[1:]
		var n uint64
		switch {
		case ai < 24:
			n = uint64(ai)
		case ai == 24 && len(b) >= 1:
			n, b = uint64(b[0]), b[1:]
		case ai == 25 && len(b) >= 2:
			n, b = uint64(binary.BigEndian.Uint16(b)), b[2:]
		case ai == 26 && len(b) >= 4:
			n, b = uint64(binary.BigEndian.Uint32(b)), b[4:]
		default:
			return nil, fmt.Errorf("unsupported length encoding %d", ai)
		}
		if n > uint64(len(b)) {
			return nil, fmt.Errorf("byte string past the end")
		}
		s := b[:n]
		b = b[n:]
		return s, nil
	}
	if quote, err = bstr(); err != nil {
		return nil, nil, err
	}
	if claims, err = bstr(); err != nil {
		return nil, nil, err
	}
	if len(b) != 0 {
		return nil, nil, fmt.Errorf("%d bytes after the evidence", len(b))
	}
	return quote, claims, nil
}

type certBinding int

const (
	bindSPKI   certBinding = iota // report_data = sha256(SPKI DER) || 0
	bindPKCS1                     // report_data = sha256(PKCS#1 RSAPublicKey DER) || 0
	bindClaims                    // report_data = sha256(claims buffer) || 0
)

type certQuoteWant struct {
	oid        string
	size       int
	binding    certBinding
	rdPrefix   string // README's value of report_data[0:32]
	qeSVN      uint16
	pceSVN     uint16
	sgx        sgxWant
	pckSerial  string
	sameAsDICE bool // byte-identical to the quote of the DICE extension
}

var certWants = []struct {
	file   string
	quotes []certQuoteWant
}{
	{"ra-tls/ccc-gramine-cert.pem", []certQuoteWant{
		{oid: "0.6.9.42.840.113741.1337.6", size: 4734, binding: bindSPKI,
			rdPrefix: "5a5a5b2d177433048e9d62409d1acc4ec526c06e294d09e69a36cff9369e4851",
			qeSVN:    9, pceSVN: 13, pckSerial: "14979267ada66917faa7fb142d17cc31425d74fc",
			sgx: sgxWant{flags: 0x07, xfrm: 0xe7, cpusvnPrefix: "06060c0cffff0000",
				mrenclave: "0866e7ca11b9f4efe4bf39b2607f4e1299f111920d96d95719080f01b62b7585",
				mrsigner:  "adc53501f21ced9b998e37a7a18e061c63e00315045fa57a49c18ef0a30d02ca"}},
		{oid: diceEvidenceOID, size: 4734, binding: bindClaims,
			rdPrefix: "d8673446fe0f6842d4af0d182c8751d7e967039116deff5f85a43b2ca90c2831",
			qeSVN:    9, pceSVN: 13, pckSerial: "14979267ada66917faa7fb142d17cc31425d74fc",
			sgx: sgxWant{flags: 0x07, xfrm: 0xe7, cpusvnPrefix: "06060c0cffff0000",
				mrenclave: "0866e7ca11b9f4efe4bf39b2607f4e1299f111920d96d95719080f01b62b7585",
				mrsigner:  "adc53501f21ced9b998e37a7a18e061c63e00315045fa57a49c18ef0a30d02ca"}},
	}},
	{"ra-tls/ccc-intel-sgxsdk-cert.pem", []certQuoteWant{
		{oid: "1.2.840.113741.1.13.1", size: 4600, binding: bindClaims, sameAsDICE: true,
			rdPrefix: "e551b081d5079ad7565b5f20a45f276c2f5a6152c1802c0688e15a02e87a74c9",
			qeSVN:    10, pceSVN: 15, pckSerial: "aa7bfee2ea00527c4dce2df13eeccb3ef2add4ed",
			sgx: sgxWant{flags: 0x07, xfrm: 0x03,
				mrenclave: "09e218a4be9dadbf7cdc82c45497d6d4f676d3b75445fc37a376f0b65b47de6a",
				mrsigner:  "e0c86c51e05ad8592673db348155bddf4bcad6131a5205ce4265c0d795803ba2"}},
		{oid: diceEvidenceOID, size: 4600, binding: bindClaims,
			rdPrefix: "e551b081d5079ad7565b5f20a45f276c2f5a6152c1802c0688e15a02e87a74c9",
			qeSVN:    10, pceSVN: 15, pckSerial: "aa7bfee2ea00527c4dce2df13eeccb3ef2add4ed",
			sgx: sgxWant{flags: 0x07, xfrm: 0x03,
				mrenclave: "09e218a4be9dadbf7cdc82c45497d6d4f676d3b75445fc37a376f0b65b47de6a",
				mrsigner:  "e0c86c51e05ad8592673db348155bddf4bcad6131a5205ce4265c0d795803ba2"}},
	}},
	{"ra-tls/ccc-rats-tls-cert.pem", []certQuoteWant{
		{oid: diceEvidenceOID, size: 4734, binding: bindClaims,
			rdPrefix: "3ef61b935603341747b96c602397da1c4761afe4eeed2cdc08cbf5f4ff61c533",
			qeSVN:    9, pceSVN: 13, pckSerial: "14979267ada66917faa7fb142d17cc31425d74fc",
			sgx: sgxWant{flags: 0x07, xfrm: 0xe7, miscSelect: 1,
				mrenclave: "38e1b40b8c68186f359c97ecb6a89965d9d8638f2df06fbe18e84d79a266c041",
				mrsigner:  "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e"}},
	}},
	{"ra-tls/rats-rs-demo-sgx-cert.pem", []certQuoteWant{
		{oid: diceEvidenceOID, size: 4734, binding: bindClaims,
			rdPrefix: "ed1156bdf412b9b5e9bdc003ae84495155eea8ef97cd5b22a168ea6289a9ffdd",
			qeSVN:    10, pceSVN: 15, pckSerial: "5701fbad6009f7e105468b2429810159d1e12473",
			sgx: sgxWant{flags: 0x07, xfrm: 0xe7, cpusvnPrefix: "0c0e100fffff0000",
				mrenclave: "488615372ec6d4b5a27dd7673697113808653b749615b8a58f62e71df0660e85",
				mrsigner:  "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e"}},
	}},
	{"ra-tls/rats-tls-legacy-rsa-sha1.pem", []certQuoteWant{
		{oid: "1.2.840.113741.1337.6", size: 4728, binding: bindPKCS1,
			rdPrefix: "8e5b3b07972faea047621a80219b8cd17e0133ea54a1af3a5983429d4eabcae0",
			qeSVN:    5, pceSVN: 10, pckSerial: "2346dc79db35ae1ddf03751fec83f42e217da9db",
			sgx: sgxWant{flags: 0x05, xfrm: 0xe7,
				mrenclave: "144e81488fc3d59ddbe69b03bd939a3b938d85b6a7c9897e2b09808ade956574",
				mrsigner:  "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e"}},
	}},
	{"ra-tls/rats-tls-legacy-rsa-sha256.pem", []certQuoteWant{
		{oid: "1.2.840.113741.1337.6", size: 4728, binding: bindPKCS1,
			rdPrefix: "f732b931b231d5f39a4cebf5547f8be5839afc7120965e66bdfee992934693df",
			qeSVN:    6, pceSVN: 11, pckSerial: "2346dc79db35ae1ddf03751fec83f42e217da9db",
			sgx: sgxWant{flags: 0x05, xfrm: 0xe7,
				mrenclave: "d74f2eb87fa3c64c40d16e35a6f8d3259e3dd931a0bcce0637e33ada67df0b52",
				mrsigner:  "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e"}},
	}},
}

func TestParseRATLSCertQuotes(t *testing.T) {
	for _, cw := range certWants {
		t.Run(filepath.Base(cw.file), func(t *testing.T) {
			cert := readCert(t, cw.file)
			got := certQuotes(t, cert)
			if len(got) != len(cw.quotes) {
				t.Fatalf("%d quote extensions, want %d", len(got), len(cw.quotes))
			}
			var dice, diceClaims []byte
			for _, cq := range got {
				if cq.oid == diceEvidenceOID {
					dice, diceClaims = cq.quote, cq.claims
				}
			}
			for i, w := range cw.quotes {
				cq := got[i]
				if cq.oid != w.oid {
					t.Fatalf("extension %d is %s, want %s", i, cq.oid, w.oid)
				}
				if len(cq.quote) != w.size {
					t.Errorf("%s: quote of %d bytes, want %d", w.oid, len(cq.quote), w.size)
				}
				if w.sameAsDICE && !bytes.Equal(cq.quote, dice) {
					t.Errorf("%s: quote differs from the DICE extension's", w.oid)
				}
				q, err := ParseQuote(cq.quote)
				if err != nil {
					t.Fatalf("%s: ParseQuote: %v", w.oid, err)
				}
				// The report_data binding, computed from the certificate.
				var h [32]byte
				switch w.binding {
				case bindSPKI:
					h = sha256.Sum256(cert.RawSubjectPublicKeyInfo)
				case bindPKCS1:
					h = sha256.Sum256(pkcs1(t, cert))
				case bindClaims:
					claims := cq.claims
					if w.sameAsDICE {
						// The raw-OID copy is bound through the DICE claims.
						claims = diceClaims
					}
					h = sha256.Sum256(claims)
				}
				if cq.claims != nil {
					// The CCC claims carry pubkey-hash = sha256(SPKI).
					spki := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
					if !bytes.Contains(cq.claims, spki[:]) {
						t.Errorf("%s: claims lack sha256(SPKI)", w.oid)
					}
				}
				if hex.EncodeToString(h[:]) != w.rdPrefix {
					t.Errorf("%s: computed binding %x, README says %s", w.oid, h, w.rdPrefix)
				}
				sw := w.sgx
				sw.reportData = rd(h[:])
				qw := quoteWant{
					version: 3, tee: TEETypeSGX, bodyType: BodyTypeSGX,
					qeSVN: w.qeSVN, pceSVN: w.pceSVN, pckSerial: w.pckSerial,
					debug: sw.flags&0x02 != 0, sgx: &sw,
				}
				checkQuote(t, q, qw)
				c := ClaimsFromQuote(q)
				if c.Debug != qw.debug {
					t.Errorf("%s: claims Debug %v, want %v", w.oid, c.Debug, qw.debug)
				}
			}
		})
	}
}

// pkcs1 returns the PKCS#1 RSAPublicKey DER of cert's RSA key.
func pkcs1(t *testing.T, cert *x509.Certificate) []byte {
	t.Helper()
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("key %T, want RSA", cert.PublicKey)
	}
	return x509.MarshalPKCS1PublicKey(pub)
}

func TestGramineLegacyQuote(t *testing.T) {
	// The brief's headline vector, spelled out.
	cert := readCert(t, "ra-tls/ccc-gramine-cert.pem")
	var quote []byte
	for _, ext := range cert.Extensions {
		if ext.Id.String() == "0.6.9.42.840.113741.1337.6" {
			quote = ext.Value
		}
	}
	q, err := ParseQuote(quote)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(q.SGX.MREnclave[:]); got != "0866e7ca11b9f4efe4bf39b2607f4e1299f111920d96d95719080f01b62b7585" {
		t.Errorf("MRENCLAVE %s", got)
	}
	if got := hex.EncodeToString(q.SGX.MRSigner[:]); got != "adc53501f21ced9b998e37a7a18e061c63e00315045fa57a49c18ef0a30d02ca" {
		t.Errorf("MRSIGNER %s", got)
	}
	if !q.SGX.Attributes.Debug() || !q.SGX.Attributes.Init() || !q.SGX.Attributes.Mode64Bit() ||
		q.SGX.Attributes.ProvisionKey() || q.SGX.Attributes.EInitTokenKey() {
		t.Errorf("attributes %#x", q.SGX.Attributes.Flags)
	}
	want := rd(mustHex("5a5a5b2d177433048e9d62409d1acc4ec526c06e294d09e69a36cff9369e4851"))
	spki := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	if got := q.ReportData(); !bytes.Equal(got[:], want) || !bytes.Equal(got[:32], spki[:]) || !bytes.Equal(q.Raw[368:432], want) {
		t.Errorf("report_data %x", got)
	}
}
