package source

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/services/ingest/internal/livefake"
)

// The contract suite: what every network source does alike (bad messages,
// stalls, the wait for the producer, back-off, refused credentials and
// secrets, positions), run against each one on a fake of its API, as
// watermill runs one suite against every Pub/Sub. A source's own test file
// keeps only what is its own wire format.

// feed is what one connection of a fake does, in terms every API shares.
type feed struct {
	posts  int  // how many of the fake's next posts to send
	bad    bool // send the source's bad messages too
	close  bool // end the connection then; otherwise it stays open and silent
	status int  // refuse the connection with this HTTP status instead
}

// onFake is a network source on a new fake of its API.
type onFake struct {
	src   Source
	m     *Metrics
	logs  *systest.Buffer
	clock *testClock
	waits *waits
	// ids are the ids of the fake's posts, in the order it sends them.
	ids []string
	// streams counts the connections that reached the stream.
	streams func() int
	// again builds another source on the same fake (its script used up).
	again func() *onFake
}

// netSource is one network source for the suite.
type netSource struct {
	name string
	// start builds the source on a new fake whose connections do what
	// feeds say, in turn.
	start func(t *testing.T, feeds ...feed) *onFake
	// bad is how many bad messages a feed with bad sends.
	bad int
	// network, http and restart are the waits after three connections
	// closed at once, after four refused with HTTP 503, and after two
	// connections that delivered a post each and two 503s.
	network, http, restart []time.Duration
	// refuse gives the source credentials its fake refuses (nil: the fake
	// refuses with refusals); the log must say each of says, and hold none
	// of secrets (variable: value) even when the settings are logged whole.
	refuse   func(Source)
	refusals []feed
	says     []string
	secrets  map[string]string
	// env holds the other variables the settings need to load.
	env map[string]string
	// caughtUp reports, for a resumable source, that it has read
	// everything the fake holds.
	caughtUp func(Source) bool
}

// The stall time of every source in the suite; it must differ from every
// back-off wait (see waitOut).
const testStall = 45 * time.Second

const ms = time.Millisecond

var (
	documented = []time.Duration{250 * ms, 500 * ms, 750 * ms}
	live       = []time.Duration{250 * ms, 500 * ms, time.Second}
)

// onTestClock gives src's parts the suite's clock and back-off driver.
func onTestClock(t *testing.T, m *Metrics) (*testClock, *waits) {
	clock := newTestClock()
	return clock, waitOut(t, clock, m)
}

// scriptOf turns feeds into a fake's script: refused makes a refusal with
// an HTTP status, conn the connection of f, whose posts start at the
// sent-th of the fake's.
func scriptOf[C any](feeds []feed, refused func(code int) C, conn func(f feed, sent int) C) []C {
	var out []C
	sent := 0
	for _, f := range feeds {
		if f.status != 0 {
			out = append(out, refused(f.status))
			continue
		}
		out = append(out, conn(f, sent))
		sent += f.posts
	}
	return out
}

// lineScript turns feeds into the script of a line-streaming fake: post
// makes the i-th post's line (from 1), refusal the body of an error.
func lineScript(s *script, feeds []feed, post func(int) string, bad []string, refusal func(int) string) (ids []string) {
	s.conns = scriptOf(feeds, func(code int) conn { return status(code, refusal(code)) }, func(f feed, sent int) conn {
		var lines []string
		if f.bad {
			lines = append(lines, bad...)
		}
		for i := range f.posts {
			lines = append(lines, post(sent+i+1))
			ids = append(ids, fmt.Sprint(sent+i+1))
		}
		return streamLines(!f.close, lines...)
	})
	return ids
}

// badLines are lines neither Twitter API can decode.
var badLines = []string{"not json", `{"data":`, `[1,2,3]`}

// onLineFake returns a start for the suite of a Twitter API's source:
// start makes the source on a new fake, post the i-th post's line,
// refusal the body of an error status.
func onLineFake(name string, start func(*testing.T, *testClock, *Metrics) (Source, *script, *systest.Buffer), post func(int) string, refusal func(int) string) func(*testing.T, ...feed) *onFake {
	return func(t *testing.T, feeds ...feed) *onFake {
		m := testMetrics(name)
		clock, w := onTestClock(t, m)
		src, s, logs := start(t, clock, m)
		ids := lineScript(s, feeds, post, badLines, refusal)
		return &onFake{src: src, m: m, logs: logs, clock: clock, waits: w, ids: ids, streams: s.connections}
	}
}

// The documented schedules of the Twitter APIs.
var (
	documentedHTTP    = []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second}
	documentedRestart = []time.Duration{250 * ms, 250 * ms, 5 * time.Second, 10 * time.Second}
)

var xSource = netSource{
	name: "x",
	start: onLineFake("x", startX, func(i int) string { return xPost(i, "post #contract") },
		func(code int) string { return fmt.Sprintf(`{"title":%q,"status":%d}`, http.StatusText(code), code) }),
	bad:     len(badLines),
	network: documented,
	http:    documentedHTTP,
	restart: documentedRestart,
	refuse:  func(s Source) { s.(*X).BearerToken = "wrong-" + xToken },
	says:    []string{"authentication failed: check INGEST_X_BEARER_TOKEN", "401"},
	secrets: map[string]string{"INGEST_X_BEARER_TOKEN": xToken},
	env:     map[string]string{"INGEST_X_TRACK": "#golang"},
}

var twitterSource = netSource{
	name: "twitter",
	start: onLineFake("twitter", startTwitter, func(i int) string { return v1Tweet(i, "post #contract", "contract") },
		func(code int) string {
			return fmt.Sprintf(`{"errors":[{"code":%d,"message":%q}]}`, code, http.StatusText(code))
		}),
	bad:     len(badLines),
	network: documented,
	http:    documentedHTTP,
	restart: documentedRestart,
	refuse:  func(s Source) { s.(*Twitter).ConsumerSecret = "not-" + consumerSecret },
	says:    []string{"authentication failed: check INGEST_TWITTER_CONSUMER_KEY"},
	secrets: map[string]string{"INGEST_TWITTER_CONSUMER_SECRET": consumerSecret,
		"INGEST_TWITTER_ACCESS_TOKEN": accessToken, "INGEST_TWITTER_ACCESS_SECRET": accessSecret},
	env: map[string]string{"INGEST_TWITTER_CONSUMER_KEY": consumerKey, "INGEST_TWITTER_TRACK": "iphone"},
}

// jetstreamEvents are n post events of one account, 1 ms apart.
func jetstreamEvents(n int) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, []byte(fmt.Sprintf(`{"did":"did:plc:contract","time_us":%d,"kind":"commit","commit":{"rev":"r%d","operation":"create","collection":"app.bsky.feed.post","rkey":"k%03d","record":{"$type":"app.bsky.feed.post","createdAt":"2026-03-14T09:30:00.000Z","langs":["en"],"text":"post %d"},"cid":"c%d"}}`,
			1_773_480_600_000_000+int64(i)*1000, i, i, i, i)))
	}
	return out
}

// blueskyBad are messages Jetstream could send that do not decode.
var blueskyBad = [][]byte{
	[]byte("not json"),
	[]byte(`{"did":"did:plc:a","time_us":1,"kind":"label"}`),
	[]byte(`{"did":"did:plc:a","time_us":1,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"k","record":{"langs":["en"]}}}`),
	[]byte(`{"did":"did:plc:a","time_us":1,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"k","record":{"text":"#é","facets":[{"index":{"byteStart":0,"byteEnd":2},"features":[{"$type":"app.bsky.richtext.facet#tag","tag":"e"}]}]}}}`),
	[]byte(`{"did":"did:plc:a","time_us":1,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"k","record":{"text":"` + strings.Repeat("a", 10<<20) + `"}}}`),
}

const blueskyPosts = 8

var blueskySource = netSource{
	name: "bluesky",
	start: func(t *testing.T, feeds ...feed) *onFake {
		script := scriptOf(feeds, func(code int) livefake.JetstreamConn { return livefake.JetstreamConn{Status: code} }, func(f feed, sent int) livefake.JetstreamConn {
			c := livefake.JetstreamConn{Close: f.close, Events: f.posts}
			if sent > 0 {
				// The reconnect's cursor (no rewind) is the last event's
				// time_us: Jetstream sends that event again.
				c.Events++
			}
			if c.Events == 0 {
				c.Events = -1
			}
			if f.bad {
				c.Before = blueskyBad
			}
			return c
		})
		events := jetstreamEvents(blueskyPosts)
		js := livefake.NewJetstream(t, events, script...)
		want, err := expectedJetstreamIDs(events)
		if err != nil {
			t.Fatal(err)
		}
		on := func(rewind time.Duration) *onFake {
			b, logs := newBluesky(js.URL())
			b.Rewind, b.Stall = rewind, testStall
			clock, w := onTestClock(t, b.Metrics)
			b.Clock = clock
			return &onFake{src: b, m: b.Metrics, logs: logs, clock: clock, waits: w, ids: want,
				streams: func() int { return len(js.Requests()) }}
		}
		o := on(0)
		// Resumed, it rewinds past two events (1 ms apart), which the
		// host of its position sends again and it must drop.
		o.again = func() *onFake { return on(2500 * time.Microsecond) }
		return o
	},
	bad:      len(blueskyBad),
	network:  live,
	http:     []time.Duration{250 * ms, 500 * ms, time.Second, 2 * time.Second},
	restart:  []time.Duration{250 * ms, 250 * ms, 250 * ms, 500 * ms},
	refusals: []feed{{status: 401}, {status: 401}, {status: 401}, {status: 401}},
	says:     []string{"authentication failed: check INGEST_BLUESKY_HOSTS", "401"},
	caughtUp: func(s Source) bool {
		return s.(*Bluesky).Position() >= 1_773_480_600_000_000+int64(blueskyPosts-1)*1000
	},
}

// expectedJetstreamIDs are the ids of the post events, read independently
// of the decoder.
func expectedJetstreamIDs(events [][]byte) ([]string, error) {
	var out []string
	for _, e := range events {
		var v struct {
			Did    string
			Commit struct{ Collection, Rkey string }
		}
		if err := json.Unmarshal(e, &v); err != nil {
			return nil, err
		}
		out = append(out, "at://"+v.Did+"/"+v.Commit.Collection+"/"+v.Commit.Rkey)
	}
	return out, nil
}

// mastodonContractStatuses are n statuses of one account, in id order.
func mastodonContractStatuses(n int) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, []byte(fmt.Sprintf(`{"id":%q,"uri":"https://example.social/users/tom/statuses/%d","created_at":"2026-03-14T09:30:00.000Z","content":"<p>post %d</p>","account":{"acct":"tom"},"tags":[]}`, mastodonContractID(i), i, i)))
	}
	return out
}

// mastodonContractID is the id of the i-th contract status.
func mastodonContractID(i int) string { return fmt.Sprintf("1130000000000%05d", i) }

// mastodonContractPosts is how many statuses the suite's fake holds.
const mastodonContractPosts = 8

// mastodonBad are events a streaming server could send that do not decode.
var mastodonBad = []livefake.SSE{
	{Name: "update", Data: "not json"},
	{Name: "update", Data: `{"id":"1"}`},
	{Name: "update", Data: `{"content":"` + strings.Repeat("a", 10<<20) + `"}`},
	{Name: "delete", Data: ""},
}

var mastodonSource = netSource{
	name: "mastodon",
	start: func(t *testing.T, feeds ...feed) *onFake {
		statuses := mastodonContractStatuses(mastodonContractPosts)
		script := scriptOf(feeds, func(code int) livefake.MastodonConn { return livefake.MastodonConn{Status: code} }, func(f feed, sent int) livefake.MastodonConn {
			c := livefake.MastodonConn{Statuses: span(sent, sent+f.posts), Close: f.close}
			if f.bad {
				// The bad events first, then the statuses.
				c.Statuses, c.Events = nil, append(slices.Clone(mastodonBad), sseUpdates(statuses[sent:sent+f.posts])...)
			}
			return c
		})
		fake := livefake.NewMastodon(t, mastodonToken, statuses, script...)
		var ids []string
		for i := range statuses {
			ids = append(ids, fmt.Sprintf("https://example.social/users/tom/statuses/%d", i))
		}
		on := func(gapPages int) *onFake {
			m, logs := newMastodon(fake)
			m.Stall, m.GapPages = testStall, gapPages
			clock, w := onTestClock(t, m.Metrics)
			m.Clock = clock
			return &onFake{src: m, m: m.Metrics, logs: logs, clock: clock, waits: w, ids: ids,
				streams: func() int { return len(fake.Streams()) }}
		}
		o := on(0)
		// Resumed, it fills the gap from its position: the stream, its
		// script used up, sends nothing.
		o.again = func() *onFake { return on(10) }
		return o
	},
	bad:     len(mastodonBad),
	network: live,
	http:    []time.Duration{250 * ms, 500 * ms, time.Second, 2 * time.Second},
	restart: []time.Duration{250 * ms, 250 * ms, 250 * ms, 500 * ms},
	refuse:  func(s Source) { s.(*Mastodon).Token = "not-the-" + mastodonToken },
	says:    []string{"authentication failed: check INGEST_MASTODON_TOKEN", "401"},
	secrets: map[string]string{"INGEST_MASTODON_TOKEN": mastodonToken},
	caughtUp: func(s Source) bool {
		return s.(*Mastodon).newestSeen("public") == mastodonContractID(mastodonContractPosts-1)
	},
}

var networkSources = []netSource{xSource, twitterSource, blueskySource, mastodonSource}

// TestEveryNetworkSourceKeepsTheContract runs the suite against each
// network source.
func TestEveryNetworkSourceKeepsTheContract(t *testing.T) {
	for _, ns := range networkSources {
		t.Run(ns.name, func(t *testing.T) {
			t.Run("bad messages are counted, the first is logged, and the connection reads on", ns.badMessages)
			t.Run("a silent connection is dropped at its stall time, not before, and the next one goes on", ns.stall)
			t.Run("silence while a post waits for the producer is not a stall", ns.producerWait)
			t.Run("it backs off by the class of failure and starts over once a connection delivers", ns.backoff)
			t.Run("refused credentials back off by the minute, say what to check and no secret is logged", ns.refusedCredentials)
			t.Run("a resumable source resumed after any post emits exactly the rest; another emits no position", ns.positions)
		})
	}
}

func (ns netSource) badMessages(t *testing.T) {
	o := ns.start(t, feed{bad: true, posts: 3})
	posts := collect(t, o.src, 3)
	if got := ids(posts); !slices.Equal(got, o.ids[:3]) {
		t.Errorf("posts %q, want %q", got, o.ids[:3])
	}
	checkMalformedCounted(t, o.m, o.logs, ns.bad, o.streams())
}

func (ns netSource) stall(t *testing.T) {
	o := ns.start(t, feed{posts: 2}, feed{posts: 2})
	c, wait := collectInBackground(t, o.src, 4)
	systest.Await(t, "two posts", time.Minute, func() bool { return len(c.ids()) == 2 })
	// The watchdog's timer was set before the connection was dialled.
	o.clock.Advance(testStall - time.Millisecond)
	if testutil.ToFloat64(o.m.stalls) != 0 || o.streams() != 1 {
		t.Fatal("dropped before the stall time")
	}
	o.clock.Advance(time.Millisecond)
	wait()
	if got := c.ids(); !slices.Equal(got, o.ids[:4]) {
		t.Errorf("posts %q, want %q", got, o.ids[:4])
	}
	if n := testutil.ToFloat64(o.m.stalls); n != 1 {
		t.Errorf("%v stalls counted, want 1", n)
	}
	if got := o.waits.Waits(); !slices.Equal(got, ns.network[:1]) {
		t.Errorf("waits %v, want one network back-off %v", got, ns.network[:1])
	}
}

func (ns netSource) producerWait(t *testing.T) {
	o := ns.start(t, feed{posts: 2})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := &collector{want: 2, cancel: cancel}
	first := true
	slow := func(ctx context.Context, p post.Post, at Position) error {
		if first {
			// The producer's queue is full for twice the stall time; the
			// post is handed on once the watchdog has looked.
			first = false
			o.clock.Advance(2 * testStall)
			if !o.clock.wait("the watchdog set again", func() bool { return o.clock.pending(testStall) == 1 }) {
				t.Error("the watchdog did not set its timer again: it took the wait for a stall")
			}
		}
		return c.emit(ctx, p, at)
	}
	runFor(t, ctx, o.src, slow)
	if n := testutil.ToFloat64(o.m.stalls); n != 0 {
		t.Errorf("%v stalls counted while emit blocked, want 0", n)
	}
	if n := o.streams(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
	if got := c.ids(); !slices.Equal(got, o.ids[:2]) {
		t.Errorf("posts %q, want %q", got, o.ids[:2])
	}
}

func (ns netSource) backoff(t *testing.T) {
	s := time.Second
	refused := func(code, n int) []feed {
		var out []feed
		for range n {
			out = append(out, feed{status: code})
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		feeds []feed
		want  []time.Duration
	}{
		{"HTTP errors", refused(503, 5), ns.http},
		{"rate limits double from a minute", refused(429, 4), []time.Duration{60 * s, 120 * s, 240 * s}},
		{"connections closed at once", []feed{{close: true}, {close: true}, {close: true}, {close: true}}, ns.network},
		{"connections that deliver start the schedule over", []feed{{posts: 1, close: true}, {posts: 1, close: true}, {status: 503}, {status: 503}, {status: 503}}, ns.restart},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ns.start(t, tc.feeds...)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			o.waits.stopAfter(len(tc.want), cancel)
			runFor(t, ctx, o.src, (&collector{}).emit)
			if got := o.waits.Waits(); !slices.Equal(got, tc.want) {
				t.Errorf("waits %v, want %v", got, tc.want)
			}
		})
	}
}

func (ns netSource) refusedCredentials(t *testing.T) {
	o := ns.start(t, ns.refusals...)
	if ns.refuse != nil {
		ns.refuse(o.src)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	o.waits.stopAfter(3, cancel)
	runFor(t, ctx, o.src, (&collector{}).emit)
	if got, want := o.waits.Waits(), []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	out := o.logs.String()
	for _, s := range ns.says {
		if !strings.Contains(out, s) {
			t.Errorf("the log does not say %q:\n%s", s, out)
		}
	}
	if len(ns.secrets) == 0 {
		return // nothing to refuse but the connection
	}
	if n := o.streams(); n != 0 {
		t.Errorf("%d refused requests reached the stream", n)
	}
	// The settings logged whole (as a careless line might) hide the
	// secrets too.
	var settings Settings
	for _, k := range Kinds() {
		if k.Name == ns.name {
			settings = k.Settings()
		}
	}
	for name, value := range ns.secrets {
		t.Setenv(name, value)
	}
	for name, value := range ns.env {
		t.Setenv(name, value)
	}
	if err := config.Load(settings); err != nil {
		t.Fatal(err)
	}
	log, buf := testLog()
	log.Info("settings", ns.name, settings)
	for name, value := range ns.secrets {
		if strings.Contains(out, value) {
			t.Errorf("%s is in the log:\n%s", name, out)
		}
		if strings.Contains(buf.String(), value) {
			t.Errorf("the settings print %s: %s", name, buf.String())
		}
	}
}

func (ns netSource) positions(t *testing.T) {
	o := ns.start(t, feed{posts: 8})
	n := len(o.ids)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	full := &collector{want: n, cancel: cancel}
	runFor(t, ctx, o.src, full.emit)
	if got := full.ids(); !slices.Equal(got, o.ids[:n]) {
		t.Fatalf("posts %q, want %q", got, o.ids[:n])
	}
	if _, ok := o.src.(Resumable); !ok || ns.caughtUp == nil {
		if ok || ns.caughtUp != nil {
			t.Fatal("a source that resumes needs caughtUp in the suite, and one with caughtUp must resume")
		}
		for i, at := range full.at {
			if at != nil {
				t.Errorf("post %d emitted with position %v by a source that cannot resume", i+1, at)
			}
		}
		return
	}
	for k, at := range full.at {
		raw, err := json.Marshal(at)
		if err != nil {
			t.Fatal(err)
		}
		again := o.again()
		if err := again.src.(Resumable).Resume(raw); err != nil {
			t.Fatalf("resume at post %d (%s): %v", k+1, raw, err)
		}
		got := collectUntil(t, again.src, "the last post", func() bool { return ns.caughtUp(again.src) })
		if !slices.Equal(ids(got), o.ids[k+1:]) && (len(got) > 0 || k+1 < n) {
			t.Errorf("resumed after post %d (%s): emitted %q, want %q", k+1, raw, ids(got), o.ids[k+1:])
		}
	}
}
