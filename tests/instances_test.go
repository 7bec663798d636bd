package tests

import (
	"bufio"
	"net"
	"regexp"
	"testing"
	"time"
)

// holdRequest connects to addr and waits for the guest's "ready": the
// connection then holds one instance of the serial guest.
func holdRequest(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(60 * time.Second)) // hang guard: one instance never answers
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("request: %q, %v", line, err)
	}
	return c, r
}

func finishRequest(t *testing.T, c net.Conn, r *bufio.Reader, b byte) {
	t.Helper()
	if _, err := c.Write([]byte{b}); err != nil {
		t.Fatal(err)
	}
	want := "done " + string(b) + "\n"
	if line, err := r.ReadString('\n'); err != nil || line != want {
		t.Fatalf("reply: %q, %v; want %q", line, err, want)
	}
}

// Three instances of a guest that serves one connection at a time: two
// requests held open in two instances still let a third through, and
// every instance serves again once released. A trap in one instance is
// reported with its index, stops the others and gives exit code 134.
func TestInstancesRunInParallel(t *testing.T) {
	t.Parallel()
	guest := buildTestGuest(t, "serial")
	for _, tc := range []struct{ name, config, flag string }{
		{"config", "instances = 3\n", ""},
		{"flag", "instances = 1\n", "--instances=3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := writeFile(t, t.TempDir(), "Enarx.toml", tc.config+listenConfig("tcp", ""))
			args := []string{"--config", cfg, guest}
			if tc.flag != "" {
				args = append([]string{tc.flag}, args...)
			}
			k := startKeep(t, 1, args...)
			addr := k.addrs["ingest"]

			c1, r1 := holdRequest(t, addr)
			c2, r2 := holdRequest(t, addr)
			c3, r3 := holdRequest(t, addr) // a third instance took it
			finishRequest(t, c3, r3, 'c')
			finishRequest(t, c1, r1, 'a')
			finishRequest(t, c2, r2, 'b')

			// Hold two again; the third request traps its instance.
			holdRequest(t, addr)
			holdRequest(t, addr)
			c, _ := holdRequest(t, addr)
			if _, err := c.Write([]byte("t")); err != nil {
				t.Fatal(err)
			}
			if code := k.wait(t); code != 134 {
				t.Fatalf("exit %d after a trap, want 134\n%s", code, k.stderr.String())
			}
			re := regexp.MustCompile(`(?m)^keep: \S+: instance [0-2]: trap: out of bounds memory access$`)
			if !re.MatchString(k.stderr.String()) {
				t.Fatalf("the trap is not reported with its instance:\n%s", k.stderr.String())
			}
		})
	}
}
