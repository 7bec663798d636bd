package runtime

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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
// module's SHA-384 digest under a directory named by the Keep and wazero
// versions and the platform, and it ends in an HMAC-SHA256 under a key that
// is kept outside the cache directory. On a hit, Keep reads the entry,
// checks the MAC (which also covers the digest and versions), and only then
// unpacks it into a fresh private temporary directory that wazero reads.
// An entry that fails the check is deleted and the module is compiled again.
type DiskCache struct {
	dir string
	key []byte
}

// MaxCacheEntry bounds the size of one cache entry.
const MaxCacheEntry = 1 << 30

const (
	cacheMagic  = "KEEPCC1\n"
	cacheKeyLen = 32
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
	return &DiskCache{dir: dir, key: key}, nil
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

// cacheEntry is one module's entry while a Compile uses it.
type cacheEntry struct {
	c      *DiskCache
	path   string // the persistent entry file
	dir    string // private temporary directory wazero reads and writes
	header []byte // what the MAC binds besides the files
	hit    bool
	log    *slog.Logger
}

func (c *DiskCache) open(d Digest, log *slog.Logger) (*cacheEntry, error) {
	vdir := versionDir()
	tmp, err := os.MkdirTemp("", "keep-cc-")
	if err != nil {
		return nil, fmt.Errorf("compilation cache: %w", err)
	}
	e := &cacheEntry{
		c:      c,
		path:   filepath.Join(c.dir, vdir, hex.EncodeToString(d[:])+".entry"),
		dir:    tmp,
		header: []byte(cacheMagic + vdir + "\n" + d.String() + "\n"),
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

func (e *cacheEntry) mac(body []byte) []byte {
	h := hmac.New(sha256.New, e.c.key)
	h.Write(e.header)
	h.Write(body)
	return h.Sum(nil)
}

// Entry layout: header, then records (u32 name length, name, u64 data
// length, data), then the 32-byte MAC over header and records.
func (e *cacheEntry) unpack(data []byte) error {
	if len(data) < len(e.header)+sha256.Size || !bytes.HasPrefix(data, e.header) {
		return errors.New("bad header")
	}
	body := data[len(e.header) : len(data)-sha256.Size]
	if !hmac.Equal(e.mac(body), data[len(data)-sha256.Size:]) {
		return errors.New("authentication failed")
	}
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
	var body bytes.Buffer
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(e.dir, filepath.FromSlash(n)))
		if err != nil {
			return err
		}
		binary.Write(&body, binary.BigEndian, uint32(len(n)))
		body.WriteString(n)
		binary.Write(&body, binary.BigEndian, uint64(len(data)))
		body.Write(data)
	}
	if body.Len()+len(e.header)+sha256.Size > MaxCacheEntry {
		return fmt.Errorf("entry of %d bytes exceeds the limit", body.Len())
	}
	if err := os.MkdirAll(filepath.Dir(e.path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(e.path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	for _, b := range [][]byte{e.header, body.Bytes(), e.mac(body.Bytes())} {
		if _, err := f.Write(b); err != nil {
			f.Close()
			return err
		}
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
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}
