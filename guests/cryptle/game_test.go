package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// Each case was worked out by hand: greens first, then yellows left to
// right only while the secret has an unmatched copy of the letter.
func TestScore(t *testing.T) {
	const G, Y, X = Green, Yellow, Grey
	for _, c := range []struct {
		secret, guess string
		want          []string
	}{
		{"crane", "crane", []string{G, G, G, G, G}},
		{"crane", "moist", []string{X, X, X, X, X}},
		// a p p l e / p a p e r: the middle p is green, which leaves one
		// unmatched p for the first p (yellow); a and e are elsewhere.
		{"apple", "paper", []string{Y, Y, G, Y, X}},
		// a p p l e / a l p h a: the second a finds no a left.
		{"apple", "alpha", []string{G, Y, G, X, X}},
		// One e in the secret, green at the end: the two earlier e's are grey.
		{"crane", "eerie", []string{X, X, Y, X, G}},
		// Two e's in "speed": one green, one left for the first guessed e.
		{"speed", "geese", []string{X, Y, G, Y, X}},
		// Only e and s of "those" match, both in place: the other e's are grey.
		{"those", "geese", []string{X, X, X, G, G}},
		// Two b's in the secret: one green, one yellow for the last b.
		{"abbey", "kebab", []string{X, Y, G, Y, Y}},
		// l l green; the first l finds none left.
		{"hello", "lolly", []string{X, Y, G, G, X}},
		// Three s's guessed, two in the secret: one green, the first yellow.
		{"guess", "sissy", []string{Y, X, X, G, X}},
		{"words", "sword", []string{Y, Y, Y, Y, Y}},
	} {
		got := Score(c.secret, c.guess)
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("Score(%q, %q) = %v, want %v", c.secret, c.guess, got, c.want)
		}
	}
}

func TestDictionary(t *testing.T) {
	d := DefaultDictionary()
	if len(d) < 3000 {
		t.Fatalf("dictionary has %d words, want a few thousand", len(d))
	}
	for w := range d {
		if !isFiveLetters(w) {
			t.Fatalf("%q is not five letters a-z", w)
		}
	}
	for _, w := range []string{"crane", "slate", "apple", "house", "guess", "words", "hello", "paper", "speed", "those"} {
		if !d.Has(w) {
			t.Errorf("%q is missing", w)
		}
	}
	if _, err := ParseDictionary(strings.NewReader("# c\n\ncrane\nabc\n")); err == nil {
		t.Error("a three-letter word was accepted")
	}
}

func wantStatus(t *testing.T, err error, status int) {
	t.Helper()
	e, ok := AsError(err)
	if !ok || e.Status != status {
		t.Fatalf("err = %v, want a %d error", err, status)
	}
}

func TestJoin(t *testing.T) {
	g := NewGame(nil)
	p, token, err := g.Join("  Alice ")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "Alice" || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(token) {
		t.Fatalf("name %q token %q", p.Name, token)
	}
	if q, err := g.Auth(token); err != nil || q != p {
		t.Fatalf("Auth = %v, %v", q, err)
	}
	_, err = g.Auth(strings.Repeat("0", 32))
	wantStatus(t, err, 401)
	_, err = g.Auth("")
	wantStatus(t, err, 401)
	_, _, err = g.Join("alice")
	wantStatus(t, err, 409)
	for _, bad := range []string{"", "   ", strings.Repeat("x", 21), "a\x00b", "tab\there", "\xff"} {
		_, _, err := g.Join(bad)
		wantStatus(t, err, 400)
	}
	for _, good := range []string{strings.Repeat("x", 20), "Zoë", "日本語", "a b"} {
		if _, _, err := g.Join(good); err != nil {
			t.Errorf("Join(%q): %v", good, err)
		}
	}
	_, t2, _ := g.Join("Bob")
	if t2 == token {
		t.Fatal("two players got the same token")
	}
}

func TestGameLimits(t *testing.T) {
	g := NewGame(nil)
	for i := 0; i < MaxPlayers; i++ {
		if _, _, err := g.Join(fmt.Sprintf("player %d", i)); err != nil {
			t.Fatal(i, err)
		}
	}
	_, _, err := g.Join("one too many")
	wantStatus(t, err, 403)

	p := g.order[0]
	words := []string{"crane", "slate", "apple", "house", "guess", "words", "hello", "paper", "speed", "those"}
	for _, w := range words {
		if _, err := g.SetWord(p, w); err != nil {
			t.Fatal(err)
		}
	}
	_, err = g.SetWord(p, "moist")
	wantStatus(t, err, 403)
	q := g.order[1]
	if _, err := g.SetWord(q, "CRANE "); err != nil {
		t.Fatal("another player may set the same word:", err)
	}
	_, err = g.SetWord(q, "crane")
	wantStatus(t, err, 409)
	for _, bad := range []string{"", "cran", "cranes", "cr4ne", "zzzzz", "crâne"} {
		_, err := g.SetWord(q, bad)
		wantStatus(t, err, 400)
	}
}

func TestGuessAndGiveUp(t *testing.T) {
	g := NewGame(nil)
	a, _, _ := g.Join("A")
	b, _, _ := g.Join("B")
	c, _, _ := g.Join("C")
	id, err := g.SetWord(a, "crane")
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.Guess(a, id, "slate")
	wantStatus(t, err, 403)
	_, err = g.Guess(b, "nope", "slate")
	wantStatus(t, err, 404)
	_, err = g.Guess(b, id, "xxxxx")
	wantStatus(t, err, 400)

	// B solves on the third try.
	for i, gs := range []string{"slate", "house", "crane"} {
		r, err := g.Guess(b, id, gs)
		if err != nil {
			t.Fatal(err)
		}
		if r.Tries != i+1 {
			t.Fatalf("tries = %d", r.Tries)
		}
		if want := map[bool]string{true: StatusSolved, false: StatusPlaying}[gs == "crane"]; r.Status != want {
			t.Fatalf("status after %q = %s", gs, r.Status)
		}
	}
	_, err = g.Guess(b, id, "crane")
	wantStatus(t, err, 409)
	if v := g.State(b).Words[0]; v.Status != StatusSolved || v.Word != "crane" || v.Tries != 3 || v.TriesLeft != 3 {
		t.Fatalf("B's view: %+v", v)
	}

	// C fails six times: failed, but the word is still hidden until C
	// gives up.
	for i := 0; i < MaxTries; i++ {
		if _, err := g.Guess(c, id, "house"); err != nil {
			t.Fatal(err)
		}
	}
	v := g.State(c).Words[0]
	if v.Status != StatusFailed || v.Word != "" || v.TriesLeft != 0 {
		t.Fatalf("C's view after six misses: %+v", v)
	}
	_, err = g.Guess(c, id, "house")
	wantStatus(t, err, 409)
	secret, status, err := g.GiveUp(c, id)
	if err != nil || secret != "crane" || status != StatusFailed {
		t.Fatalf("GiveUp = %q %q %v", secret, status, err)
	}
	if v := g.State(c).Words[0]; v.Word != "crane" || !v.GaveUp {
		t.Fatalf("C's view after giving up: %+v", v)
	}
	// Giving up on a solved word reveals nothing new and keeps it solved.
	if _, status, _ := g.GiveUp(b, id); status != StatusSolved {
		t.Fatalf("B's status after giving up a solved word: %s", status)
	}

	// The owner sees the word and its stats.
	s := g.State(a)
	if len(s.Words) != 0 || len(s.MyWords) != 1 || s.MyWords[0].Word != "crane" || s.MyWords[0].SolvedBy != 1 || s.MyWords[0].FailedBy != 1 {
		t.Fatalf("A's state: %+v", s)
	}

	sb := g.Scoreboard()
	if sb[0].Name != "B" || sb[0].Solved != 1 || sb[0].Tries != 3 {
		t.Fatalf("scoreboard: %+v", sb)
	}
	for _, r := range sb {
		switch r.Name {
		case "A":
			if r.WordsSet != 1 || r.Tries != 0 {
				t.Fatalf("A: %+v", r)
			}
		case "C":
			if r.Failed != 1 || r.Tries != 6 || r.Solved != 0 {
				t.Fatalf("C: %+v", r)
			}
		}
	}
}

// TestOwnWordCounts: the owner's status line counts each player who tried
// the word once, as playing, solved or failed. (It once said "1 playing,
// 1 solved" when the only player had solved it.)
func TestOwnWordCounts(t *testing.T) {
	g := NewGame(nil)
	a, _, _ := g.Join("A")
	b, _, _ := g.Join("B")
	c, _, _ := g.Join("C")
	id, err := g.SetWord(a, "crane")
	if err != nil {
		t.Fatal(err)
	}
	type counts struct{ players, playing, solved, failed int }
	for _, step := range []struct {
		name    string
		do      func() error
		want    counts
		summary string
	}{
		{"nobody yet", func() error { return nil }, counts{0, 0, 0, 0}, "nobody has tried it yet"},
		{"B misses", func() error { _, err := g.Guess(b, id, "slate"); return err }, counts{1, 1, 0, 0}, "1 player: 1 playing"},
		{"B solves", func() error { _, err := g.Guess(b, id, "crane"); return err }, counts{1, 0, 1, 0}, "1 player: 1 solved"},
		{"C misses", func() error { _, err := g.Guess(c, id, "house"); return err }, counts{2, 1, 1, 0}, "2 players: 1 playing, 1 solved"},
		{"C gives up", func() error { _, _, err := g.GiveUp(c, id); return err }, counts{2, 0, 1, 1}, "2 players: 1 solved, 1 failed"},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		mw := g.State(a).MyWords
		if len(mw) != 1 {
			t.Fatalf("%s: my words %+v", step.name, mw)
		}
		w := mw[0]
		if got := (counts{w.Players, w.Playing, w.SolvedBy, w.FailedBy}); got != step.want {
			t.Errorf("%s: counts %+v, want %+v", step.name, got, step.want)
		}
		if w.Summary != step.summary {
			t.Errorf("%s: summary %q, want %q", step.name, w.Summary, step.summary)
		}
	}
}
