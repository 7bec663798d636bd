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
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
)

// A DiskCache keeps compiled code between runs, so that the second start of
// a module skips compilation. See docs/RATIONALE.md, "Compilation cache".
//
// wazero's own file cache trusts its files after a CRC32 check, and
// compiled code is code the keep will execute. So Keep never lets wazero
// read the cache directory itself. Each entry is one file, named by the
// module's SHA-256 under a directory named by the Keep and wazero versions
// and the platform: a header, the file wazero wrote for the module, and a
// GMAC over that file under a key derived for this entry (from the key
// file, kept outside the cache directory, and the header, which binds the
// module hash, the versions and the kind of code). On a hit, Keep copies
// the file (in the kernel) into a fresh private temporary directory,
// checks the GMAC over that private copy, and only then lets wazero read
// it. An entry that fails the check, including one in an older format, is
// deleted and the module is compiled again.
type DiskCache struct {
	dir string
	key []byte // the key file's 32 bytes
}

// MaxCacheEntry bounds the size of one cache entry.
const MaxCacheEntry = 1 << 30

const (
	// cacheMagic starts every entry and names its format. Entries of the
	// earlier formats (KEEPCC1: HMAC-SHA256, named by SHA-384; KEEPCC2:
	// several files, one GMAC under one key) fail the header check and are
	// replaced.
	cacheMagic  = "KEEPCC3\n"
	cacheKeyLen = 32
	// cacheTrailer is the GMAC that ends an entry, as
	// cipher.NewGCMWithRandomNonce seals an empty plaintext: a random
	// 96-bit nonce, then the 128-bit tag.
	cacheTrailer = 12 + 16
	// cacheKDFInfo starts the HKDF info of every entry's GMAC key (the
	// entry's metadata follows it), separating it from any other use of
	// the key file.
	cacheKDFInfo = "keep compilation cache KEEPCC3 AES-256-GCM\n"
	// maxCacheFileName bounds the name of the file wazero wrote, relative
	// to the cache directory (its names are a directory named by wazero's
	// version and the platform, then 64 hex digits).
	maxCacheFileName = 255
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

// entryAEAD returns the AES-256-GCM that authenticates the entry whose
// metadata (header, file name and size) is meta, under a key derived from
// the key file's bytes and meta with HKDF-SHA256. Binding the metadata
// through the key lets the GMAC run over the file's bytes alone, where
// they lie (a private copy, mapped into memory).
func (c *DiskCache) entryAEAD(meta []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, c.key, nil, cacheKDFInfo+string(meta), 32)
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
	key, err := readKey(path)
	if err == nil {
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

// readKey reads the key file: a regular file (the user may keep it
// behind a symlink of their own) of exactly cacheKeyLen bytes. It is
// opened without waiting (a FIFO there would block keep run forever) and
// read no further than one byte past the key.
func readKey(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNonblock, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%v)", path, errNotRegular, st.Mode().Type())
	}
	key, err := io.ReadAll(io.LimitReader(f, cacheKeyLen+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(key) != cacheKeyLen {
		return nil, fmt.Errorf("%s: want %d bytes, found %d", path, cacheKeyLen, st.Size())
	}
	return key, nil
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
	c        *DiskCache
	path     string // the persistent entry file
	dir      string // private temporary directory wazero reads and writes
	header   []byte // what the entry's key binds besides the file's name and size
	hit      bool
	unpacked string // the file unpacked from the entry, on a hit
	log      *slog.Logger
}

// open prepares the module's entry for one compilation: on a hit,
// wazero's file is unpacked into e.dir, checked.
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
	f, err := openRegular(e.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Debug("compilation cache miss", "entry", e.path)
		return e, nil
	case errors.Is(err, errNotRegular):
		// A symlink, FIFO, device or directory where an entry should
		// be: never read, removed, and replaced by store.
		e.reject(err)
		return e, nil
	case err != nil:
		log.Warn("compilation cache: unreadable entry, compiling again", "entry", e.path, "err", err)
		return e, nil
	}
	ef, err := e.readEntry(f)
	if err == nil {
		err = e.unpackFile(f, ef)
	}
	f.Close()
	if err != nil {
		e.reject(err)
		os.RemoveAll(tmp)
		if tmp, err = os.MkdirTemp("", "keep-cc-"); err != nil {
			return nil, err
		}
		e.dir = tmp
		return e, nil
	}
	e.hit = true
	return e, nil
}

// errNotRegular is openRegular's error for anything but a regular file.
var errNotRegular = errors.New("not a regular file")

// openRegular opens path for reading only if it is a regular file. It
// neither follows a symlink nor waits (O_NOFOLLOW|O_NONBLOCK: a FIFO
// planted as an entry would otherwise block the open until a writer
// came, and keep run with it, --timeout or not), then checks the file it
// got with fstat. O_NONBLOCK changes nothing for a regular file.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow|oNonblock, 0)
	if err != nil {
		if isSymlinkErr(err) {
			return nil, fmt.Errorf("%s: %w (a symlink)", path, errNotRegular)
		}
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: %w (%v)", path, errNotRegular, st.Mode().Type())
	}
	return f, nil
}

// reject deletes an entry that failed its checks.
func (e *cacheEntry) reject(err error) {
	e.log.Warn("compilation cache: entry rejected, compiling again", "entry", e.path, "err", err)
	os.Remove(e.path)
}

// finish says, once wazero's CompileModule has returned compileErr for
// this entry, whether the entry was used, and whether to compile once more
// with a new entry from open: when wazero refused an authentic entry's
// code, which is then deleted.
func (e *cacheEntry) finish(compileErr error) (retry bool) {
	if !e.hit {
		return false
	}
	switch {
	case compileErr != nil:
		// Keep wrote and authenticated this code, yet wazero refused it
		// (a wazero whose format changed under the same version?).
		e.log.Warn("compilation cache: wazero refused the entry's code, compiling again", "entry", e.path, "err", compileErr)
		os.Remove(e.path)
		e.hit = false
		return true
	case e.wazeroWrote():
		// wazero looked for another file than the entry's (another CPU's
		// code), compiled, and wrote its own: store replaces the entry.
		e.log.Debug("compilation cache miss: wazero did not use the entry", "entry", e.path)
		os.Remove(e.unpacked)
		e.hit = false
		return false
	}
	e.log.Debug("compilation cache hit", "entry", e.path)
	return false
}

// wazeroWrote reports whether e.dir holds a regular file besides the one
// unpacked from the entry: one wazero wrote.
func (e *cacheEntry) wazeroWrote() bool {
	names, _ := e.files()
	for _, n := range names {
		if filepath.Join(e.dir, filepath.FromSlash(n)) != e.unpacked {
			return true
		}
	}
	return false
}

// files returns the regular files in e.dir, slash-separated and relative
// to it.
func (e *cacheEntry) files() ([]string, error) {
	var names []string
	err := filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(e.dir, p)
		names = append(names, filepath.ToSlash(rel))
		return err
	})
	return names, err
}

// Entry layout: the header (entryHeader), the metadata of the one file
// wazero wrote for the module (u32 name length, name, u64 size), its
// bytes, then the GMAC of those bytes under entryAEAD(header and metadata):
// a random 96-bit nonce and the 128-bit tag (cacheTrailer).
//
// entryMeta returns the header and metadata of a file called name of size
// bytes.
func (e *cacheEntry) entryMeta(name string, size uint64) []byte {
	meta := bytes.Clone(e.header)
	meta = binary.BigEndian.AppendUint32(meta, uint32(len(name)))
	meta = append(meta, name...)
	return binary.BigEndian.AppendUint64(meta, size)
}

// entryFile is what an entry's header and metadata say of the file it
// holds, before the GMAC is checked.
type entryFile struct {
	name    string // slash-separated, relative to the private directory
	size    int64
	offset  int64 // of the file's bytes in the entry
	trailer [cacheTrailer]byte
	aead    cipher.AEAD // the entry's, from its metadata
}

// readEntry reads the header, metadata and trailer of the entry in f and
// checks that they are those of this module's entry and agree with its
// size. The key binds them: a forged field fails the GMAC later.
func (e *cacheEntry) readEntry(f *os.File) (*entryFile, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	total := st.Size()
	if !st.Mode().IsRegular() || total > MaxCacheEntry {
		return nil, fmt.Errorf("not a regular file of at most %d bytes", int64(MaxCacheEntry))
	}
	pre := make([]byte, min(total, int64(len(e.header)+4+maxCacheFileName+8)))
	if _, err := io.ReadFull(f, pre); err != nil {
		return nil, fmt.Errorf("truncated entry: %w", err)
	}
	if !bytes.HasPrefix(pre, e.header) || len(pre) < len(e.header)+4 {
		return nil, errors.New("bad header")
	}
	rest := pre[len(e.header):]
	n := binary.BigEndian.Uint32(rest)
	if n == 0 || n > maxCacheFileName || uint32(len(rest)) < 4+n+8 {
		return nil, errors.New("bad file name length")
	}
	ef := &entryFile{name: string(rest[4 : 4+n])}
	if !cacheFileName(ef.name) {
		return nil, fmt.Errorf("bad file name %q", ef.name)
	}
	size := binary.BigEndian.Uint64(rest[4+n:])
	ef.offset = int64(len(e.header)) + 4 + int64(n) + 8
	if size == 0 || size > uint64(total) || ef.offset+int64(size)+cacheTrailer != total {
		return nil, fmt.Errorf("file size %d does not match the entry's size %d", size, total)
	}
	ef.size = int64(size)
	if _, err := f.ReadAt(ef.trailer[:], total-cacheTrailer); err != nil {
		return nil, fmt.Errorf("truncated entry: %w", err)
	}
	if ef.aead, err = e.c.entryAEAD(pre[:ef.offset]); err != nil {
		return nil, err
	}
	return ef, nil
}

// copyChecked copies the file of the entry in f into out, a new private
// file, by the kernel (copy_file_range where it can), then checks the GMAC
// over that copy, mapped into memory: what is used later is exactly what
// was checked, and neither step reads the entry into the heap.
func (ef *entryFile) copyChecked(f, out *os.File) error {
	if _, err := f.Seek(ef.offset, io.SeekStart); err != nil {
		return err
	}
	if m, err := io.CopyN(out, f, ef.size); err != nil {
		return fmt.Errorf("copying %d of %d bytes: %w", m, ef.size, err)
	}
	err := withFileBytes(out, int(ef.size), func(data []byte) error {
		_, err := ef.aead.Open(nil, nil, ef.trailer[:], data)
		return err
	})
	if err != nil {
		return errors.New("authentication failed")
	}
	return nil
}

// unpackFile checks the entry in f, whose metadata ef is, and leaves
// wazero's file in e.dir.
func (e *cacheEntry) unpackFile(f *os.File, ef *entryFile) error {
	p := filepath.Join(e.dir, filepath.FromSlash(ef.name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	out, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	if err := ef.copyChecked(f, out); err != nil {
		os.Remove(p)
		return err
	}
	e.unpacked = p
	return nil
}

// cacheFileName reports whether name (slash-separated) is one wazero gives
// its cache file, "wazero-<version>-<arch>-<os>/<64 hex digits>": one
// directory and a file, neither empty, "." or "..", within
// maxCacheFileName bytes.
func cacheFileName(name string) bool {
	dir, file, ok := strings.Cut(name, "/")
	return ok && len(name) <= maxCacheFileName && !strings.ContainsAny(name, "\\\x00") &&
		dir != "" && file != "" && !strings.Contains(file, "/") &&
		dir != "." && dir != ".." && file != "." && file != ".."
}

// store writes what wazero wrote into the entry file, unless it came from
// there. The file is written to a temporary name and renamed into place.
func (e *cacheEntry) store() error {
	if e.hit {
		return nil
	}
	names, err := e.files()
	if err != nil {
		return err
	}
	switch {
	case len(names) == 0:
		return nil // wazero cached nothing (no code)
	case len(names) > 1 || !cacheFileName(names[0]):
		return fmt.Errorf("wazero wrote %q, not one file named as it names them", names)
	}
	data, err := os.ReadFile(filepath.Join(e.dir, filepath.FromSlash(names[0])))
	if err != nil {
		return err
	}
	meta := e.entryMeta(names[0], uint64(len(data)))
	if len(meta)+len(data)+cacheTrailer > MaxCacheEntry {
		return fmt.Errorf("entry of %d bytes exceeds the limit", len(meta)+len(data)+cacheTrailer)
	}
	aead, err := e.c.entryAEAD(meta)
	if err != nil {
		return err
	}
	trailer := aead.Seal(nil, nil, nil, data)
	if err := os.MkdirAll(filepath.Dir(e.path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(e.path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	for _, b := range [][]byte{meta, data, trailer} {
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
