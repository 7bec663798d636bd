package tests

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// cryptleClient is one Cryptle player talking HTTPS to the keep; it keeps
// every response body it received.
type cryptleClient struct {
	t      *testing.T
	hc     *http.Client
	base   string
	token  string
	bodies []string
}

func (c *cryptleClient) call(method, path, body string, want int, v any) string {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	c.bodies = append(c.bodies, string(b))
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s %s = %d %s, want %d", method, path, body, resp.StatusCode, b, want)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			c.t.Fatalf("%s %s: %v in %q", method, path, err, b)
		}
	}
	return string(b)
}

// The Cryptle guest behind a TLS listener: two players join, A sets
// "crane", B guesses until solved; B's state and the scoreboard say so,
// and nothing B received before solving holds the word.
func TestCryptle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	guest := buildGuest(t, "cryptle")
	cfg := writeFile(t, dir, "Enarx.toml", listenConfig("tls", ""))
	k := startKeep(t, 1, "--config", cfg, guest)
	addr := k.addrs["ingest"]

	// The attested path is keep proxy's (tested with it below and in
	// proxy_test.go); here the RA-TLS certificate is not checked.
	hc := &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	newClient := func() *cryptleClient { return &cryptleClient{t: t, hc: hc, base: "https://" + addr} }
	joinAs := func(name string) *cryptleClient {
		c := newClient()
		var j struct {
			PlayerID string `json:"player_id"`
			Token    string `json:"token"`
		}
		c.call("POST", "/api/join", fmt.Sprintf(`{"name":%q}`, name), 201, &j)
		if len(j.Token) != 32 || j.PlayerID == "" {
			t.Fatalf("join %s: %+v", name, j)
		}
		c.token = j.Token
		return c
	}

	if page := newClient().call("GET", "/", "", 200, nil); !strings.Contains(page, "Cryptle") || !strings.Contains(page, `id="attestation"`) {
		t.Fatalf("GET / = %q", page)
	}
	a, b := joinAs("Alice"), joinAs("Bob")
	var set struct {
		WordID string `json:"word_id"`
		Word   string `json:"word"`
	}
	a.call("POST", "/api/words", `{"word":"crane"}`, 201, &set)
	if set.Word != "crane" || set.WordID == "" {
		t.Fatalf("set word: %+v", set)
	}
	a.call("POST", "/api/words", `{"word":"qzqzq"}`, 400, nil)
	a.call("POST", "/api/guess", fmt.Sprintf(`{"word_id":%q,"guess":"slate"}`, set.WordID), 403, nil)
	a.call("POST", "/api/join", `{"name":"`+strings.Repeat("x", 5000)+`"}`, 400, nil)

	type state struct {
		Words []struct {
			ID      string `json:"id"`
			Owner   string `json:"owner"`
			Status  string `json:"status"`
			Word    string `json:"word"`
			Tries   int    `json:"tries"`
			Guesses []struct {
				Guess    string   `json:"guess"`
				Feedback []string `json:"feedback"`
			} `json:"guesses"`
		} `json:"words"`
	}
	var s state
	b.call("GET", "/api/state", "", 200, &s)
	if len(s.Words) != 1 || s.Words[0].ID != set.WordID || s.Words[0].Owner != "Alice" || s.Words[0].Status != "playing" {
		t.Fatalf("B's state: %+v", s)
	}
	b.call("GET", "/api/scoreboard", "", 200, nil)
	b.call("POST", "/api/guess", fmt.Sprintf(`{"word_id":%q,"guess":"zzzzz"}`, set.WordID), 400, nil)
	b.call("POST", "/api/guess", `{"word_id":"0000000000000000","guess":"slate"}`, 404, nil)

	type guess struct {
		Feedback []string `json:"feedback"`
		Status   string   `json:"status"`
		Tries    int      `json:"tries"`
	}
	var g guess
	for _, w := range []string{"slate", "house"} {
		b.call("POST", "/api/guess", fmt.Sprintf(`{"word_id":%q,"guess":%q}`, set.WordID, w), 200, &g)
		if g.Status != "playing" || len(g.Feedback) != 5 {
			t.Fatalf("guess %s: %+v", w, g)
		}
	}
	if got := strings.Join(g.Feedback, ","); got != "grey,grey,grey,grey,green" {
		t.Fatalf("house vs crane = %s", got)
	}
	b.call("GET", "/api/state", "", 200, nil)
	for _, body := range b.bodies {
		if strings.Contains(strings.ToLower(body), "crane") {
			t.Fatalf("B received the secret before solving it: %s", body)
		}
	}

	b.call("POST", "/api/guess", fmt.Sprintf(`{"word_id":%q,"guess":"crane"}`, set.WordID), 200, &g)
	if g.Status != "solved" || g.Tries != 3 || strings.Join(g.Feedback, ",") != "green,green,green,green,green" {
		t.Fatalf("solving guess: %+v", g)
	}
	b.call("GET", "/api/state", "", 200, &s)
	if w := s.Words[0]; w.Status != "solved" || w.Word != "crane" || w.Tries != 3 || len(w.Guesses) != 3 {
		t.Fatalf("B's state after solving: %+v", s)
	}
	var sb struct {
		Players []struct {
			Name     string `json:"name"`
			Solved   int    `json:"solved"`
			Tries    int    `json:"tries"`
			WordsSet int    `json:"words_set"`
		} `json:"players"`
	}
	a.call("GET", "/api/scoreboard", "", 200, &sb)
	if len(sb.Players) != 2 || sb.Players[0].Name != "Bob" || sb.Players[0].Solved != 1 || sb.Players[0].Tries != 3 ||
		sb.Players[1].Name != "Alice" || sb.Players[1].WordsSet != 1 || sb.Players[1].Solved != 0 {
		t.Fatalf("scoreboard: %+v", sb)
	}
	if strings.Contains(k.stderr.String(), "crane") {
		t.Fatalf("the keep's stderr holds the secret:\n%s", k.stderr.String())
	}

	// Through keep proxy, a browser gets the page and the attestation the
	// page's panel reads, naming this module.
	policy := writeFile(t, dir, "policy.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%q]\n", digestOf(t, guest)))
	p := startProxy(t, "--policy", policy, "127.0.0.1:0", addr)
	if code, page := httpGet(t, "http://"+p.addr+"/"); code != 200 || !strings.Contains(page, `id="att-module-hash"`) {
		t.Fatalf("GET / through the proxy = %d %q", code, page)
	}
	att := getAttestation(t, p)
	if !att.Verified || !att.Accepted || att.ModuleHash != digestOf(t, guest) || !att.Simulated || att.TEE == "" {
		t.Fatalf("attestation through the proxy: %+v", att)
	}
	if code, body := httpGet(t, "http://"+p.addr+"/api/scoreboard"); code != 200 || !strings.Contains(body, `"name":"Bob"`) {
		t.Fatalf("GET /api/scoreboard through the proxy = %d %q", code, body)
	}

	// A proxy pinning another module forwards nothing: the page, the
	// script and the API all get its 502 naming the keep's module hash.
	other := writeFile(t, dir, "other.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%q]\n", otherHash))
	q := startProxy(t, "--policy", other, "127.0.0.1:0", addr)
	for _, path := range []string{"/", "/static/app.js", "/api/scoreboard"} {
		code, body := httpGet(t, "http://"+q.addr+path)
		if code != http.StatusBadGateway || !strings.Contains(body, "module hash "+digestOf(t, guest)+" is not in the policy") ||
			strings.Contains(body, "Cryptle") || strings.Contains(body, "Bob") {
			t.Fatalf("GET %s through a proxy pinning another module = %d %q", path, code, body)
		}
	}
	if att := getAttestation(t, q); !att.Verified || att.Accepted || att.ModuleHash != digestOf(t, guest) {
		t.Fatalf("attestation through a proxy pinning another module: %+v", att)
	}
}
