//go:build linux

package snp

import "github.com/google/go-sev-guest/client"

// devicePath is the SEV guest device of Linux 5.19 and later.
const devicePath = "/dev/sev-guest"

// deviceProvider returns go-sev-guest's /dev/sev-guest quote provider. It
// asks for the extended report, so the host's certificate table comes
// along.
func deviceProvider() client.QuoteProvider { return &client.LinuxIoctlQuoteProvider{} }
