package rtmr

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/keepwasm/keep/keeps/intel"
	"github.com/keepwasm/keep/keeps/tdx/tdxtest"
)

// fakeRegister emulates TDG.MR.RTMR.EXTEND in memory.
type fakeRegister struct {
	mu  sync.Mutex
	v   [Size]byte
	err error // returned by Extend when set
}

func (f *fakeRegister) Read() ([Size]byte, error) { f.mu.Lock(); defer f.mu.Unlock(); return f.v, nil }
func (f *fakeRegister) Extend(d [Size]byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.v = Extend(f.v, d)
	return nil
}

func event(t *testing.T, op, content string) Entry {
	t.Helper()
	e, err := NewEvent(DomainKeep, op, content)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func sha(s string) string {
	d := sha512.Sum384([]byte(s))
	return "sha384:" + hex.EncodeToString(d[:])
}

func TestExtendIsSHA384OfOldAndData(t *testing.T) {
	var old, d [Size]byte
	old[0], d[47] = 1, 2
	want := sha512.Sum384(append(append([]byte{}, old[:]...), d[:]...))
	if Extend(old, d) != want {
		t.Fatal("Extend is not SHA-384(old ‖ d)")
	}
}

// Measure on a register, then Replay against its value: the verifier sees
// exactly the events measured, in order, from boot.
func TestMeasureThenReplay(t *testing.T) {
	reg := &fakeRegister{}
	l := &Log{Path: filepath.Join(t.TempDir(), "run", "keep", "rtmr3.log"), Register: reg}
	runs := [][]Entry{
		{event(t, OpModule, sha("a")), event(t, OpConfig, sha("ca"))},
		{event(t, OpModule, sha("b")), event(t, OpConfig, "none")},
	}
	for _, r := range runs {
		if err := l.Measure(r...); err != nil {
			t.Fatal(err)
		}
	}
	data, err := ReadFile(l.Path)
	if err != nil {
		t.Fatal(err)
	}
	log, err := ParseLog(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Replay(log, reg.v)
	if err != nil {
		t.Fatal(err)
	}
	if !r.FromBoot || len(r.Measured) != 4 || len(r.Unquoted) != 0 {
		t.Fatalf("replay: %+v", r)
	}
	for i, e := range append(runs[0], runs[1]...) {
		if r.Measured[i] != e {
			t.Fatalf("event %d = %+v, want %+v", i, r.Measured[i], e)
		}
	}
	// A value from before the second run accounts for the first only.
	mid := Extend(Extend([Size]byte{}, runs[0][0].Sum()), runs[0][1].Sum())
	if r, err := Replay(log, mid); err != nil || len(r.Measured) != 2 || len(r.Unquoted) != 2 {
		t.Fatalf("replay to the first run: %+v, %v", r, err)
	}
	// A value the log cannot reach is refused.
	if _, err := Replay(log, sha512.Sum384([]byte("x"))); err == nil {
		t.Fatal("a foreign value replayed")
	}
}

// A log begun after someone else extended the register starts with an
// init entry; replay then says it does not go back to boot.
func TestMeasureAfterForeignExtend(t *testing.T) {
	reg := &fakeRegister{}
	reg.Extend(sha512.Sum384([]byte("someone else")))
	start := reg.v
	l := &Log{Path: filepath.Join(t.TempDir(), "rtmr3.log"), Register: reg}
	if err := l.Measure(event(t, OpModule, sha("a"))); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(l.Path)
	log, err := ParseLog(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if log[0].Operation != OpInit {
		t.Fatalf("first entry %+v, want init", log[0])
	}
	r, err := Replay(log, reg.v)
	if err != nil || r.FromBoot || r.Start != start || len(r.Measured) != 1 {
		t.Fatalf("replay %+v, %v", r, err)
	}
}

// A log that no longer replays to the register (an unlogged extend, a
// log from another boot, a failed extend) is started afresh from an init
// entry, with a warning: appending to it would leave it unreplayable.
func TestMeasureRestartsUnreplayableLog(t *testing.T) {
	reg := &fakeRegister{}
	var warned []string
	l := &Log{Path: filepath.Join(t.TempDir(), "rtmr3.log"), Register: reg, Warn: func(m string) { warned = append(warned, m) }}
	if err := l.Measure(event(t, OpModule, sha("a"))); err != nil {
		t.Fatal(err)
	}
	reg.Extend(sha512.Sum384([]byte("unlogged")))
	start := reg.v
	if err := l.Measure(event(t, OpModule, sha("b"))); err != nil {
		t.Fatal(err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "does not replay") {
		t.Fatalf("warnings %q", warned)
	}
	data, _ := os.ReadFile(l.Path)
	log, err := ParseLog(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Replay(log, reg.v)
	if err != nil || r.FromBoot || r.Start != start || len(r.Measured) != 1 || r.Measured[0].Content != sha("b") {
		t.Fatalf("replay %+v, %v", r, err)
	}

	reg2 := &fakeRegister{err: errors.New("EINVAL")}
	warned = nil
	l2 := &Log{Path: filepath.Join(t.TempDir(), "rtmr3.log"), Register: reg2, Warn: func(m string) { warned = append(warned, m) }}
	if err := l2.Measure(event(t, OpModule, sha("a"))); err == nil {
		t.Fatal("a failed extend was not reported")
	}
	reg2.err = nil
	if err := l2.Measure(event(t, OpModule, sha("b"))); err != nil {
		t.Fatal(err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "not in the register") {
		t.Fatalf("warnings %q", warned)
	}
	if err := l.Measure(Entry{Domain: "keep", Operation: "module", Content: "x"}); err == nil {
		t.Fatal("an entry without a digest was measured")
	}
}

// Sysfs follows the kernel ABI: reads 48 bytes, extends with one 48-byte
// write at offset 0 to an existing file, and reports a missing register as
// ErrUnavailable without creating it. The directory is a fake sysfs.
func TestSysfs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rtmr3:sha384")
	s := Sysfs{Path: path}
	if _, err := s.Read(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Read of a missing register: %v", err)
	}
	if err := s.Extend([Size]byte{1}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Extend of a missing register: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Extend created the register file")
	}
	init := bytes.Repeat([]byte{0xaa}, Size)
	if err := os.WriteFile(path, init, 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := s.Read()
	if err != nil || !bytes.Equal(v[:], init) {
		t.Fatalf("Read = %x, %v", v, err)
	}
	var d [Size]byte
	for i := range d {
		d[i] = byte(i)
	}
	if err := s.Extend(d); err != nil {
		t.Fatal(err)
	}
	// A regular file shows what was written: exactly d, at offset 0.
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, d[:]) {
		t.Fatalf("wrote %x, want %x", got, d)
	}
	os.WriteFile(path, make([]byte, Size+1), 0o600)
	if _, err := s.Read(); err == nil {
		t.Fatal("a 49-byte register was read")
	}
	os.WriteFile(path, make([]byte, Size-1), 0o600)
	if _, err := s.Read(); err == nil {
		t.Fatal("a 47-byte register was read")
	}
}

// The RTMR3 of a TDX quote, parsed as verifiers parse it, replays from
// the log Measure wrote.
func TestReplayAgainstQuote(t *testing.T) {
	reg := &fakeRegister{}
	l := &Log{Path: filepath.Join(t.TempDir(), "rtmr3.log"), Register: reg}
	if err := l.Measure(event(t, OpModule, sha("wasm")), event(t, OpConfig, sha("toml"))); err != nil {
		t.Fatal(err)
	}
	s, err := tdxtest.NewSigner(tdxtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.TD.RTMR[3] = reg.v
	raw, err := s.Quote([64]byte{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := intel.ParseQuote(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := intel.ClaimsFromQuote(q).Measurements["rtmr3"]
	var v [Size]byte
	if copy(v[:], m) != Size {
		t.Fatalf("rtmr3 claim %x", m)
	}
	data, _ := os.ReadFile(l.Path)
	log, err := ParseLog(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Replay(log, v)
	if err != nil || len(r.Measured) != 2 || r.Measured[0].Content != sha("wasm") {
		t.Fatalf("replay %+v, %v", r, err)
	}
}

func TestParseLogRefuses(t *testing.T) {
	good := event(t, OpModule, sha("a"))
	line := func(e Entry) string {
		return `{"domain":"` + e.Domain + `","operation":"` + e.Operation + `","content":"` + e.Content + `","digest":"` + e.Digest + `"}`
	}
	zero := "sha384:" + strings.Repeat("00", Size)
	for name, in := range map[string]string{
		"unknown field":    `{"domain":"keep","operation":"module","content":"x","digest":"` + good.Digest + `","extra":1}`,
		"wrong digest":     line(Entry{Domain: "keep", Operation: "module", Content: sha("b"), Digest: good.Digest}),
		"no digest":        `{"domain":"keep","operation":"module","content":"x"}`,
		"space in content": line(Entry{Domain: "keep", Operation: "module", Content: "a b", Digest: good.Digest}),
		"bad domain":       line(Entry{Domain: "Keep", Operation: "module", Content: good.Content, Digest: good.Digest}),
		"init not first":   line(good) + "\n" + `{"domain":"keep","operation":"init","content":"` + zero + `"}`,
		"init digest":      `{"domain":"keep","operation":"init","content":"` + zero + `","digest":"` + good.Digest + `"}`,
		"init bad value":   `{"domain":"keep","operation":"init","content":"sha384:00"}`,
		"two values":       line(good) + line(good),
		"not JSON":         "module " + good.Content,
		"long line":        `{"domain":"keep","operation":"module","content":"` + strings.Repeat("a", 5000) + `"}`,
		"too big":          strings.Repeat(line(good)+"\n", MaxLogSize/len(line(good))+1),
		"too many":         strings.Repeat(line(good)+"\n", MaxEntries+1),
	} {
		if _, err := ParseLog(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if log, err := ParseLog(strings.NewReader(line(good) + "\n")); err != nil || len(log) != 1 || log[0] != good {
		t.Fatalf("good line: %+v, %v", log, err)
	}
	if _, err := NewEvent("keep", OpInit, zero); err == nil {
		t.Fatal("NewEvent made an init entry")
	}
}

func FuzzParseLog(f *testing.F) {
	e, _ := NewEvent(DomainKeep, OpModule, sha("a"))
	f.Add([]byte(`{"domain":"keep","operation":"init","content":"sha384:` + strings.Repeat("11", Size) + `"}` + "\n" +
		`{"domain":"keep","operation":"module","content":"` + e.Content + `","digest":"` + e.Digest + `"}`))
	f.Add([]byte("{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		log, err := ParseLog(bytes.NewReader(b))
		if err != nil {
			return
		}
		if _, err := Replay(log, [Size]byte{}); err != nil && len(log) == 0 {
			t.Fatal("an empty log does not replay to zero")
		}
	})
}
