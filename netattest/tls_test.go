package netattest

import (
	"bytes"
	"context"
	"crypto/sha512"
	"crypto/tls"
	"io"
	"strings"
	"testing"
)

// Mutual attestation: each side presents a sim RA-TLS certificate and
// checks the other's against its own policy.
func TestMutualTLS(t *testing.T) {
	server := simIdentity(t, []byte("server module"))
	client := simIdentity(t, []byte("client module"))
	sd := sha512.Sum384([]byte("server module"))
	cd := sha512.Sum384([]byte("client module"))

	clientsOK := NewVerifier(&Policy{AllowSimulated: true, ModuleHashes: []string{"sha384:" + hexs(cd[:])}}, Options{})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerConfig(server, clientsOK))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type accepted struct {
		peer *Peer
		err  error
	}
	got := make(chan accepted, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				if err := tc.Handshake(); err != nil {
					got <- accepted{err: err}
					return
				}
				p, _ := clientsOK.Peer(tc.ConnectionState())
				got <- accepted{peer: p}
				io.Copy(c, c)
			}()
		}
	}()

	serversOK := NewVerifier(&Policy{AllowSimulated: true, ModuleHashes: []string{"sha384:" + hexs(sd[:])}}, Options{})
	conn, err := tls.Dial("tcp", ln.Addr().String(), serversOK.ClientConfig(client))
	if err != nil {
		t.Fatalf("mutual handshake: %v", err)
	}
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	conn.Close()
	a := <-got
	if a.err != nil || a.peer == nil || !bytes.Equal(a.peer.ModuleHash().Hash, cd[:]) {
		t.Fatalf("server saw client %+v", a)
	}
	p, ok := serversOK.Peer(conn.ConnectionState())
	if !ok || !bytes.Equal(p.ModuleHash().Hash, sd[:]) {
		t.Fatalf("client saw server %+v", p)
	}

	// A client without a certificate is refused by the server.
	c2, err := tls.Dial("tcp", ln.Addr().String(), serversOK.ClientConfig(nil))
	if err == nil {
		// TLS 1.3: the client learns of the refusal on its first read.
		_, err = c2.Read(make([]byte, 1))
		c2.Close()
	}
	if err == nil {
		t.Fatal("client without a certificate was accepted")
	}
	if a := <-got; a.err == nil {
		t.Fatal("server accepted a client without a certificate")
	}

	// A client running another module is refused by the server's policy.
	stranger := simIdentity(t, []byte("another module"))
	c3, err := tls.Dial("tcp", ln.Addr().String(), serversOK.ClientConfig(stranger))
	if err == nil {
		_, err = c3.Read(make([]byte, 1))
		c3.Close()
	}
	if err == nil {
		t.Fatal("client with another module was accepted")
	}
	if a := <-got; a.err == nil || !strings.Contains(a.err.Error(), "module hash") {
		t.Fatalf("server error = %v, want a module hash refusal", a.err)
	}
}

// The verifier caches accepted certificates: a second verification of the
// same certificate returns the same Peer without redoing the work.
func TestVerifierCache(t *testing.T) {
	id := simIdentity(t, []byte("m"))
	v := NewVerifier(&Policy{AllowSimulated: true}, Options{})
	p1, err := v.Verify(context.Background(), id.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := v.Verify(context.Background(), id.Certificate)
	if err != nil || p1 != p2 {
		t.Fatalf("second verify: %p vs %p, %v", p1, p2, err)
	}
	// A refused certificate is not cached as accepted.
	strict := NewVerifier(nil, Options{})
	if _, err := strict.Verify(context.Background(), id.Certificate); err == nil {
		t.Fatal("default policy accepted sim evidence")
	}
	if _, ok := strict.cache[p1.Result.Fingerprint]; ok {
		t.Fatal("refused certificate was cached")
	}
}

// TestClientConfigResumes: connections made with one ClientConfig resume
// the TLS session, and a resumed connection is still verified: Peer finds
// the keep's verified claims.
func TestClientConfigResumes(t *testing.T) {
	addr := startEchoServer(t, simIdentity(t, []byte("server module")))
	sd := sha512.Sum384([]byte("server module"))
	var verified int
	v := NewVerifier(&Policy{AllowSimulated: true, ModuleHashes: []string{"sha384:" + hexs(sd[:])}}, Options{})
	cfg := v.ClientConfig(nil)
	inner := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error { verified++; return inner(cs) }
	for i := range 3 {
		conn, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conn.Write([]byte("ping"))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(conn, buf); err != nil { // also reads the session ticket
			t.Fatal(err)
		}
		cs := conn.ConnectionState()
		if cs.DidResume != (i > 0) {
			t.Errorf("dial %d: resumed %v, want %v", i, cs.DidResume, i > 0)
		}
		if p, ok := v.Peer(cs); !ok || p.Result == nil {
			t.Errorf("dial %d: no verified peer", i)
		}
		conn.Close()
	}
	if verified != 3 {
		t.Errorf("VerifyConnection ran %d times for 3 connections", verified)
	}
}
