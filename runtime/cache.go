package runtime

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
)

// A DiskCache keeps compiled code between runs, so that the second start of
// a module skips compilation. See docs/RATIONALE.md, "Compilation cache".
//
// wazero's own file cache trusts its files after a CRC32 check, and
// compiled code is code the keep will execute. So Keep never lets wazero
// read the cache directory itself. Each entry is one file, named by the
// module's SHA-256 under a directory named by the Keep and wazero versions
// and the platform, and it ends in a GMAC (AES-256-GCM authenticating the
// whole entry, encrypting nothing) under a key derived from a key file kept
// outside the cache directory. On a hit, Keep reads the entry, checks the
// MAC (which also covers the module hash, the versions and the kind of
// code), and only then unpacks it into a fresh private temporary directory
// that wazero reads. An entry that fails the check, including one in an
// older format, is deleted and the module is compiled again.
type DiskCache struct {
	dir  string
	key  []byte      // the key file's 32 bytes
	aead cipher.AEAD // AES-256-GCM under a key derived from key
}

// MaxCacheEntry bounds the size of one cache entry.
const MaxCacheEntry = 1 << 30

const (
	// cacheMagic starts every entry and names its format. KEEPCC1 entries
	// (HMAC-SHA256, named by SHA-384) fail the header check and are
	// replaced.
	cacheMagic  = "KEEPCC2\n"
	cacheKeyLen = 32
	// cacheTrailer is the GMAC that ends an entry, as
	// cipher.NewGCMWithRandomNonce seals an empty plaintext: a random
	// 96-bit nonce, then the 128-bit tag.
	cacheTrailer = 12 + 16
	// cacheKDFInfo separates the GMAC key from any other use of the key
	// file (Keep's older entries were HMAC-SHA256 under its raw bytes).
	cacheKDFInfo = "keep compilation cache KEEPCC2 AES-256-GCM"
)

// OpenDiskCache opens (creating if needed) a cache in dir, authenticated
// with the key in keyFile (created with 32 random bytes if missing). The
// key must not be stored in dir: whoever can read it can forge entries.
func OpenDiskCache(dir, keyFile string) (*DiskCache, error) {
	if dir == "" {
		return nil, errors.New("cache dir is empty")
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	absKey, err := filepath.Abs(keyFile)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(absKey, absDir+string(filepath.Separator)) {
		return nil, fmt.Errorf("cache key %s must not be inside the cache dir %s", keyFile, dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	key, err := loadOrCreateKey(keyFile)
	if err != nil {
		return nil, err
	}
	aead, err := newCacheAEAD(key)
	if err != nil {
		return nil, err
	}
	return &DiskCache{dir: dir, key: key, aead: aead}, nil
}

// newCacheAEAD returns the AES-256-GCM that authenticates entries, under a
// key derived from the key file's bytes with HKDF-SHA256.
func newCacheAEAD(key []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, key, nil, cacheKDFInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("cache key: %w", err)
	}
	blk, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("cache key: %w", err)
	}
	return cipher.NewGCMWithRandomNonce(blk)
}

func loadOrCreateKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err == nil {
		if len(key) != cacheKeyLen {
			return nil, fmt.Errorf("cache key %s: want %d bytes, found %d", path, cacheKeyLen, len(key))
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("cache key: %w", err)
	}
	key = make([]byte, cacheKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cache key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another keep created it first
		return loadOrCreateKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("cache key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, fmt.Errorf("cache key: %w", err)
	}
	return key, f.Close()
}

// versionDir names the compatibility class of entries: code compiled by one
// Keep and wazero build for one platform.
func versionDir() string {
	return sanitize(fmt.Sprintf("keep-%s-wazero-%s-%s-%s", Version(), WazeroVersion(), goruntime.GOOS, goruntime.GOARCH))
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == ' ' {
			return '_'
		}
		return r
	}, s)
}

// cacheID names a module in the disk cache: the SHA-256 of its bytes,
// collision-resistant like the SHA-384 Digest and several times cheaper to
// compute where the CPU has SHA instructions (the Digest is computed beside
// the cache lookup, see Compile).
type cacheID [sha256.Size]byte

func cacheIDOf(wasm []byte) cacheID { return sha256.Sum256(wasm) }

// entryName is the file name, and entryHeader the header, of a module's
// entry. Code compiled with interrupt checks (EngineConfig.Interruptible)
// differs from code without them, so each kind has its own entry.
func entryName(id cacheID, interruptible bool) string {
	n := hex.EncodeToString(id[:])
	if interruptible {
		n += "-interruptible"
	}
	return n + ".entry"
}

func entryHeader(vdir string, id cacheID, interruptible bool) []byte {
	code := "plain"
	if interruptible {
		code = "interruptible"
	}
	return []byte(cacheMagic + vdir + "\nsha256:" + hex.EncodeToString(id[:]) + "\ncode:" + code + "\n")
}

// cacheEntry is one module's entry while a Compile uses it.
type cacheEntry struct {
	c      *DiskCache
	path   string // the persistent entry file
	dir    string // private temporary directory wazero reads and writes
	header []byte // what the MAC binds besides the files
	hit    bool
	log    *slog.Logger
}

func (c *DiskCache) open(id cacheID, interruptible bool, log *slog.Logger) (*cacheEntry, error) {
	vdir := versionDir()
	tmp, err := os.MkdirTemp("", "keep-cc-")
	if err != nil {
		return nil, fmt.Errorf("compilation cache: %w", err)
	}
	e := &cacheEntry{
		c:      c,
		path:   filepath.Join(c.dir, vdir, entryName(id, interruptible)),
		dir:    tmp,
		header: entryHeader(vdir, id, interruptible),
		log:    log,
	}
	data, err := readLimited(e.path, MaxCacheEntry)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Debug("compilation cache miss", "entry", e.path)
	case err != nil:
		log.Warn("compilation cache: unreadable entry, compiling again", "entry", e.path, "err", err)
	default:
		if err := e.unpack(data); err != nil {
			log.Warn("compilation cache: entry rejected, compiling again", "entry", e.path, "err", err)
			os.Remove(e.path)
			os.RemoveAll(tmp)
			if tmp, err = os.MkdirTemp("", "keep-cc-"); err != nil {
				return nil, err
			}
			e.dir = tmp
		} else {
			e.hit = true
			log.Debug("compilation cache hit", "entry", e.path)
		}
	}
	return e, nil
}

// Entry layout: header, then records (u32 name length, name, u64 data
// length, data), then the GMAC over header and records: a random 96-bit
// nonce and the 128-bit tag (cacheTrailer).
//
// seal appends the GMAC of entry (header and records) to it.
func (e *cacheEntry) seal(entry []byte) []byte {
	return e.c.aead.Seal(entry, nil, nil, entry)
}

func (e *cacheEntry) unpack(data []byte) error {
	if len(data) < len(e.header)+cacheTrailer || !bytes.HasPrefix(data, e.header) {
		return errors.New("bad header")
	}
	signed, trailer := data[:len(data)-cacheTrailer], data[len(data)-cacheTrailer:]
	if _, err := e.c.aead.Open(nil, nil, trailer, signed); err != nil {
		return errors.New("authentication failed")
	}
	body := signed[len(e.header):]
	for len(body) > 0 {
		if len(body) < 4 {
			return errors.New("truncated record")
		}
		n := binary.BigEndian.Uint32(body)
		body = body[4:]
		if uint64(len(body)) < uint64(n)+8 {
			return errors.New("truncated record")
		}
		name := string(body[:n])
		body = body[n:]
		size := binary.BigEndian.Uint64(body)
		body = body[8:]
		if uint64(len(body)) < size {
			return errors.New("truncated record")
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("bad record name %q", name)
		}
		p := filepath.Join(e.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, body[:size], 0o600); err != nil {
			return err
		}
		body = body[size:]
	}
	return nil
}

// store packs what wazero wrote into the entry file, unless it came from
// there. The file is written to a temporary name and renamed into place.
func (e *cacheEntry) store() error {
	if e.hit {
		return nil
	}
	var names []string
	err := filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(e.dir, p)
		names = append(names, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	entry := bytes.NewBuffer(bytes.Clone(e.header))
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(e.dir, filepath.FromSlash(n)))
		if err != nil {
			return err
		}
		binary.Write(entry, binary.BigEndian, uint32(len(n)))
		entry.WriteString(n)
		binary.Write(entry, binary.BigEndian, uint64(len(data)))
		entry.Write(data)
	}
	if entry.Len()+cacheTrailer > MaxCacheEntry {
		return fmt.Errorf("entry of %d bytes exceeds the limit", entry.Len()+cacheTrailer)
	}
	if entry.Available() < cacheTrailer {
		entry.Grow(cacheTrailer)
	}
	sealed := e.seal(entry.Bytes())
	if err := os.MkdirAll(filepath.Dir(e.path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(e.path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(sealed); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), e.path)
}

func (e *cacheEntry) release() { os.RemoveAll(e.dir) }

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllLimited(f, limit)
}
