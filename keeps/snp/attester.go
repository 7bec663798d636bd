package snp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/google/go-configfs-tsm/configfs/configfsi"
	"github.com/google/go-configfs-tsm/configfs/linuxtsm"
	"github.com/google/go-configfs-tsm/report"
	"github.com/google/go-sev-guest/client"

	"github.com/keepwasm/keep/keeps"
)

// ConfigfsProvider is the configfs-tsm provider name of SEV-SNP guests
// (Linux drivers/virt/coco/sev-guest).
const ConfigfsProvider = "sev_guest"

// configfsRetries bounds retries when another process writes the same
// configfs-tsm report entry meanwhile (report.GenerationErr).
const configfsRetries = 3

// ErrUnavailable: neither configfs-tsm with provider sev_guest nor
// /dev/sev-guest is usable.
var ErrUnavailable = errors.New("snp: no SEV-SNP guest interface")

// Attester asks the AMD secure processor for attestation reports. The
// zero value uses the machine's interfaces: configfs-tsm
// (/sys/kernel/config/tsm/report, Linux 6.7 and later) when it exists and
// its provider is sev_guest, else /dev/sev-guest. Setting TSM or
// QuoteProvider replaces the machine's interfaces, for tests with fakes.
type Attester struct {
	// TSM, when set, is the only interface used: a configfs-tsm client
	// (linuxtsm's, or go-configfs-tsm's faketsm in tests).
	TSM configfsi.Client
	// QuoteProvider, when set and TSM is nil, is the only interface used:
	// a go-sev-guest quote provider returning report ‖ certificate table
	// (client.LinuxIoctlQuoteProvider, or a fake in tests).
	QuoteProvider client.QuoteProvider
	// VMPL, when set, asks for a report at that VM privilege level
	// (configfs-tsm privlevel); nil leaves the kernel's default.
	VMPL *uint
}

var _ keeps.Attester = (*Attester)(nil)

// NewAttester returns an Attester on the machine's interfaces, or an error
// wrapping ErrUnavailable saying why there is none.
func NewAttester() (*Attester, error) {
	a := &Attester{}
	if ok, why := a.Available(); !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnavailable, why)
	}
	return a, nil
}

// TEE returns keeps.TEESNP.
func (*Attester) TEE() keeps.TEE { return keeps.TEESNP }

// Available reports whether the machine (or the injected interface) can
// produce SEV-SNP reports, and which interface it would use or why none.
func Available() (bool, string) { return (&Attester{}).Available() }

// Available reports whether a's interface can produce SEV-SNP reports, and
// which interface it would use or why none.
func (a *Attester) Available() (bool, string) {
	switch {
	case a.TSM != nil:
		return tsmAvailable(a.TSM)
	case a.QuoteProvider != nil:
		if a.QuoteProvider.IsSupported() {
			return true, "SEV-SNP quote provider"
		}
		return false, "the SEV-SNP quote provider is not supported here"
	}
	ok, why := machineTSMAvailable()
	if ok {
		return true, why
	}
	qp := deviceProvider()
	if qp != nil && qp.IsSupported() {
		return true, devicePath
	}
	return false, why + "; and " + devicePath + " cannot be opened"
}

// machineTSMAvailable checks the machine's configfs-tsm.
func machineTSMAvailable() (bool, string) {
	dir := path.Join(configfsi.TsmPrefix, "report")
	if _, err := os.Stat(dir); err != nil {
		return false, fmt.Sprintf("no configfs-tsm (%v)", err)
	}
	c, err := linuxtsm.MakeClient()
	if err != nil {
		return false, fmt.Sprintf("configfs-tsm: %v", err)
	}
	return tsmAvailable(c)
}

// tsmAvailable reads the provider of a fresh report entry. Writing inblob
// first is harmless (no report is made before outblob is read) and lets
// fakes, which render attributes only after a write, answer.
func tsmAvailable(c configfsi.Client) (bool, string) {
	r, err := report.Create(c, &report.Request{})
	if err != nil {
		return false, fmt.Sprintf("configfs-tsm: %v", err)
	}
	defer r.Destroy()
	if err := r.WriteOption("inblob", make([]byte, keeps.ReportDataSize)); err != nil {
		return false, fmt.Sprintf("configfs-tsm: %v", err)
	}
	p, err := r.ReadOption("provider")
	if err != nil {
		return false, fmt.Sprintf("configfs-tsm: %v", err)
	}
	if got := strings.TrimSpace(string(p)); got != ConfigfsProvider {
		return false, fmt.Sprintf("configfs-tsm provider is %q, not %q", got, ConfigfsProvider)
	}
	return true, "configfs-tsm (provider " + ConfigfsProvider + ")"
}

// Attest returns evidence binding rd: the raw report, and as endorsements
// the certificate table the host supplied (usually VCEK, ASK and ARK; nil
// when the host supplied none).
func (a *Attester) Attest(ctx context.Context, rd keeps.ReportData) (*keeps.Evidence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var rep, table []byte
	var err error
	switch {
	case a.TSM != nil:
		rep, table, err = a.viaTSM(a.TSM, rd)
	case a.QuoteProvider != nil:
		rep, table, err = a.viaProvider(a.QuoteProvider, rd)
	default:
		if ok, why := machineTSMAvailable(); ok {
			c, cerr := linuxtsm.MakeClient()
			if cerr != nil {
				return nil, fmt.Errorf("snp: configfs-tsm: %v", cerr)
			}
			rep, table, err = a.viaTSM(c, rd)
		} else if qp := deviceProvider(); qp != nil && qp.IsSupported() {
			rep, table, err = a.viaProvider(qp, rd)
		} else {
			return nil, fmt.Errorf("%w: %s; and %s cannot be opened", ErrUnavailable, why, devicePath)
		}
	}
	if err != nil {
		return nil, err
	}
	return evidence(rep, table, rd)
}

func (a *Attester) viaTSM(c configfsi.Client, rd keeps.ReportData) ([]byte, []byte, error) {
	req := &report.Request{InBlob: rd[:], GetAuxBlob: true}
	if a.VMPL != nil {
		req.Privilege = &report.Privilege{Level: *a.VMPL}
	}
	var resp *report.Response
	var err error
	for range configfsRetries {
		resp, err = report.Get(c, req)
		if report.GetGenerationErr(err) == nil {
			break
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("snp: configfs-tsm report: %w", err)
	}
	if got := strings.TrimSpace(resp.Provider); got != ConfigfsProvider {
		return nil, nil, fmt.Errorf("%w: configfs-tsm provider is %q, not %q", ErrUnavailable, got, ConfigfsProvider)
	}
	return resp.OutBlob, resp.AuxBlob, nil
}

func (a *Attester) viaProvider(qp client.QuoteProvider, rd keeps.ReportData) ([]byte, []byte, error) {
	var raw []byte
	var err error
	if lqp, ok := qp.(client.LeveledQuoteProvider); ok && a.VMPL != nil {
		raw, err = lqp.GetRawQuoteAtLevel(rd, *a.VMPL)
	} else if a.VMPL != nil {
		return nil, nil, errors.New("snp: the quote provider cannot choose a VMPL")
	} else {
		raw, err = qp.GetRawQuote(rd)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("snp: quote provider: %w", err)
	}
	if len(raw) < ReportSize {
		return nil, nil, fmt.Errorf("%w: the quote provider returned %d bytes, want at least %d", ErrReportSize, len(raw), ReportSize)
	}
	return raw[:ReportSize], raw[ReportSize:], nil
}

// evidence checks what the TEE returned and wraps it.
func evidence(rep, table []byte, rd keeps.ReportData) (*keeps.Evidence, error) {
	if len(rep) < ReportSize {
		return nil, fmt.Errorf("%w: the TEE returned %d bytes, want %d", ErrReportSize, len(rep), ReportSize)
	}
	// The kernel may hand back a larger buffer; the report is its first
	// ReportSize bytes.
	rep = rep[:ReportSize:ReportSize]
	r, err := ParseReport(rep)
	if err != nil {
		return nil, fmt.Errorf("the TEE's report: %w", err)
	}
	if string(r.GetReportData()) != string(rd[:]) {
		return nil, errors.New("snp: the TEE's report does not carry the requested report data")
	}
	ev := &keeps.Evidence{Tag: keeps.TagSEVSNPReport, Data: rep}
	if len(table) > 0 {
		entries, err := ParseCertTable(table)
		if err != nil {
			return nil, fmt.Errorf("the host's certificate table: %w", err)
		}
		// Re-encode without the padding hosts leave after the data.
		if ev.Endorsements, err = MarshalCertTable(entries); err != nil {
			return nil, fmt.Errorf("the host's certificate table: %w", err)
		}
	}
	return ev, nil
}
