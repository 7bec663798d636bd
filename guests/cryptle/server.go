package main

import (
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strings"
)

// MaxBody is the largest request body accepted.
const MaxBody = 4 << 10

//go:embed static
var staticFS embed.FS

// Server is Cryptle's HTTP API and page over a Game.
type Server struct {
	game *Game
	mux  *http.ServeMux
}

// NewServer returns the HTTP handler for g.
func NewServer(g *Game) *Server {
	s := &Server{game: g, mux: http.NewServeMux()}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(static)
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	s.api("POST", "/api/join", s.join)
	s.api("POST", "/api/words", s.authed(s.setWord))
	s.api("POST", "/api/guess", s.authed(s.guess))
	s.api("POST", "/api/giveup", s.authed(s.giveUp))
	s.api("GET", "/api/state", s.authed(s.state))
	s.api("GET", "/api/scoreboard", s.scoreboard)
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API route")
	})
	return s
}

// api routes method and path to h, answering other methods with a JSON
// 405 (a method in the mux pattern would lose to the /api/ catch-all).
func (s *Server) api(method, path string, h http.HandlerFunc) {
	s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == "GET" && r.Method == "HEAD") {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, "use "+method)
			return
		}
		h(w, r)
	})
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if strings.HasPrefix(r.URL.Path, "/api/") {
		h.Set("Cache-Control", "no-store")
	}
	s.mux.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// writeErr answers with a game error's status, or 500.
func writeErr(w http.ResponseWriter, err error) {
	if e, ok := AsError(err); ok {
		writeError(w, e.Status, e.Msg)
		return
	}
	writeError(w, http.StatusInternalServerError, "internal error")
}

// decode reads a JSON object of at most MaxBody bytes into v; on failure
// it answers 400 and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusBadRequest, "request body larger than 4 KiB")
		} else {
			writeError(w, http.StatusBadRequest, "cannot read the request body")
		}
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body")
		return false
	}
	return true
}

// authed wraps h with bearer-token authentication.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *Player)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cryptle"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token")
			return
		}
		p, err := s.game.Auth(strings.TrimSpace(token))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cryptle"`)
			writeErr(w, err)
			return
		}
		h(w, r, p)
	}
}

func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if !decode(w, r, &req) {
		return
	}
	p, token, err := s.game.Join(req.Name)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"player_id": p.ID, "name": p.Name, "token": token})
}

func (s *Server) setWord(w http.ResponseWriter, r *http.Request, p *Player) {
	var req struct {
		Word string `json:"word"`
	}
	if !decode(w, r, &req) {
		return
	}
	id, err := s.game.SetWord(p, req.Word)
	if err != nil {
		writeErr(w, err)
		return
	}
	// The owner may see their own word.
	writeJSON(w, http.StatusCreated, map[string]string{"word_id": id, "word": strings.ToLower(strings.TrimSpace(req.Word))})
}

func (s *Server) guess(w http.ResponseWriter, r *http.Request, p *Player) {
	var req struct {
		WordID string `json:"word_id"`
		Guess  string `json:"guess"`
	}
	if !decode(w, r, &req) {
		return
	}
	res, err := s.game.Guess(p, req.WordID, req.Guess)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"word_id":    req.WordID,
		"guess":      strings.ToLower(strings.TrimSpace(req.Guess)),
		"feedback":   res.Feedback,
		"tries":      res.Tries,
		"tries_left": MaxTries - res.Tries,
		"status":     res.Status,
	})
}

func (s *Server) giveUp(w http.ResponseWriter, r *http.Request, p *Player) {
	var req struct {
		WordID string `json:"word_id"`
	}
	if !decode(w, r, &req) {
		return
	}
	secret, status, err := s.game.GiveUp(p, req.WordID)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"word_id": req.WordID, "word": secret, "status": status})
}

func (s *Server) state(w http.ResponseWriter, r *http.Request, p *Player) {
	writeJSON(w, http.StatusOK, s.game.State(p))
}

func (s *Server) scoreboard(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"players": s.game.Scoreboard()})
}
