package sgx

// The attester for keeps running inside Gramine-SGX. Gramine exposes
// attestation as pseudo-files under /dev/attestation (Gramine's
// documentation of its attestation interface):
//
//	attestation_type   read: "none", "epid" (older Gramine) or "dcap"
//	user_report_data   write: the 64 bytes of REPORTDATA for the next quote
//	quote              read: a quote binding the last user_report_data
//
// Writing user_report_data and reading quote is a process-wide sequence,
// so Attest serializes its calls.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/intel"
)

// DefaultDir is Gramine's attestation pseudo-filesystem.
const DefaultDir = "/dev/attestation"

// Names of the files in the attestation directory.
const (
	fileType           = "attestation_type"
	fileUserReportData = "user_report_data"
	fileQuote          = "quote"
	maxTypeSize        = 64
)

// attestMu serializes the write-then-read sequence on the pseudo-files.
var attestMu sync.Mutex

// Attester produces SGX DCAP quotes inside Gramine. The zero value uses
// DefaultDir.
type Attester struct {
	// Dir is the attestation directory; "" means DefaultDir. Tests point
	// it at a directory of fake files.
	Dir string
}

var _ keeps.Attester = (*Attester)(nil)

func (a *Attester) dir() string {
	if a.Dir == "" {
		return DefaultDir
	}
	return a.Dir
}

// TEE returns keeps.TEESGX.
func (*Attester) TEE() keeps.TEE { return keeps.TEESGX }

// Available reports whether DCAP attestation works here: the attestation
// directory's attestation_type says "dcap" and its quote file exists. When
// it does not, the string says why.
func (a *Attester) Available() (bool, string) {
	d := a.dir()
	f, err := os.Open(filepath.Join(d, fileType))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, fmt.Sprintf("not inside Gramine-SGX with attestation: %s does not exist", filepath.Join(d, fileType))
		}
		return false, fmt.Sprintf("cannot read the attestation type: %v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTypeSize))
	if err != nil {
		return false, fmt.Sprintf("cannot read the attestation type: %v", err)
	}
	if t := string(bytes.TrimSpace(b)); t != "dcap" {
		return false, fmt.Sprintf("Gramine attestation type is %q, want \"dcap\" (set sgx.remote_attestation = \"dcap\" in the manifest)", t)
	}
	if _, err := os.Stat(filepath.Join(d, fileQuote)); err != nil {
		return false, fmt.Sprintf("no quote interface: %v", err)
	}
	return true, ""
}

// Available reports whether DCAP attestation works in this process, using
// DefaultDir.
func Available() (bool, string) { return (&Attester{}).Available() }

// Attest writes rd to user_report_data, reads the quote, and checks that
// it is an SGX quote binding rd. The evidence is the quote without any
// bytes after its signature data.
func (a *Attester) Attest(ctx context.Context, rd keeps.ReportData) (*keeps.Evidence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	attestMu.Lock()
	defer attestMu.Unlock()
	d := a.dir()
	if err := writeReportData(filepath.Join(d, fileUserReportData), rd); err != nil {
		return nil, err
	}
	raw, err := readQuote(filepath.Join(d, fileQuote))
	if err != nil {
		return nil, err
	}
	q, err := intel.ParseQuote(raw)
	if err != nil {
		return nil, fmt.Errorf("sgx: quote from %s: %w", d, err)
	}
	if q.SGX == nil {
		return nil, fmt.Errorf("sgx: quote from %s: %w (%s)", d, ErrNotSGX, q.Header.TEEType)
	}
	if q.ReportData() != rd {
		return nil, fmt.Errorf("sgx: the quote from %s does not carry the report data written to %s", d, fileUserReportData)
	}
	data := raw[:len(raw)-len(q.Trailing)]
	return &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: bytes.Clone(data)}, nil
}

// writeReportData writes the 64 bytes in one write, without O_CREATE or
// O_TRUNC: the pseudo-file must exist.
func writeReportData(path string, rd keeps.ReportData) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("sgx: %w", err)
	}
	n, err := f.Write(rd[:])
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sgx: writing %s: %w", path, err)
	}
	if n != len(rd) {
		return fmt.Errorf("sgx: wrote %d of %d bytes to %s", n, len(rd), path)
	}
	return nil
}

func readQuote(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sgx: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, intel.MaxQuoteSize+1))
	if err != nil {
		return nil, fmt.Errorf("sgx: reading %s: %w", path, err)
	}
	if len(b) > intel.MaxQuoteSize {
		return nil, fmt.Errorf("sgx: %s holds more than %d bytes", path, intel.MaxQuoteSize)
	}
	return b, nil
}
