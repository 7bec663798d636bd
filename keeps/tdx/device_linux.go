//go:build linux

package tdx

import (
	"fmt"
	"os"

	"github.com/google/go-tdx-guest/client"
)

// deviceProvider makes quotes through a TDX guest device with
// go-tdx-guest's ioctls (TDX_CMD_GET_REPORT, then a GetQuote request).
type deviceProvider struct{ path string }

// IsSupported reports whether the device exists.
func (d deviceProvider) IsSupported() error {
	if _, err := os.Stat(d.path); err != nil {
		return fmt.Errorf("TDX guest device: %w", err)
	}
	return nil
}

// GetRawQuote opens the device, asks for a quote and closes it.
func (d deviceProvider) GetRawQuote(rd [64]byte) ([]byte, error) {
	dev := &client.LinuxDevice{}
	if err := dev.Open(d.path); err != nil {
		return nil, err
	}
	defer dev.Close()
	return client.GetRawQuote(dev, rd)
}
