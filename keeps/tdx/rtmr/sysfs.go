package rtmr

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Size is the size of a TDX RTMR and of what extends it (SHA-384).
const Size = 48

// SysfsRTMR3 is where Linux 6.16+ exposes RTMR3 of the TD it runs in.
const SysfsRTMR3 = "/sys/class/misc/tdx_guest/measurements/rtmr3:sha384"

// ErrUnavailable is returned when the register's file does not exist: not
// a TD, or a kernel older than 6.16.
var ErrUnavailable = errors.New("no RTMR in sysfs (needs a TDX guest on Linux 6.16 or later)")

// Register is one runtime measurement register.
type Register interface {
	// Read returns the register's value.
	Read() ([Size]byte, error)
	// Extend extends the register with d: new = SHA-384(old ‖ d).
	Extend(d [Size]byte) error
}

// Sysfs is a Register behind a Linux sysfs measurement file.
type Sysfs struct {
	// Path is the file, such as SysfsRTMR3.
	Path string
}

// Read reads the register's 48 bytes.
func (s Sysfs) Read() ([Size]byte, error) {
	var v [Size]byte
	f, err := os.Open(s.Path)
	if err != nil {
		return v, s.err(err)
	}
	defer f.Close()
	// A sysfs binary attribute may return fewer bytes per read; one more
	// read must then find the end.
	if _, err := io.ReadFull(f, v[:]); err != nil {
		return v, fmt.Errorf("%s: reading %d bytes: %w", s.Path, Size, err)
	}
	var extra [1]byte
	if n, _ := f.Read(extra[:]); n != 0 {
		return v, fmt.Errorf("%s: more than %d bytes: not a SHA-384 register", s.Path, Size)
	}
	return v, nil
}

// Extend writes d, in one write at offset 0, as the ABI requires. The file
// is never created: a missing register is ErrUnavailable.
func (s Sysfs) Extend(d [Size]byte) error {
	f, err := os.OpenFile(s.Path, os.O_WRONLY, 0)
	if err != nil {
		return s.err(err)
	}
	n, err := f.Write(d[:])
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: extending: %w", s.Path, err)
	}
	if n != Size {
		return fmt.Errorf("%s: extending: wrote %d of %d bytes", s.Path, n, Size)
	}
	return nil
}

func (s Sysfs) err(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", s.Path, ErrUnavailable)
	}
	return err
}
