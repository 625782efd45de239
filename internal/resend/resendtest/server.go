package resendtest

import (
	"fmt"
	"net"
	"net/http/httptest"
	"testing"
)

// Server is the fake API listening on 127.0.0.1. Its URL is the base URL to
// give the client under test. The API's methods (Received, FailNext, ...)
// are available on it directly.
type Server struct {
	*API
	URL string
	srv *httptest.Server
}

// NewServer starts a fake on a free port of 127.0.0.1 and closes it when
// the test ends.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("start fake resend: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Listen starts a fake on addr (for example "127.0.0.1:8025"), for
// end-to-end tests where another process posts to a known address. The
// caller must Close it.
func Listen(addr string) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	api := NewAPI()
	srv := httptest.NewUnstartedServer(api)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	return &Server{API: api, URL: srv.URL, srv: srv}, nil
}

// Close cancels requests in progress (those held by Pause are dropped
// unsent), then stops the server and waits for its handlers.
func (s *Server) Close() {
	s.API.shutdown()
	s.srv.Close()
}
