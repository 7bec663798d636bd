package ca

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"sync"
	"time"
)

// MaxSeen bounds the keys a Server remembers against replays.
const MaxSeen = 1 << 16

// Server serves the CA protocol (docs/CA.md):
//
//	GET /          health: 200 "ok"
//	GET /root.pem  the root certificate (application/pem-certificate-chain)
//	POST /         application/pkcs10 request -> application/pkix-pkipath
//	               chain [root, leaf]; 400, 401 or 403 text/plain with the
//	               reason when refused
//
// A key is certified once: a request whose key already has a certificate
// that has not expired is refused as a replay, so a keep renews with a
// fresh key and fresh evidence.
type Server struct {
	Authority *Authority
	// Check verifies a request's evidence against the CA's policy.
	Check Checker
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives one line per request decided (nil discards).
	Log *slog.Logger

	mu   sync.Mutex
	seen map[string]time.Time // SPKI SHA-256 hex -> expiry of its leaf
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// ServeHTTP implements the protocol.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	case r.URL.Path == "/root.pem" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		w.Header().Set("Content-Type", MediaTypePEMChain)
		w.Write(s.Authority.RootPEM())
	case r.URL.Path == "/" && r.Method == http.MethodPost:
		s.attest(w, r)
	case r.URL.Path == "/" || r.URL.Path == "/root.pem":
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) refuse(w http.ResponseWriter, status int, reason string) {
	s.log().Info("request refused", "status", status, "reason", reason)
	http.Error(w, reason, status)
}

func (s *Server) attest(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != MediaTypePKCS10 {
		s.refuse(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not %s", r.Header.Get("Content-Type"), MediaTypePKCS10))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestSize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.refuse(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request larger than %d bytes", MaxRequestSize))
			return
		}
		s.refuse(w, http.StatusBadRequest, "reading the request: "+err.Error())
		return
	}
	req, err := ParseRequest(body)
	if err != nil {
		s.refuse(w, http.StatusBadRequest, err.Error())
		return
	}
	v, err := s.Check(r.Context(), body)
	if err != nil {
		s.log().Error("checking a request", "err", err)
		http.Error(w, "the verifier failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	spki := SPKIHash(req.CSR.RawSubjectPublicKeyInfo)
	if v.SPKISHA256 != spki {
		s.log().Error("the verdict is about another key", "want", spki, "got", v.SPKISHA256)
		http.Error(w, "the verifier answered about another key", http.StatusInternalServerError)
		return
	}
	if !v.Accepted() {
		s.refuse(w, v.Status, v.Reason)
		return
	}
	now := s.now()
	if err := s.remember(spki, now); err != nil {
		s.refuse(w, http.StatusForbidden, err.Error())
		return
	}
	leaf, err := s.Authority.Issue(req, v, now)
	if err != nil {
		s.forget(spki)
		if errors.Is(err, ErrNameNotAllowed) {
			s.refuse(w, http.StatusForbidden, err.Error())
			return
		}
		s.log().Error("issuing", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	s.seen[spki] = leaf.NotAfter
	s.mu.Unlock()
	chain, err := EncodeChain(s.Authority.Root.Raw, leaf.Raw)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.log().Info("issued", "serial", leaf.SerialNumber.Text(16), "module", v.ModuleHash, "tee", v.TEE, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	w.Header().Set("Content-Type", MediaTypePKIPath)
	w.Write(chain)
}

// remember records a key as certified, or refuses it as a replay.
func (s *Server) remember(spki string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]time.Time{}
	}
	if exp, ok := s.seen[spki]; ok && now.Before(exp) {
		return errors.New("replayed request: this key was already certified; a keep asks with a fresh key and fresh evidence")
	}
	if len(s.seen) >= MaxSeen {
		for k, exp := range s.seen {
			if !now.Before(exp) {
				delete(s.seen, k)
			}
		}
		if len(s.seen) >= MaxSeen {
			return fmt.Errorf("the CA holds %d unexpired certificates, its limit; try later", MaxSeen)
		}
	}
	s.seen[spki] = now.Add(time.Hour) // until the leaf's expiry is known
	return nil
}

func (s *Server) forget(spki string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.seen, spki)
}
