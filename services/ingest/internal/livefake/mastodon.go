package livefake

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SSE is one server-sent event of the fake Mastodon: a name and its data,
// or a comment (Name empty) such as a heartbeat.
type SSE struct {
	Name, Data string
}

// Heartbeat is the comment Mastodon's streaming server sends every 15 s.
var Heartbeat = SSE{Data: "thump"}

// MastodonConn is what one stream connection to the fake Mastodon does.
type MastodonConn struct {
	// Status, when set, answers with this HTTP status instead.
	Status int
	// Statuses are the indices of the statuses sent as update events, in
	// order; Events are sent after them.
	Statuses []int
	Events   []SSE
	// Close drops the connection after them; otherwise it stays open,
	// sending what Send is given, until the client goes.
	Close bool
}

// Mastodon is a fake Mastodon instance: a bearer token, the streaming API
// (public, public/local, hashtag) and the public timeline with min_id
// paging, over a set of statuses.
type Mastodon struct {
	// The requests of the script's connections are the path and query of
	// each stream request.
	fake[MastodonConn, string]
	token string

	statuses []mastodonStatus // in id order

	timelines []string // the path and query of each timeline request (under mu)
	live      chan SSE // events for the open connection
	rate      *mastodonRate
}

// mastodonRate is the fake's rate limiter, as Mastodon's: limit
// requests per period, periods aligned to the epoch (under mu).
type mastodonRate struct {
	limit   int
	period  time.Duration
	now     func() time.Time
	start   time.Time // of the current period
	count   int       // requests in it
	refused int
}

type mastodonStatus struct {
	id   string
	raw  string
	tags []string // lowercased names
}

// NewMastodon serves statuses (Status JSON each) to clients with token;
// each stream connection follows the next element of script; after it, a
// connection sends nothing of its own and stays open.
func NewMastodon(t testing.TB, token string, statuses [][]byte, script ...MastodonConn) *Mastodon {
	t.Helper()
	m := &Mastodon{token: token, live: make(chan SSE)}
	m.script = script
	for i, raw := range statuses {
		var s struct {
			ID   string
			Tags []struct{ Name string }
		}
		if err := json.Unmarshal(raw, &s); err != nil || s.ID == "" {
			t.Fatalf("status %d: no id (%v)", i, err)
		}
		st := mastodonStatus{id: s.ID, raw: string(raw)}
		for _, tag := range s.Tags {
			st.tags = append(st.tags, strings.ToLower(tag.Name))
		}
		m.statuses = append(m.statuses, st)
	}
	slices.SortFunc(m.statuses, func(a, b mastodonStatus) int { return compareIDs(a.id, b.id) })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/streaming/{stream...}", m.stream)
	mux.HandleFunc("GET /api/v1/timelines/public", m.timeline)
	mux.HandleFunc("GET /api/v1/timelines/tag/{tag}", m.timeline)
	m.start(t, m.auth(mux))
	return m
}

// StatusID returns the id of the i-th status in id order, the order the
// indices of MastodonConn.Statuses refer to.
func (m *Mastodon) StatusID(i int) string { return m.statuses[i].id }

// Streams returns the path and query of each stream request so far.
func (m *Mastodon) Streams() []string { return m.asked() }

// Timelines returns the path and query of each timeline request so far.
func (m *Mastodon) Timelines() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.timelines)
}

// RateLimit makes the timelines answer as Mastodon's rate limiter does
// (the API's 300 requests per 5 minutes): limit requests per period, the
// periods aligned to the epoch on the clock now, every answer with
// X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (an ISO
// 8601 time with microseconds), and a request over the limit refused
// with 429.
func (m *Mastodon) RateLimit(limit int, period time.Duration, now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rate = &mastodonRate{limit: limit, period: period, now: now}
}

// Refused returns how many timeline requests the rate limit refused.
func (m *Mastodon) Refused() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rate == nil {
		return 0
	}
	return m.rate.refused
}

// limited counts a timeline request against the rate limit, if any, and
// writes its headers; false: refused, answered with 429.
func (m *Mastodon) limited(w http.ResponseWriter) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rate
	if r == nil {
		w.Header().Set("X-RateLimit-Limit", "300")
		return true
	}
	now := r.now()
	if start := now.Truncate(r.period); !start.Equal(r.start) {
		r.start, r.count = start, 0
	}
	r.count++
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(r.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, r.limit-r.count)))
	h.Set("X-RateLimit-Reset", r.start.Add(r.period).UTC().Format("2006-01-02T15:04:05.000000Z07:00"))
	if r.count <= r.limit {
		return true
	}
	r.refused++
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprint(w, `{"error":"Too many requests"}`)
	return false
}

// Send sends ev on the open stream connection, waiting for one.
func (m *Mastodon) Send(ev SSE) { m.live <- ev }

func compareIDs(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b))
}

// auth answers 401 as Mastodon does to a missing or wrong token.
func (m *Mastodon) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+m.token {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"The access token is invalid"}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (m *Mastodon) stream(w http.ResponseWriter, r *http.Request) {
	switch s := r.PathValue("stream"); {
	case s == "public", s == "public/local", s == "hashtag" && r.URL.Query().Get("tag") != "":
	default:
		http.Error(w, `{"error":"Unknown stream type"}`, http.StatusBadRequest)
		return
	}
	conn := m.connect(r.URL.RequestURI())
	if conn.Status != 0 {
		http.Error(w, `{"error":"`+http.StatusText(conn.Status)+`"}`, conn.Status)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "private, no-store")
	w.WriteHeader(http.StatusOK)
	f := w.(http.Flusher)
	send := func(ev SSE) bool {
		var err error
		if ev.Name == "" {
			_, err = fmt.Fprintf(w, ":%s\n", ev.Data)
		} else {
			_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Name, ev.Data)
		}
		f.Flush()
		return err == nil
	}
	// The server's greeting, as Mastodon's streaming server sends it.
	if !send(SSE{Data: ")"}) {
		return
	}
	for _, i := range conn.Statuses {
		if !send(SSE{Name: "update", Data: m.statuses[i].raw}) {
			return
		}
	}
	for _, ev := range conn.Events {
		if !send(ev) {
			return
		}
	}
	if conn.Close {
		return
	}
	for {
		select {
		case ev := <-m.live:
			if !send(ev) {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// timeline serves /api/v1/timelines/public and timelines/tag/{tag} (the
// statuses with that tag): with min_id, the limit statuses right after
// it, newest first, as Mastodon does.
func (m *Mastodon) timeline(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m.mu.Lock()
	m.timelines = append(m.timelines, r.URL.RequestURI())
	m.mu.Unlock()
	if !m.limited(w) {
		return
	}
	limit := 20
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			http.Error(w, `{"error":"invalid limit"}`, http.StatusBadRequest)
			return
		}
		limit = min(n, 40)
	}
	minID, tag := q.Get("min_id"), strings.ToLower(r.PathValue("tag"))
	var page []string
	for _, s := range m.statuses {
		if minID != "" && compareIDs(s.id, minID) <= 0 || tag != "" && !slices.Contains(s.tags, tag) {
			continue
		}
		if len(page) == limit {
			break
		}
		page = append(page, s.raw)
	}
	slices.Reverse(page)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	fmt.Fprint(w, "["+strings.Join(page, ",")+"]")
}
