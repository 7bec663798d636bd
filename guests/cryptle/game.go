package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Game limits.
const (
	WordLen           = 5
	MaxTries          = 6
	MaxPlayers        = 1000
	MaxWordsPerPlayer = 10
	MaxNameLen        = 20 // in characters
)

// Letter feedback, as Wordle colours them.
const (
	Green  = "green"  // right letter, right place
	Yellow = "yellow" // in the word, elsewhere
	Grey   = "grey"   // not in the word (or all its copies already marked)
)

// Status of a word for one player.
const (
	StatusPlaying = "playing"
	StatusSolved  = "solved"
	StatusFailed  = "failed"
)

//go:embed words.txt
var wordsTxt string

// Dictionary is the set of allowed five-letter words.
type Dictionary map[string]struct{}

// ParseDictionary reads one word a line, skipping blank lines and lines
// starting with '#'; every word must be five letters a-z.
func ParseDictionary(r io.Reader) (Dictionary, error) {
	d := Dictionary{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		w := strings.TrimSpace(sc.Text())
		if w == "" || strings.HasPrefix(w, "#") {
			continue
		}
		if !isFiveLetters(w) {
			return nil, fmt.Errorf("line %d: %q is not five letters a-z", n, w)
		}
		d[w] = struct{}{}
	}
	return d, sc.Err()
}

// DefaultDictionary is the embedded word list.
var DefaultDictionary = sync.OnceValue(func() Dictionary {
	d, err := ParseDictionary(strings.NewReader(wordsTxt))
	if err != nil {
		panic("cryptle: words.txt: " + err.Error())
	}
	return d
})

// Has reports whether w is an allowed word.
func (d Dictionary) Has(w string) bool { _, ok := d[w]; return ok }

func isFiveLetters(w string) bool {
	if len(w) != WordLen {
		return false
	}
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return false
		}
	}
	return true
}

// Score colours guess against secret (both five letters a-z), Wordle's
// way: greens first; then, left to right, a letter is yellow only while
// the secret still has an unmatched copy of it, so a letter is never
// marked more often than the secret holds it.
func Score(secret, guess string) []string {
	out := make([]string, WordLen)
	var left [26]int
	for i := 0; i < WordLen; i++ {
		if guess[i] == secret[i] {
			out[i] = Green
		} else {
			left[secret[i]-'a']++
		}
	}
	for i := 0; i < WordLen; i++ {
		if out[i] != "" {
			continue
		}
		if c := guess[i] - 'a'; left[c] > 0 {
			left[c]--
			out[i] = Yellow
		} else {
			out[i] = Grey
		}
	}
	return out
}

// Error is a game error with the HTTP status that suits it.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func errorf(status int, format string, a ...any) error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, a...)}
}

// HTTP statuses used by game errors (kept here so game.go needs no
// net/http).
const (
	statusBadRequest   = 400
	statusUnauthorized = 401
	statusForbidden    = 403
	statusNotFound     = 404
	statusConflict     = 409
)

// ErrUnauthorized is returned for a missing or unknown token.
var ErrUnauthorized = &Error{Status: statusUnauthorized, Msg: "missing or unknown token"}

// Player is one player. Its counters are kept up to date by the game.
type Player struct {
	ID        string
	Name      string
	tokenHash [32]byte
	Solved    int // words solved
	Failed    int // words failed (out of tries or given up)
	Tries     int // guesses made, over all words
	WordsSet  int // secret words set
}

// Word is a secret word set by Owner.
type Word struct {
	ID     string
	Owner  *Player
	secret string
	plays  map[string]*Play // by player id
}

// Play is one player's attempt at one word.
type Play struct {
	Guesses  []string
	Feedback [][]string
	Status   string
	GaveUp   bool
}

// Game is the whole game state, safe for concurrent use.
type Game struct {
	mu      sync.Mutex
	dict    Dictionary
	rand    io.Reader
	players map[string]*Player   // by id
	byToken map[[32]byte]*Player // by SHA-256 of the token
	names   map[string]bool      // lower-cased names in use
	order   []*Player            // join order
	words   map[string]*Word     // by id
	wordSeq []*Word              // creation order
}

// NewGame returns an empty game using dict (nil: the embedded list) and
// crypto/rand for tokens and ids.
func NewGame(dict Dictionary) *Game {
	if dict == nil {
		dict = DefaultDictionary()
	}
	return &Game{
		dict:    dict,
		rand:    rand.Reader,
		players: map[string]*Player{},
		byToken: map[[32]byte]*Player{},
		names:   map[string]bool{},
		words:   map[string]*Word{},
	}
}

func (g *Game) randHex(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(g.rand, b); err != nil {
		panic("cryptle: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// CleanName trims name and checks it: 1-20 printable characters.
func CleanName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) {
		return "", errorf(statusBadRequest, "name is not valid UTF-8")
	}
	n := utf8.RuneCountInString(name)
	if n < 1 || n > MaxNameLen {
		return "", errorf(statusBadRequest, "name must be 1-%d characters", MaxNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return "", errorf(statusBadRequest, "name must be printable characters")
		}
	}
	return name, nil
}

// Join adds a player and returns it with its bearer token (128 random
// bits, hex), which only its SHA-256 is kept of.
func (g *Game) Join(name string) (*Player, string, error) {
	name, err := CleanName(name)
	if err != nil {
		return nil, "", err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.players) >= MaxPlayers {
		return nil, "", errorf(statusForbidden, "the game is full (%d players)", MaxPlayers)
	}
	key := strings.ToLower(name)
	if g.names[key] {
		return nil, "", errorf(statusConflict, "the name %q is taken", name)
	}
	token := g.randHex(16)
	p := &Player{ID: g.randHex(8), Name: name, tokenHash: sha256.Sum256([]byte(token))}
	for g.players[p.ID] != nil {
		p.ID = g.randHex(8)
	}
	g.players[p.ID] = p
	g.byToken[p.tokenHash] = p
	g.names[key] = true
	g.order = append(g.order, p)
	return p, token, nil
}

// Auth returns the player holding token.
func (g *Game) Auth(token string) (*Player, error) {
	if token == "" {
		return nil, ErrUnauthorized
	}
	h := sha256.Sum256([]byte(token))
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.byToken[h]
	if p == nil {
		return nil, ErrUnauthorized
	}
	return p, nil
}

// normWord lower-cases and trims a submitted word and checks it against
// the dictionary.
func (g *Game) normWord(w string) (string, error) {
	w = strings.ToLower(strings.TrimSpace(w))
	if !isFiveLetters(w) {
		return "", errorf(statusBadRequest, "a word must be %d letters a-z", WordLen)
	}
	if !g.dict.Has(w) {
		return "", errorf(statusBadRequest, "not in the word list")
	}
	return w, nil
}

// SetWord records p's secret word for the other players and returns its
// id.
func (g *Game) SetWord(p *Player, word string) (string, error) {
	w, err := g.normWord(word)
	if err != nil {
		return "", err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if p.WordsSet >= MaxWordsPerPlayer {
		return "", errorf(statusForbidden, "at most %d words per player", MaxWordsPerPlayer)
	}
	for _, x := range g.wordSeq {
		if x.Owner == p && x.secret == w {
			return "", errorf(statusConflict, "you already set that word")
		}
	}
	wd := &Word{ID: g.randHex(8), Owner: p, secret: w, plays: map[string]*Play{}}
	for g.words[wd.ID] != nil {
		wd.ID = g.randHex(8)
	}
	g.words[wd.ID] = wd
	g.wordSeq = append(g.wordSeq, wd)
	p.WordsSet++
	return wd.ID, nil
}

// lookup finds a word p may play.
func (g *Game) lookup(p *Player, wordID string) (*Word, error) {
	wd := g.words[wordID]
	if wd == nil {
		return nil, errorf(statusNotFound, "no such word")
	}
	if wd.Owner == p {
		return nil, errorf(statusForbidden, "you cannot play your own word")
	}
	return wd, nil
}

func (wd *Word) play(p *Player) *Play {
	pl := wd.plays[p.ID]
	if pl == nil {
		pl = &Play{Status: StatusPlaying}
		wd.plays[p.ID] = pl
	}
	return pl
}

// GuessResult is the outcome of one guess.
type GuessResult struct {
	Feedback []string
	Tries    int
	Status   string
}

// Guess plays guess at word wordID for p.
func (g *Game) Guess(p *Player, wordID, guess string) (GuessResult, error) {
	gw, err := g.normWord(guess)
	if err != nil {
		return GuessResult{}, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	wd, err := g.lookup(p, wordID)
	if err != nil {
		return GuessResult{}, err
	}
	pl := wd.play(p)
	if pl.Status != StatusPlaying {
		return GuessResult{}, errorf(statusConflict, "this word is already %s", pl.Status)
	}
	fb := Score(wd.secret, gw)
	pl.Guesses = append(pl.Guesses, gw)
	pl.Feedback = append(pl.Feedback, fb)
	p.Tries++
	switch {
	case gw == wd.secret:
		pl.Status = StatusSolved
		p.Solved++
	case len(pl.Guesses) >= MaxTries:
		pl.Status = StatusFailed
		p.Failed++
	}
	return GuessResult{Feedback: fb, Tries: len(pl.Guesses), Status: pl.Status}, nil
}

// GiveUp ends p's play at wordID as failed (if it was still open) and
// returns the secret word, which p may now see, and p's status on it
// (a solved word stays solved).
func (g *Game) GiveUp(p *Player, wordID string) (secret, status string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	wd, err := g.lookup(p, wordID)
	if err != nil {
		return "", "", err
	}
	pl := wd.play(p)
	if pl.Status == StatusPlaying {
		pl.Status = StatusFailed
		p.Failed++
	}
	if pl.Status == StatusFailed {
		pl.GaveUp = true
	}
	return wd.secret, pl.Status, nil
}

// revealed reports whether pl lets its player see the secret: solved, or
// given up (running out of tries alone does not reveal it; giving up
// afterwards does).
func (pl *Play) revealed() bool {
	return pl != nil && (pl.Status == StatusSolved || pl.GaveUp)
}

// GuessRow is one guess and its colours.
type GuessRow struct {
	Guess    string   `json:"guess"`
	Feedback []string `json:"feedback"`
}

// WordView is a word to guess as one player sees it. Word is set only
// once that player solved it or gave up.
type WordView struct {
	ID        string     `json:"id"`
	Owner     string     `json:"owner"`
	Guesses   []GuessRow `json:"guesses"`
	Tries     int        `json:"tries"`
	TriesLeft int        `json:"tries_left"`
	Status    string     `json:"status"`
	GaveUp    bool       `json:"gave_up"`
	Word      string     `json:"word,omitempty"`
}

// OwnWordView is one of the player's own words.
type OwnWordView struct {
	ID       string `json:"id"`
	Word     string `json:"word"`
	Players  int    `json:"players"`   // players who guessed at it
	Playing  int    `json:"playing"`   // of them, those still guessing
	SolvedBy int    `json:"solved_by"` // of them, those who solved it
	FailedBy int    `json:"failed_by"` // of them, those who failed or gave up
	Summary  string `json:"summary"`   // the counts as the page shows them
}

// summarize sets v.Summary from its counts: "nobody has tried it yet", or
// "2 players: 1 playing, 1 solved" (only the counts that are not zero).
func (v *OwnWordView) summarize() {
	if v.Players == 0 {
		v.Summary = "nobody has tried it yet"
		return
	}
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{{v.Playing, "playing"}, {v.SolvedBy, "solved"}, {v.FailedBy, "failed"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	noun := "players"
	if v.Players == 1 {
		noun = "player"
	}
	v.Summary = fmt.Sprintf("%d %s: %s", v.Players, noun, strings.Join(parts, ", "))
}

// PlayerView is a player's public identity.
type PlayerView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// StateView is GET /api/state's answer.
type StateView struct {
	Player  PlayerView    `json:"player"`
	Words   []WordView    `json:"words"`
	MyWords []OwnWordView `json:"my_words"`
}

// State is what p may see: the other players' words with p's own
// progress, and p's own words.
func (g *Game) State(p *Player) StateView {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := StateView{Player: PlayerView{ID: p.ID, Name: p.Name}, Words: []WordView{}, MyWords: []OwnWordView{}}
	for _, wd := range g.wordSeq {
		if wd.Owner == p {
			ov := OwnWordView{ID: wd.ID, Word: wd.secret, Players: len(wd.plays)}
			for _, pl := range wd.plays {
				switch pl.Status {
				case StatusSolved:
					ov.SolvedBy++
				case StatusFailed:
					ov.FailedBy++
				default:
					ov.Playing++
				}
			}
			ov.summarize()
			s.MyWords = append(s.MyWords, ov)
			continue
		}
		v := WordView{ID: wd.ID, Owner: wd.Owner.Name, Guesses: []GuessRow{}, TriesLeft: MaxTries, Status: StatusPlaying}
		if pl := wd.plays[p.ID]; pl != nil {
			for i, gs := range pl.Guesses {
				v.Guesses = append(v.Guesses, GuessRow{Guess: gs, Feedback: pl.Feedback[i]})
			}
			v.Tries = len(pl.Guesses)
			v.TriesLeft = MaxTries - v.Tries
			v.Status = pl.Status
			v.GaveUp = pl.GaveUp
			if pl.revealed() {
				v.Word = wd.secret
			}
		}
		s.Words = append(s.Words, v)
	}
	return s
}

// ScoreRow is one player's line on the scoreboard.
type ScoreRow struct {
	PlayerID string `json:"player_id"`
	Name     string `json:"name"`
	Solved   int    `json:"solved"`
	Failed   int    `json:"failed"`
	Tries    int    `json:"tries"`
	WordsSet int    `json:"words_set"`
}

// Scoreboard ranks the players: most solved first, then fewest tries,
// then join order.
func (g *Game) Scoreboard() []ScoreRow {
	g.mu.Lock()
	rows := make([]ScoreRow, 0, len(g.order))
	for _, p := range g.order {
		rows = append(rows, ScoreRow{PlayerID: p.ID, Name: p.Name, Solved: p.Solved, Failed: p.Failed, Tries: p.Tries, WordsSet: p.WordsSet})
	}
	g.mu.Unlock()
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Solved != rows[j].Solved {
			return rows[i].Solved > rows[j].Solved
		}
		return rows[i].Tries < rows[j].Tries
	})
	return rows
}

// AsError returns err as a game *Error, if it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
