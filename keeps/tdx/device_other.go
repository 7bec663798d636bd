//go:build !linux

package tdx

import "errors"

// deviceProvider stands for the TDX guest device, which only Linux has.
type deviceProvider struct{ path string }

var errNoDevice = errors.New("TDX guest device: only on Linux")

// IsSupported returns an error: there is no TDX guest device here.
func (deviceProvider) IsSupported() error { return errNoDevice }

// GetRawQuote returns an error: there is no TDX guest device here.
func (deviceProvider) GetRawQuote([64]byte) ([]byte, error) { return nil, errNoDevice }
