// Package livefake serves fakes of the live services the ingest sources
// read, Bluesky's Jetstream and Mastodon's streaming API, on httptest
// servers, for the tests of the sources and of the ingest binary. They
// behave like the real services where a client can tell: Jetstream
// filters by collection and DID, replays from a cursor and compresses with
// its dictionary; Mastodon checks the bearer token, streams server-sent
// events with heartbeats and pages its timelines. Each connection follows
// a script, so a test can drop it mid-stream or let it go silent.
package livefake

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	jetstreammodels "github.com/bluesky-social/jetstream/pkg/models"
	"github.com/coder/websocket"
	"github.com/klauspost/compress/zstd"

	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
)

// JetstreamConn is what one connection to the fake Jetstream does.
type JetstreamConn struct {
	// Status, when set, refuses the handshake with this HTTP status.
	Status int
	// Before are raw messages sent first, as text (bad input, say).
	Before [][]byte
	// Events is how many events to send from the cursor on (0: all;
	// negative: none).
	Events int
	// Close ends the connection after the events, a mid-stream
	// disconnect; otherwise it stays open and silent, as the live tail
	// does when nothing happens, until the client goes.
	Close bool
}

// JetstreamRequest is what one connection asked for.
type JetstreamRequest struct {
	Cursor      int64
	Compress    bool
	Collections []string
	DIDs        []string
}

// Jetstream is a fake Jetstream v1 /subscribe endpoint serving recorded
// events in time_us order.
type Jetstream struct {
	fake[JetstreamConn, JetstreamRequest]

	events []jetstreamEvent
	enc    *zstd.Encoder
}

type jetstreamEvent struct {
	raw        []byte
	timeUS     int64
	did        string
	kind       string
	collection string
}

// NewJetstream serves events (Jetstream JSON, one per element), each
// connection following the next element of script; once the script is
// used up, connections get every event and stay open.
func NewJetstream(t testing.TB, events [][]byte, script ...JetstreamConn) *Jetstream {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderDict(jetstreammodels.ZSTDDictionary), zstd.WithWindowSize(1<<17), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	j := &Jetstream{enc: enc}
	j.script = script
	for i, raw := range events {
		var e struct {
			Did    string `json:"did"`
			TimeUS int64  `json:"time_us"`
			Kind   string `json:"kind"`
			Commit struct {
				Collection string `json:"collection"`
			} `json:"commit"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		j.events = append(j.events, jetstreamEvent{raw: bytes.Clone(raw), timeUS: e.TimeUS, did: e.Did, kind: e.Kind, collection: e.Commit.Collection})
	}
	slices.SortStableFunc(j.events, func(a, b jetstreamEvent) int { return cmp.Compare(a.timeUS, b.timeUS) })
	j.start(t, http.HandlerFunc(j.subscribe))
	return j
}

// URL is the ws:// address of the fake, a host for the source.
func (j *Jetstream) URL() string { return "ws" + strings.TrimPrefix(j.Server.URL, "http") }

// Requests returns what each connection so far asked for.
func (j *Jetstream) Requests() []JetstreamRequest { return j.asked() }

func (j *Jetstream) subscribe(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/subscribe" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	req := JetstreamRequest{Compress: q.Get("compress") == "true", Collections: q["wantedCollections"], DIDs: q["wantedDids"]}
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			http.Error(w, "invalid cursor", http.StatusBadRequest)
			return
		}
		req.Cursor = n
	}
	conn := j.connect(req)
	if conn.Status != 0 {
		http.Error(w, http.StatusText(conn.Status), conn.Status)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := c.CloseRead(r.Context())
	for _, m := range conn.Before {
		if c.Write(ctx, websocket.MessageText, m) != nil {
			return
		}
	}
	sent := 0
	for _, e := range j.events {
		if conn.Events != 0 && sent >= conn.Events {
			break
		}
		if e.timeUS < req.Cursor || !req.wants(e) {
			continue
		}
		typ, m := websocket.MessageText, e.raw
		if req.Compress {
			typ, m = websocket.MessageBinary, j.enc.EncodeAll(e.raw, nil)
		}
		if c.Write(ctx, typ, m) != nil {
			return
		}
		sent++
	}
	if conn.Close {
		return
	}
	<-ctx.Done()
}

// wants applies Jetstream's filters: commits of the wanted collections by
// the wanted DIDs; identity and account events always.
func (req JetstreamRequest) wants(e jetstreamEvent) bool {
	if len(req.DIDs) > 0 && !slices.Contains(req.DIDs, e.did) {
		return false
	}
	return e.kind != "commit" || len(req.Collections) == 0 || slices.Contains(req.Collections, e.collection)
}

// RecordedJetstream returns the Jetstream events recorded in the
// reference data and the post creates among them, read independently of
// the decoder, in time_us order: the order the fake serves them in.
func RecordedJetstream(t testing.TB) ([][]byte, []expect.JetstreamPost) {
	t.Helper()
	events := systest.SharedLines(t, "bluesky", "jetstream-v1-expected_v1.jsonl")
	posts, err := expect.JetstreamPosts(events)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(posts, func(a, b expect.JetstreamPost) int { return cmp.Compare(a.TimeUS, b.TimeUS) })
	return events, posts
}
