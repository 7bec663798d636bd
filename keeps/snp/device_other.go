//go:build !linux

package snp

import "github.com/google/go-sev-guest/client"

const devicePath = "/dev/sev-guest"

// deviceProvider returns nil: SEV-SNP guests are Linux-only here.
func deviceProvider() client.QuoteProvider { return nil }
