package oci

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// Store is a content-addressed directory of verified blobs:
// DIR/blobs/ALG/HEX, as in an OCI image layout. A blob is written only
// after its digest was checked, under a temporary name then renamed, and
// checked again on every read: a file that no longer matches its name is
// removed and reported as absent.
type Store struct {
	dir string
}

// DefaultStoreDir is $XDG_CACHE_HOME/keep/oci (os.UserCacheDir).
func DefaultStoreDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "keep", "oci"), nil
}

// OpenStore opens (creating, mode 0700) the store in dir.
func OpenStore(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: empty directory name")
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Path is where the blob d lives (whether or not it is there).
func (s *Store) Path(d digest.Digest) string {
	return filepath.Join(s.dir, "blobs", string(d.Algorithm()), d.Encoded())
}

// Get returns the blob d if the store has it, it is at most limit bytes,
// and it still hashes to d. ok is false when it is absent or was bad (then
// removed).
func (s *Store) Get(d digest.Digest, limit int64) (data []byte, ok bool, err error) {
	if err := d.Validate(); err != nil {
		return nil, false, err
	}
	p := s.Path(d)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, false, fmt.Errorf("store: %w", err)
	}
	if int64(len(data)) > limit || d.Algorithm().FromBytes(data) != d {
		os.Remove(p) // not what its name says: never serve it
		return nil, false, nil
	}
	return data, true, nil
}

// Put stores data as blob d, after checking that it hashes to d.
func (s *Store) Put(d digest.Digest, data []byte) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if d.Algorithm().FromBytes(data) != d {
		return fmt.Errorf("store: data does not hash to %s", d)
	}
	dir := filepath.Dir(s.Path(d))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), s.Path(d))
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("store: %w", werr)
	}
	return nil
}
