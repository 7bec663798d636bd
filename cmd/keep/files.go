package main

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
)

// checkOverwrite refuses, unless force, when any of paths exists: a command
// that writes several files checks them all before it writes any.
func checkOverwrite(force bool, paths ...string) error {
	if force {
		return nil
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s: already exists (use --force to overwrite)", p)
		}
	}
	return nil
}

// writePEMFile writes one PEM block to a new file at path with mode.
// Without force it never replaces a file (O_EXCL, so not one created since
// checkOverwrite either); with force it removes an existing one first, so
// that a private key never inherits an old file's looser mode.
func writePEMFile(path, typ string, der []byte, mode os.FileMode, force bool) error {
	if force {
		if err := os.Remove(path); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return pathErr(err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, iofs.ErrExist) {
		return fmt.Errorf("%s: already exists (use --force to overwrite)", path)
	}
	if err != nil {
		return pathErr(err)
	}
	if err := pem.Encode(f, &pem.Block{Type: typ, Bytes: der}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// explainTLS says so when a TLS handshake failed because the peer does not
// speak TLS at all (a plain TCP or HTTP port).
func explainTLS(err error) error {
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		return fmt.Errorf("the peer does not speak TLS (its first bytes are no TLS record): %w", err)
	}
	return err
}
