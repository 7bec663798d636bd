// Command cryptle is a Keep example workload (GOOS=wasip1): Cryptle, a
// multi-player Wordle whose secret words live only inside the keep. It
// serves its single-page app and JSON API with net/http on the listener
// at fd 3 (declare it in Enarx.toml, with prot = "tls" so Keep terminates
// TLS with the keep's RA-TLS certificate), and uses no Keep-specific
// calls. It logs nothing about words or guesses.
//
// API (JSON; after join, calls carry "Authorization: Bearer <token>"):
//
//	POST /api/join       {"name"}              → 201 {"player_id","name","token"}
//	POST /api/words      {"word"}              → 201 {"word_id","word"}
//	POST /api/guess      {"word_id","guess"}   → 200 {"word_id","guess","feedback":[5×"green"|"yellow"|"grey"],"tries","tries_left","status"}
//	POST /api/giveup     {"word_id"}           → 200 {"word_id","word","status"}
//	GET  /api/state                            → 200 {"player","words":[…],"my_words":[…]}
//	GET  /api/scoreboard                       → 200 {"players":[{"player_id","name","solved","failed","tries","words_set"}]}
//
// Errors are {"error": "..."} with 400 (bad body, body over 4 KiB, bad
// word), 401 (token), 403 (own word, limits), 404 (unknown word id) or 409
// (name taken, word finished).
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

func main() {
	if os.Getenv("HTTP_SET_NONBLOCK") == "1" {
		// Plain wazero hands over its listener in blocking mode; under
		// Keep it already is non-blocking.
		syscall.SetNonblock(3, true)
	}
	ln, err := net.FileListener(os.NewFile(3, "listen"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cryptle: fd 3 is not a listener:", err)
		os.Exit(1)
	}
	srv := &http.Server{
		Handler:           NewServer(NewGame(nil)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "cryptle:", err)
		os.Exit(1)
	}
}
