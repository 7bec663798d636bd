package rtmr

import (
	"bufio"
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// Limits of a log a verifier accepts.
const (
	// MaxLogSize bounds a whole log.
	MaxLogSize = 1 << 20
	// MaxEntries bounds the entries of a log.
	MaxEntries = 4096
	// maxLine bounds one entry.
	maxLine = 4096
	// maxContent bounds an entry's content.
	maxContent = 1024
)

// DomainKeep is the domain of the events Keep logs.
const DomainKeep = "keep"

// OpInit is the operation of a log's first entry when the register was
// not all zeros as the log began: its content is the register's value
// then, "sha384:<hex>". It extends nothing.
const OpInit = "init"

// Operations of Keep's events: the module's digest and the config's
// ("sha384:<hex>", or "none" without a config).
const (
	OpModule = "module"
	OpConfig = "config"
)

// Entry is one line of an event log.
type Entry struct {
	Domain    string `json:"domain"`
	Operation string `json:"operation"`
	Content   string `json:"content"`
	// Digest is "sha384:<hex>" of Text(), the value extended into the
	// register; empty for an init entry.
	Digest string `json:"digest,omitempty"`
}

// The patterns are compiled on first use, not at package init: every
// keep process links this package, few measure events, and compiling
// regular expressions at init is start-up time for all of them.
var (
	nameRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]{0,63}$`) })
	contentRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\x21-\x7e]+$`) }) // printable ASCII, no spaces; length checked apart
)

// Text is what the entry measures: "domain operation content". The parts
// contain no spaces, so the text names one entry only.
func (e Entry) Text() string { return e.Domain + " " + e.Operation + " " + e.Content }

// Sum is SHA-384 of Text().
func (e Entry) Sum() [Size]byte { return sha512.Sum384([]byte(e.Text())) }

// NewEvent returns an entry for an event, with its digest.
func NewEvent(domain, operation, content string) (Entry, error) {
	e := Entry{Domain: domain, Operation: operation, Content: content}
	if err := e.checkParts(); err != nil {
		return e, err
	}
	if operation == OpInit {
		return e, errors.New("rtmr: init is not an event")
	}
	s := e.Sum()
	e.Digest = "sha384:" + hex.EncodeToString(s[:])
	return e, nil
}

func (e Entry) checkParts() error {
	if !nameRE().MatchString(e.Domain) {
		return fmt.Errorf("domain %q: want 1-64 of a-z 0-9 . _ / -", e.Domain)
	}
	if !nameRE().MatchString(e.Operation) {
		return fmt.Errorf("operation %q: want 1-64 of a-z 0-9 . _ / -", e.Operation)
	}
	if len(e.Content) > maxContent || !contentRE().MatchString(e.Content) {
		return fmt.Errorf("content %.40q: want 1-%d printable ASCII characters without spaces", e.Content, maxContent)
	}
	return nil
}

// parseSHA384 parses "sha384:<96 hex digits>".
func parseSHA384(s string) ([Size]byte, error) {
	var v [Size]byte
	h, ok := strings.CutPrefix(s, "sha384:")
	if !ok || len(h) != 2*Size {
		return v, fmt.Errorf("%.40q: want sha384:<96 hex digits>", s)
	}
	if _, err := hex.Decode(v[:], []byte(h)); err != nil {
		return v, fmt.Errorf("%.40q: %v", s, err)
	}
	return v, nil
}

// Extend returns SHA-384(old ‖ d), what TDG.MR.RTMR.EXTEND makes of a
// register holding old when d is written.
func Extend(old, d [Size]byte) [Size]byte {
	var b [2 * Size]byte
	copy(b[:], old[:])
	copy(b[Size:], d[:])
	return sha512.Sum384(b[:])
}

// ParseLog reads an event log strictly: every line one entry with known
// fields only, valid parts, a digest that is the hash of its text, an
// init entry only first; within MaxLogSize and MaxEntries.
func ParseLog(r io.Reader) ([]Entry, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxLogSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxLogSize {
		return nil, fmt.Errorf("event log: more than %d bytes", MaxLogSize)
	}
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1024), maxLine)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(out) == MaxEntries {
			return nil, fmt.Errorf("event log: more than %d entries", MaxEntries)
		}
		e, err := parseEntry(line, len(out) == 0)
		if err != nil {
			return nil, fmt.Errorf("event log line %d: %w", n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("event log: %w (lines are at most %d bytes)", err, maxLine)
	}
	return out, nil
}

func parseEntry(line []byte, first bool) (Entry, error) {
	var e Entry
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, err
	}
	if dec.More() {
		return e, errors.New("more than one JSON value")
	}
	if err := e.checkParts(); err != nil {
		return e, err
	}
	if e.Operation == OpInit {
		if !first || e.Domain != DomainKeep {
			return e, errors.New("a keep init entry may only be the first")
		}
		if e.Digest != "" {
			return e, errors.New("an init entry has no digest")
		}
		_, err := parseSHA384(e.Content)
		return e, err
	}
	d, err := parseSHA384(e.Digest)
	if err != nil {
		return e, fmt.Errorf("digest %w", err)
	}
	if d != e.Sum() {
		return e, fmt.Errorf("digest is not SHA-384(%q)", e.Text())
	}
	return e, nil
}

// Replayed is what a log says about a register value.
type Replayed struct {
	// Start is the value the log starts from: all zeros (the TD's boot
	// value), or its init entry's.
	Start [Size]byte
	// FromBoot is true when Start is all zeros: the log accounts for
	// every extend since the TD booted. Otherwise what happened before
	// the log began is unknown.
	FromBoot bool
	// Measured are the events the register's value accounts for, in order.
	Measured []Entry
	// Unquoted are events logged after them that the value does not
	// include: logged after the quote was made, or their extend failed.
	Unquoted []Entry
}

// Replay recomputes the register from the log's start, entry by entry,
// until it equals value; it fails if no prefix of the log does.
func Replay(log []Entry, value [Size]byte) (*Replayed, error) {
	r := &Replayed{}
	events := log
	if len(log) > 0 && log[0].Operation == OpInit {
		v, err := parseSHA384(log[0].Content)
		if err != nil {
			return nil, fmt.Errorf("init entry: %w", err)
		}
		r.Start, events = v, log[1:]
	}
	r.FromBoot = r.Start == [Size]byte{}
	cur := r.Start
	for i := 0; ; i++ {
		if cur == value {
			r.Measured, r.Unquoted = events[:i], events[i:]
			return r, nil
		}
		if i == len(events) {
			break
		}
		if events[i].Operation == OpInit {
			return nil, errors.New("init entry after the first")
		}
		cur = Extend(cur, events[i].Sum())
	}
	return nil, fmt.Errorf("the event log (%d events) does not replay to the register's value %x: an extend is missing from it, or it belongs to another TD or boot", len(events), value)
}

// Log is an event log file beside the register it describes.
type Log struct {
	// Path is the log file; its directory is created if missing.
	Path     string
	Register Register
	// Warn, if set, is told why Measure started the log afresh.
	Warn func(msg string)
}

// Measure appends events to the log and extends the register with each,
// under an exclusive lock on the log, so that keeps in one TD never
// interleave. A new log starts with an init entry when the register is
// not all zeros. When the log, as it is, does not replay exactly to the
// register's current value (left from another boot or TD, an extend by
// someone who does not log here, or an extend that failed), appending
// would leave a log no verifier can replay: Measure then empties it and
// starts afresh from an init entry (telling Warn), which says honestly
// that what came before is unknown. Each entry is written and synced
// before its extend, so a log may hold events a register lacks (Replay
// reports them as Unquoted), never the reverse. Last, it reads the
// register back and checks the value.
func (l *Log) Measure(events ...Entry) error {
	for _, e := range events {
		if e.Digest == "" || e.Operation == OpInit {
			return fmt.Errorf("rtmr: %q is not an event (use NewEvent)", e.Text())
		}
	}
	if _, err := l.Register.Read(); err != nil {
		return err // no register: touch no file
	}
	if err := os.MkdirAll(filepath.Dir(l.Path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(l.Path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := lock(f); err != nil {
		return fmt.Errorf("%s: lock: %w", l.Path, err)
	}
	defer unlock(f)
	cur, err := l.Register.Read()
	if err != nil {
		return err
	}
	existing, err := ParseLog(f)
	if err != nil {
		return fmt.Errorf("%s: %w", l.Path, err)
	}
	if len(existing) > 0 {
		why := ""
		if r, err := Replay(existing, cur); err != nil {
			why = err.Error()
		} else if len(r.Unquoted) > 0 {
			why = fmt.Sprintf("its last %d events are not in the register (an extend failed?)", len(r.Unquoted))
		}
		if why != "" {
			if l.Warn != nil {
				l.Warn(fmt.Sprintf("%s: starting the log afresh: %s", l.Path, why))
			}
			if err := f.Truncate(0); err != nil {
				return fmt.Errorf("%s: %w", l.Path, err)
			}
			existing = nil
		}
	}
	if len(existing) == 0 {
		if cur != ([Size]byte{}) {
			start := Entry{Domain: DomainKeep, Operation: OpInit, Content: "sha384:" + hex.EncodeToString(cur[:])}
			if err := appendEntry(f, start); err != nil {
				return fmt.Errorf("%s: %w", l.Path, err)
			}
		}
	}
	for _, e := range events {
		if err := appendEntry(f, e); err != nil {
			return fmt.Errorf("%s: %w", l.Path, err)
		}
		if err := l.Register.Extend(e.Sum()); err != nil {
			return err
		}
		cur = Extend(cur, e.Sum())
	}
	got, err := l.Register.Read()
	if err != nil {
		return err
	}
	if got != cur {
		return fmt.Errorf("register is %x after the extends, want %x: another writer extended it meanwhile", got, cur)
	}
	return nil
}

func appendEntry(f *os.File, e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		return err
	}
	return f.Sync()
}

// ReadFile reads the log at path for serving; a missing file is an empty log.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := lockShared(f); err != nil {
		return nil, err
	}
	defer unlock(f)
	b, err := io.ReadAll(io.LimitReader(f, MaxLogSize+1))
	if err == nil && len(b) > MaxLogSize {
		err = fmt.Errorf("%s: more than %d bytes", path, MaxLogSize)
	}
	return b, err
}
