package livefake

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// fake is what every fake here shares: an httptest server closed when the
// test ends, the script of what each connection does in turn, and the
// record of what each connection asked for.
type fake[Conn, Request any] struct {
	*httptest.Server

	mu       sync.Mutex
	script   []Conn
	requests []Request
}

// start serves h until the test ends.
func (f *fake[Conn, Request]) start(t testing.TB, h http.Handler) {
	f.Server = httptest.NewServer(h)
	t.Cleanup(f.Close)
}

// connect records req and returns what its connection does: the next
// element of the script, or the zero Conn once the script is used up.
func (f *fake[Conn, Request]) connect(req Request) Conn {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	var c Conn
	if len(f.script) > 0 {
		c, f.script = f.script[0], f.script[1:]
	}
	return c
}

// asked returns what each connection so far asked for.
func (f *fake[Conn, Request]) asked() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}
