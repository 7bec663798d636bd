package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// apiClient calls a Server's handler directly and keeps every response
// body it saw.
type apiClient struct {
	t      testing.TB
	h      http.Handler
	token  string
	mu     sync.Mutex
	bodies []string
}

func (c *apiClient) do(method, path, body string) (int, string) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, req)
	c.mu.Lock()
	c.bodies = append(c.bodies, w.Body.String())
	c.mu.Unlock()
	return w.Code, w.Body.String()
}

// call does a request that must answer want, and decodes its JSON into v
// (if not nil).
func (c *apiClient) call(method, path, body string, want int, v any) string {
	c.t.Helper()
	code, resp := c.do(method, path, body)
	if code != want {
		c.t.Fatalf("%s %s %s = %d %s, want %d", method, path, body, code, resp, want)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(resp), v); err != nil {
			c.t.Fatalf("%s %s: %v in %q", method, path, err, resp)
		}
	}
	return resp
}

// wantError checks a JSON error answer.
func (c *apiClient) wantError(method, path, body string, want int) {
	c.t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	c.call(method, path, body, want, &e)
	if e.Error == "" {
		c.t.Fatalf("%s %s %s: no error message", method, path, body)
	}
}

type joinResp struct {
	PlayerID string `json:"player_id"`
	Name     string `json:"name"`
	Token    string `json:"token"`
}

func join(t testing.TB, h http.Handler, name string) *apiClient {
	t.Helper()
	c := &apiClient{t: t, h: h}
	var j joinResp
	c.call("POST", "/api/join", fmt.Sprintf(`{"name":%q}`, name), 201, &j)
	if j.Token == "" || j.PlayerID == "" || j.Name != name {
		t.Fatalf("join: %+v", j)
	}
	c.token = j.Token
	return c
}

type guessResp struct {
	WordID    string   `json:"word_id"`
	Guess     string   `json:"guess"`
	Feedback  []string `json:"feedback"`
	Tries     int      `json:"tries"`
	TriesLeft int      `json:"tries_left"`
	Status    string   `json:"status"`
}

type scoreboardResp struct {
	Players []ScoreRow `json:"players"`
}

func setWord(t testing.TB, c *apiClient, word string) string {
	t.Helper()
	var r struct {
		WordID string `json:"word_id"`
		Word   string `json:"word"`
	}
	c.call("POST", "/api/words", fmt.Sprintf(`{"word":%q}`, word), 201, &r)
	if r.WordID == "" || r.Word != word {
		t.Fatalf("set word: %+v", r)
	}
	return r.WordID
}

func TestAPIGame(t *testing.T) {
	h := NewServer(NewGame(nil))
	a := join(t, h, "Alice")
	b := join(t, h, "Bob")
	c := join(t, h, "Carol")
	id := setWord(t, a, "crane")
	other := setWord(t, c, "house")

	var sb scoreboardResp
	b.call("GET", "/api/scoreboard", "", 200, &sb)
	if len(sb.Players) != 3 {
		t.Fatalf("scoreboard: %+v", sb)
	}

	// Errors.
	b.wantError("POST", "/api/guess", `{"word_id":"nope","guess":"slate"}`, 404)
	b.wantError("POST", "/api/guess", fmt.Sprintf(`{"word_id":%q,"guess":"zzzzz"}`, id), 400)
	b.wantError("POST", "/api/guess", fmt.Sprintf(`{"word_id":%q,"guess":"sla"}`, id), 400)
	b.wantError("POST", "/api/guess", `{"word_id":`, 400)
	b.wantError("POST", "/api/guess", `[1,2]`, 400)
	b.wantError("POST", "/api/giveup", `{"word_id":"nope"}`, 404)
	a.wantError("POST", "/api/guess", fmt.Sprintf(`{"word_id":%q,"guess":"slate"}`, id), 403)
	a.wantError("POST", "/api/giveup", fmt.Sprintf(`{"word_id":%q}`, id), 403)
	a.wantError("POST", "/api/words", `{"word":"qqqqq"}`, 400)
	a.wantError("POST", "/api/words", `{"word":"crane"}`, 409)
	a.wantError("POST", "/api/join", `{"name":""}`, 400)
	a.wantError("POST", "/api/join", `{"name":"alice"}`, 409)
	a.wantError("POST", "/api/join", `{"name":"`+strings.Repeat("n", 21)+`"}`, 400)
	a.wantError("GET", "/api/nope", "", 404)
	anon := &apiClient{t: t, h: h}
	anon.wantError("GET", "/api/state", "", 401)
	anon.wantError("POST", "/api/words", `{"word":"slate"}`, 401)
	forged := &apiClient{t: t, h: h, token: strings.Repeat("ab", 16)}
	forged.wantError("POST", "/api/guess", fmt.Sprintf(`{"word_id":%q,"guess":"slate"}`, id), 401)
	if code, _ := a.do("DELETE", "/api/state", ""); code != 405 {
		t.Fatalf("DELETE /api/state = %d", code)
	}

	// B guesses until solved.
	var g guessResp
	for _, gs := range []string{"slate", "house"} {
		b.call("POST", "/api/guess", fmt.Sprintf(`{"word_id":%q,"guess":%q}`, id, gs), 200, &g)
		if g.Status != StatusPlaying || len(g.Feedback) != 5 {
			t.Fatalf("guess %s: %+v", gs, g)
		}
	}
	if strings.Join(g.Feedback, " ") != "grey grey grey grey green" { // house vs crane
		t.Fatalf("house vs crane: %v", g.Feedback)
	}
	// Nothing B (or C, who has not played it) received so far holds the secret.
	c.call("GET", "/api/state", "", 200, nil)
	c.call("POST", "/api/guess", fmt.Sprintf(`{"word_id":%q,"guess":"crate"}`, id), 200, nil)
	b.call("GET", "/api/state", "", 200, nil)
	b.call("GET", "/", "", 200, nil)
	b.call("GET", "/static/app.js", "", 200, nil)
	for _, cl := range []*apiClient{b, c, anon, forged} {
		for _, body := range cl.bodies {
			if strings.Contains(strings.ToLower(body), "crane") {
				t.Fatalf("a response before solving holds the secret: %s", body)
			}
		}
	}
	b.call("POST", "/api/guess", fmt.Sprintf(`{"word_id":%q,"guess":"CRANE"}`, id), 200, &g)
	if g.Status != StatusSolved || g.Tries != 3 || g.TriesLeft != 3 || strings.Join(g.Feedback, " ") != "green green green green green" {
		t.Fatalf("solving guess: %+v", g)
	}
	b.wantError("POST", "/api/guess", fmt.Sprintf(`{"word_id":%q,"guess":"slate"}`, id), 409)

	var s StateView
	b.call("GET", "/api/state", "", 200, &s)
	var got *WordView
	for i := range s.Words {
		if s.Words[i].ID == id {
			got = &s.Words[i]
		}
	}
	if got == nil || got.Status != StatusSolved || got.Word != "crane" || got.Owner != "Alice" || len(got.Guesses) != 3 || got.Guesses[2].Guess != "crane" {
		t.Fatalf("B's state: %+v", s)
	}

	// C gives up: the word is revealed to C only; B never saw "house".
	var gu struct{ WordID, Word, Status string }
	b.call("POST", "/api/giveup", fmt.Sprintf(`{"word_id":%q}`, id), 200, &gu) // solved stays solved
	if gu.Status != StatusSolved {
		t.Fatalf("giving up a solved word: %+v", gu)
	}
	c.call("POST", "/api/giveup", fmt.Sprintf(`{"word_id":%q}`, id), 200, &gu)
	if gu.Word != "crane" || gu.Status != StatusFailed {
		t.Fatalf("C gives up: %+v", gu)
	}
	c.call("GET", "/api/state", "", 200, &s)
	if s.Words[0].Word != "crane" || s.Words[0].Status != StatusFailed || !s.Words[0].GaveUp {
		t.Fatalf("C's state: %+v", s.Words)
	}
	for _, body := range b.bodies {
		if strings.Contains(body, "house") && !strings.Contains(body, `"guess":"house"`) {
			t.Fatalf("B saw C's secret: %s", body)
		}
	}
	b.call("GET", "/api/state", "", 200, &s)
	for _, w := range s.Words {
		if w.ID == other && w.Word != "" {
			t.Fatalf("B's state reveals C's word: %+v", w)
		}
	}

	// The owner sees their own word and how it fared.
	a.call("GET", "/api/state", "", 200, &s)
	if len(s.MyWords) != 1 || s.MyWords[0].Word != "crane" || s.MyWords[0].SolvedBy != 1 || s.MyWords[0].FailedBy != 1 || s.MyWords[0].Players != 2 {
		t.Fatalf("A's state: %+v", s)
	}

	b.call("GET", "/api/scoreboard", "", 200, &sb)
	if sb.Players[0].Name != "Bob" || sb.Players[0].Solved != 1 || sb.Players[0].Tries != 3 {
		t.Fatalf("scoreboard: %+v", sb.Players)
	}
	for _, p := range sb.Players {
		if p.Name == "Carol" && (p.Failed != 1 || p.WordsSet != 1 || p.Tries != 1) {
			t.Fatalf("Carol: %+v", p)
		}
	}
}

func TestAPIBodyLimit(t *testing.T) {
	h := NewServer(NewGame(nil))
	c := &apiClient{t: t, h: h}
	// Exactly 4 KiB is accepted, one byte more is not.
	body := `{"name":"pad"}`
	c.call("POST", "/api/join", body+strings.Repeat(" ", MaxBody-len(body)), 201, nil)
	c.wantError("POST", "/api/join", body+strings.Repeat(" ", MaxBody+1-len(body)), 400)
	c.wantError("POST", "/api/join", `{"name":"`+strings.Repeat("x", MaxBody)+`"}`, 400)
	p := join(t, h, "Dan")
	p.wantError("POST", "/api/words", `{"word":"`+strings.Repeat("a", MaxBody)+`"}`, 400)
}

func TestPage(t *testing.T) {
	h := NewServer(NewGame(nil))
	c := &apiClient{t: t, h: h}
	page := c.call("GET", "/", "", 200, nil)
	for _, id := range []string{`id="join-name"`, `id="join-btn"`, `id="word-input"`, `id="set-word-btn"`, `id="scoreboard"`,
		`id="attestation"`, `id="att-status"`, `id="att-summary"`, `id="att-details"`, "<details", "keep digest",
		`id="att-tee"`, `id="att-module-hash"`, `id="att-policy"`, `id="att-simulated"`, `/static/app.js`} {
		if !strings.Contains(page, id) {
			t.Errorf("the page lacks %s", id)
		}
	}
	js := c.call("GET", "/static/app.js", "", 200, nil)
	for _, s := range []string{"/.well-known/keep-attestation", "Nobody has checked this server",
		"SIMULATED — nothing is guaranteed", "SIMULATED — not a real TEE", `"accepted"`, `"reasons"`, `"not_pinned"`,
		"module_hash", "word-card", "guess-input", "guess-btn", "Solved!", "w.summary"} {
		if !strings.Contains(js, s) {
			t.Errorf("app.js lacks %q", s)
		}
	}
	c.call("GET", "/static/style.css", "", 200, nil)
	// The attestation is the proxy's to serve, never the guest's.
	if code, _ := c.do("GET", "/.well-known/keep-attestation", ""); code != 404 {
		t.Fatalf("GET /.well-known/keep-attestation = %d, want 404", code)
	}
	req := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Fatalf("CSP = %q", csp)
	}
}

// 200 players at once join, set words and play each other's words
// (guessing wrong, solving, giving up) through the HTTP handler; then the
// counters must add up and no state may leak an unsolved word.
func TestConcurrentPlayers(t *testing.T) {
	const n = 200
	g := NewGame(nil)
	h := NewServer(g)
	dict := make([]string, 0, len(g.dict))
	for w := range g.dict {
		dict = append(dict, w)
	}
	secretOf := func(id string) string {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.words[id].secret
	}

	var joined, set sync.WaitGroup
	joined.Add(n)
	set.Add(n)
	errs := make(chan error, n)
	clients := make([]*apiClient, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			c := &apiClient{t: t, h: h}
			clients[i] = c
			fail := func(format string, a ...any) {
				errs <- fmt.Errorf("player %d: "+format, append([]any{i}, a...)...)
			}
			code, body := c.do("POST", "/api/join", fmt.Sprintf(`{"name":"player %d"}`, i))
			var j joinResp
			if code != 201 || json.Unmarshal([]byte(body), &j) != nil {
				fail("join: %d %s", code, body)
				joined.Done()
				set.Done()
				return
			}
			c.token = j.Token
			joined.Done()
			joined.Wait()
			code, body = c.do("POST", "/api/words", fmt.Sprintf(`{"word":%q}`, dict[i]))
			set.Done()
			if code != 201 {
				fail("set word: %d %s", code, body)
				return
			}
			set.Wait()
			var s StateView
			if code, body = c.do("GET", "/api/state", ""); code != 200 || json.Unmarshal([]byte(body), &s) != nil {
				fail("state: %d %s", code, body)
				return
			}
			if len(s.Words) != n-1 || len(s.MyWords) != 1 {
				fail("state has %d words to guess and %d own", len(s.Words), len(s.MyWords))
				return
			}
			for k := 0; k < 6; k++ {
				w := s.Words[rng.IntN(len(s.Words))]
				secret := secretOf(w.ID)
				for try := 0; try < 7; try++ {
					guess := dict[rng.IntN(len(dict))]
					if k%3 == 0 && try == 2 {
						guess = secret
					}
					code, body = c.do("POST", "/api/guess", fmt.Sprintf(`{"word_id":%q,"guess":%q}`, w.ID, guess))
					if code == 409 {
						break // finished: solved, failed, or already played
					}
					var r guessResp
					if code != 200 || json.Unmarshal([]byte(body), &r) != nil {
						fail("guess: %d %s", code, body)
						return
					}
					if r.Status != StatusPlaying {
						break
					}
				}
				if k%3 == 1 {
					if code, body = c.do("POST", "/api/giveup", fmt.Sprintf(`{"word_id":%q}`, w.ID)); code != 200 {
						fail("giveup: %d %s", code, body)
						return
					}
				}
			}
			if code, body = c.do("GET", "/api/scoreboard", ""); code != 200 {
				fail("scoreboard: %d %s", code, body)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	// Invariants: the players' counters match their plays.
	g.mu.Lock()
	type tally struct{ solved, failed, tries, set int }
	want := map[*Player]*tally{}
	for _, p := range g.order {
		want[p] = &tally{}
	}
	for _, wd := range g.wordSeq {
		want[wd.Owner].set++
		for pid, pl := range wd.plays {
			p := g.players[pid]
			if p == wd.Owner {
				t.Errorf("%s played their own word", p.Name)
			}
			if len(pl.Guesses) > MaxTries || len(pl.Guesses) != len(pl.Feedback) {
				t.Errorf("%s: %d guesses", p.Name, len(pl.Guesses))
			}
			solved := len(pl.Guesses) > 0 && pl.Guesses[len(pl.Guesses)-1] == wd.secret
			switch {
			case solved && pl.Status != StatusSolved,
				!solved && len(pl.Guesses) == MaxTries && pl.Status != StatusFailed,
				!solved && len(pl.Guesses) < MaxTries && pl.Status == StatusFailed && !pl.GaveUp,
				pl.Status == StatusSolved && pl.GaveUp:
				t.Errorf("%s: inconsistent play %+v of %q", p.Name, pl, wd.secret)
			}
			want[p].tries += len(pl.Guesses)
			switch pl.Status {
			case StatusSolved:
				want[p].solved++
			case StatusFailed:
				want[p].failed++
			}
		}
	}
	for p, w := range want {
		if got := (tally{p.Solved, p.Failed, p.Tries, p.WordsSet}); got != *w {
			t.Errorf("%s: counters %+v, plays say %+v", p.Name, got, *w)
		}
	}
	if len(g.players) != n || len(g.byToken) != n || len(g.words) != n {
		t.Errorf("%d players, %d tokens, %d words", len(g.players), len(g.byToken), len(g.words))
	}
	g.mu.Unlock()

	// No state leaks a word its player has not solved or given up.
	for _, c := range clients {
		var s StateView
		c.call("GET", "/api/state", "", 200, &s)
		for _, w := range s.Words {
			secret := secretOf(w.ID)
			revealed := w.Status == StatusSolved || w.GaveUp
			if (w.Word != "") != revealed || (revealed && w.Word != secret) {
				t.Fatalf("%s sees %+v (secret %q)", s.Player.Name, w, secret)
			}
		}
	}
	var sb scoreboardResp
	clients[0].call("GET", "/api/scoreboard", "", 200, &sb)
	if len(sb.Players) != n {
		t.Fatalf("scoreboard has %d players", len(sb.Players))
	}
	for i := 1; i < n; i++ {
		if a, b := sb.Players[i-1], sb.Players[i]; a.Solved < b.Solved || (a.Solved == b.Solved && a.Tries > b.Tries) {
			t.Fatalf("scoreboard out of order at %d: %+v %+v", i, a, b)
		}
	}
}
