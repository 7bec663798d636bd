package tdx

// The attester for keeps running in a TD. Two kernel interfaces make
// quotes:
//
//   - configfs-tsm (Linux 6.7+, Documentation/ABI/testing/configfs-tsm):
//     mkdir an entry under /sys/kernel/config/tsm/report, write the 64
//     bytes of report data to its inblob, read the quote from outblob. The
//     entry's provider attribute names the TEE ("tdx_guest" for TDX).
//   - /dev/tdx_guest (Linux 6.2+): the TDX_CMD_GET_REPORT ioctl and a
//     GetQuote request to the host's quote generation service, through
//     go-tdx-guest's client package (older kernels; newer ones dropped the
//     quote ioctl in favour of configfs-tsm).
//
// configfs-tsm is used when it exists and its provider is tdx_guest, else
// /dev/tdx_guest.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-configfs-tsm/configfs/configfsi"
	"github.com/google/go-configfs-tsm/configfs/linuxtsm"
	"github.com/google/go-configfs-tsm/report"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/intel"
)

// DefaultDevicePath is the TDX guest device of Linux.
const DefaultDevicePath = "/dev/tdx_guest"

// ProviderTDX is the configfs-tsm report provider of TDX guests (the
// tdx_guest driver's name).
const ProviderTDX = "tdx_guest"

// maxQuoteSize bounds what the attester accepts from the kernel: the quote
// parser's limit.
const maxQuoteSize = intel.MaxQuoteSize

// QuoteProvider makes raw TDX quotes for 64 bytes of report data. It has
// the method set of go-tdx-guest's client.QuoteProvider, so any of that
// package's providers (and its test fakes) fit.
type QuoteProvider interface {
	// IsSupported returns nil when the provider can make quotes here.
	IsSupported() error
	// GetRawQuote returns a quote binding reportData.
	GetRawQuote(reportData [64]byte) ([]byte, error)
}

// Attester makes TDX quotes. The zero value uses the kernel's configfs-tsm
// when present, else DefaultDevicePath.
type Attester struct {
	// TSM is the configfs-tsm client; nil means the kernel's
	// (linuxtsm.MakeClient), when /sys/kernel/config/tsm/report exists.
	// Tests use go-configfs-tsm's faketsm.
	TSM configfsi.Client
	// QuoteProvider is used when configfs-tsm is absent or its provider is
	// not tdx_guest; nil means DefaultDevicePath through go-tdx-guest's
	// client package.
	QuoteProvider QuoteProvider
}

var _ keeps.Attester = (*Attester)(nil)

// errNotTDXProvider: configfs-tsm works but is backed by another TEE.
var errNotTDXProvider = errors.New("configfs-tsm report provider is not " + ProviderTDX)

// TEE returns keeps.TEETDX.
func (*Attester) TEE() keeps.TEE { return keeps.TEETDX }

func (a *Attester) tsm() (configfsi.Client, error) {
	if a.TSM != nil {
		return a.TSM, nil
	}
	return linuxtsm.MakeClient()
}

func (a *Attester) provider() QuoteProvider {
	if a.QuoteProvider != nil {
		return a.QuoteProvider
	}
	return deviceProvider{DefaultDevicePath}
}

// Available reports whether this process can make TDX quotes: configfs-tsm
// with a tdx_guest provider, or the fallback provider (by default
// /dev/tdx_guest). When it cannot, the string says why.
func (a *Attester) Available() (bool, string) {
	var why []string
	if c, err := a.tsm(); err != nil {
		why = append(why, "configfs-tsm: "+err.Error())
	} else if p, err := tsmProvider(c); err != nil {
		why = append(why, "configfs-tsm: "+err.Error())
	} else if p != ProviderTDX {
		why = append(why, fmt.Sprintf("configfs-tsm: report provider is %q, not %q", p, ProviderTDX))
	} else {
		return true, ""
	}
	if err := a.provider().IsSupported(); err != nil {
		why = append(why, err.Error())
	} else {
		return true, ""
	}
	return false, "no TDX quote interface: " + strings.Join(why, "; ")
}

// Available reports whether this process can make TDX quotes with the
// kernel's interfaces (see Attester.Available).
func Available() (bool, string) { return (&Attester{}).Available() }

// Attest returns a TDX quote binding rd, through configfs-tsm or else the
// fallback provider, after checking that it parses as a TDX quote carrying
// rd. The evidence is the quote without any bytes after its signature
// data.
func (a *Attester) Attest(ctx context.Context, rd keeps.ReportData) (*keeps.Evidence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	raw, src, err := a.rawQuote(rd)
	if err != nil {
		return nil, err
	}
	q, err := intel.ParseQuote(raw)
	if err != nil {
		return nil, fmt.Errorf("tdx: quote from %s: %w", src, err)
	}
	if q.TD == nil {
		return nil, fmt.Errorf("tdx: quote from %s: %w (%s)", src, ErrNotTDX, q.Header.TEEType)
	}
	if q.ReportData() != rd {
		return nil, fmt.Errorf("tdx: the quote from %s does not carry the report data asked for", src)
	}
	return &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: bytes.Clone(raw[:len(raw)-len(q.Trailing)])}, nil
}

// rawQuote gets a quote and names where it came from.
func (a *Attester) rawQuote(rd keeps.ReportData) ([]byte, string, error) {
	var why string
	if c, err := a.tsm(); err != nil {
		why = err.Error()
	} else {
		raw, err := tsmQuote(c, rd)
		if err == nil {
			return raw, "configfs-tsm", nil
		}
		if !errors.Is(err, errNotTDXProvider) {
			return nil, "", fmt.Errorf("tdx: configfs-tsm: %w", err)
		}
		why = err.Error()
	}
	p := a.provider()
	if err := p.IsSupported(); err != nil {
		return nil, "", fmt.Errorf("tdx: no TDX quote interface: configfs-tsm: %s; %v", why, err)
	}
	raw, err := p.GetRawQuote(rd)
	if err != nil {
		return nil, "", fmt.Errorf("tdx: quote provider: %w", err)
	}
	if len(raw) > maxQuoteSize {
		return nil, "", fmt.Errorf("tdx: quote provider returned %d bytes, more than %d", len(raw), maxQuoteSize)
	}
	return raw, "the quote provider", nil
}

// tsmProvider reads the provider of a fresh configfs-tsm report entry.
// The inblob is written first: go-configfs-tsm's faketsm (like some
// kernels' attribute caching) only answers after a write.
func tsmProvider(c configfsi.Client) (string, error) {
	r, err := report.CreateOpenReport(c)
	if err != nil {
		return "", err
	}
	defer r.Destroy()
	if err := r.WriteOption("inblob", make([]byte, keeps.ReportDataSize)); err != nil {
		return "", err
	}
	p, err := r.ReadOption("provider")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(p)), nil
}

// tsmQuote makes a quote through configfs-tsm: write the report data to
// inblob, check the provider is tdx_guest (on another TEE, outblob would
// be that TEE's report), read outblob.
func tsmQuote(c configfsi.Client, rd keeps.ReportData) (out []byte, err error) {
	r, err := report.CreateOpenReport(c)
	if err != nil {
		return nil, err
	}
	defer func() {
		if derr := r.Destroy(); err == nil && derr != nil {
			out, err = nil, derr
		}
	}()
	if err := r.WriteOption("inblob", bytes.Clone(rd[:])); err != nil {
		return nil, err
	}
	p, err := r.ReadOption("provider")
	if err != nil {
		return nil, err
	}
	if got := strings.TrimSpace(string(p)); got != ProviderTDX {
		return nil, fmt.Errorf("%w (it is %q)", errNotTDXProvider, got)
	}
	out, err = r.ReadOption("outblob")
	if err != nil {
		return nil, err
	}
	if len(out) > maxQuoteSize {
		return nil, fmt.Errorf("outblob of %d bytes, more than %d", len(out), maxQuoteSize)
	}
	return out, nil
}
