package source

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
	"github.com/hashtrend/hashtrend/services/ingest/internal/livefake"
)

func newBluesky(hosts ...string) (*Bluesky, *systest.Buffer) {
	log, buf := testLog()
	return &Bluesky{
		Hosts:  hosts,
		Rewind: 100 * time.Millisecond,
		Stall:  testStall,
		Env:    Env{Metrics: testMetrics("bluesky"), Log: log},
	}, buf
}

// onClock gives b a test clock whose back-off waits are over at once.
func onClock(t *testing.T, b *Bluesky) (*testClock, *waits) {
	clock := newTestClock()
	b.Clock = clock
	return clock, waitOut(t, clock, b.Metrics)
}

// checkPosts compares the posts with the expected ones: the same ids in
// order, each once, with the hashtags of their tag facets.
func checkPosts(t *testing.T, got []post.Post, want []expect.JetstreamPost) {
	t.Helper()
	var gotIDs, wantIDs []string
	for i, p := range got {
		gotIDs = append(gotIDs, p.ID)
		if i < len(want) && p.ID == want[i].ID && !reflect.DeepEqual(p.Hashtags, want[i].Hashtags) {
			t.Errorf("post %s: hashtags %q, want %q", p.ID, p.Hashtags, want[i].Hashtags)
		}
		if p.Source != "bluesky" {
			t.Errorf("post %s: source %q", p.ID, p.Source)
		}
	}
	for _, p := range want {
		wantIDs = append(wantIDs, p.ID)
	}
	if !slices.Equal(gotIDs, wantIDs) {
		t.Fatalf("posts\n got %q\nwant %q", gotIDs, wantIDs)
	}
}

func TestBlueskyReadsEveryRecordedPostWithTheHashtagsOfItsTagFacets(t *testing.T) {
	events, want := livefake.RecordedJetstream(t)
	for _, compress := range []bool{false, true} {
		name := map[bool]string{false: "plain JSON", true: "zstd with Jetstream's dictionary"}[compress]
		t.Run(name, func(t *testing.T) {
			js := livefake.NewJetstream(t, events)
			b, _ := newBluesky(js.URL())
			b.Compress = compress
			checkPosts(t, collect(t, b, len(want)), want)
			reqs := js.Requests()
			if len(reqs) != 1 || reqs[0].Compress != compress || !slices.Equal(reqs[0].Collections, []string{"app.bsky.feed.post"}) || reqs[0].Cursor != 0 {
				t.Errorf("requests %+v, want one live tail of posts, compress=%v", reqs, compress)
			}
			// The one post delete and the identity and account events
			// pass Jetstream's collection filter; they are counted.
			for kind, n := range map[string]float64{"delete": 1, "identity": 1, "account": 1, "malformed": 0} {
				if got := testutil.ToFloat64(b.Metrics.messages.WithLabelValues(kind)); got != n {
					t.Errorf("%s messages: %v, want %v", kind, got, n)
				}
			}
			if b.Position() < want[len(want)-1].TimeUS {
				t.Errorf("position %d before the last post's time_us %d", b.Position(), want[len(want)-1].TimeUS)
			}
		})
	}
}

func TestBlueskyResumesAfterADisconnectAtPositionMinusRewindWithoutGapsOrDuplicates(t *testing.T) {
	events, want := livefake.RecordedJetstream(t)
	const first = 12 // events (posts, deletes, identity, account) before the drop
	js := livefake.NewJetstream(t, events, livefake.JetstreamConn{Events: first, Close: true})
	b, _ := newBluesky(js.URL())
	onClock(t, b)
	checkPosts(t, collect(t, b, len(want)), want)

	// The position after the drop is the time_us of the last event the
	// first connection sent; the fake serves events in time_us order, so
	// it is the twelfth event that passes the collection filter.
	passed := passedTimes(t, events)
	pos := passed[first-1]
	reqs := js.Requests()
	if len(reqs) != 2 || reqs[1].Cursor != pos-b.Rewind.Microseconds() {
		t.Fatalf("requests %+v, want a second one with cursor %d - %d", reqs, pos, b.Rewind.Microseconds())
	}
	var overlap float64
	for _, p := range want {
		if p.TimeUS >= reqs[1].Cursor && p.TimeUS <= pos {
			overlap++
		}
	}
	if overlap == 0 {
		t.Fatal("the rewind overlaps no post: the test proves nothing")
	}
	if got := testutil.ToFloat64(b.Metrics.messages.WithLabelValues("duplicate")); got != overlap {
		t.Errorf("%v duplicates dropped, want the %v posts of the overlap", got, overlap)
	}
}

// passedTimes returns, in order, the time_us of the events that pass the
// filter the source asks Jetstream for: post commits, identity and
// account events.
func passedTimes(t *testing.T, events [][]byte) []int64 {
	t.Helper()
	var out []int64
	for _, e := range events {
		var v struct {
			TimeUS int64 `json:"time_us"`
			Kind   string
			Commit struct{ Collection string }
		}
		if err := json.Unmarshal(e, &v); err != nil {
			t.Fatal(err)
		}
		if v.Kind != "commit" || v.Commit.Collection == "app.bsky.feed.post" {
			out = append(out, v.TimeUS)
		}
	}
	slices.Sort(out)
	return out
}

func TestBlueskyFailsOverToTheNextHostWhenOneRefuses(t *testing.T) {
	events, want := livefake.RecordedJetstream(t)
	down := livefake.NewJetstream(t, events, livefake.JetstreamConn{Status: 503})
	up := livefake.NewJetstream(t, events)
	b, _ := newBluesky(down.URL(), up.URL())
	_, w := onClock(t, b)
	checkPosts(t, collect(t, b, len(want)), want)
	if len(down.Requests()) != 1 || len(up.Requests()) != 1 {
		t.Errorf("requests: %d to the host that is down, %d to the other; want 1 and 1", len(down.Requests()), len(up.Requests()))
	}
	if got := w.Waits(); !slices.Equal(got, []time.Duration{250 * time.Millisecond}) {
		t.Errorf("back-off waits %v, want [250ms]", got)
	}
}

func TestBlueskyDropsASilentConnectionAfterTheStallTimeAndResumesOnTheNextHost(t *testing.T) {
	events, want := livefake.RecordedJetstream(t)
	const first = 10 // of the 20 events that pass the collection filter
	silent := livefake.NewJetstream(t, events, livefake.JetstreamConn{Events: first})
	other := livefake.NewJetstream(t, events)
	b, _ := newBluesky(silent.URL(), other.URL())
	clock, _ := onClock(t, b)
	c, wait := collectInBackground(t, b, len(want))

	passed := passedTimes(t, events)
	systest.Await(t, "position at the tenth event", time.Minute, func() bool { return b.Position() == passed[first-1] })
	// The watchdog's timer was set before the connection was dialled.
	clock.Advance(b.Stall - time.Millisecond)
	if len(other.Requests()) != 0 || testutil.ToFloat64(b.Metrics.stalls) != 0 {
		t.Fatal("dropped before the stall time")
	}
	clock.Advance(time.Millisecond)
	wait()
	checkPosts(t, c.posts, want)
	if got := testutil.ToFloat64(b.Metrics.stalls); got != 1 {
		t.Errorf("%v stalls counted, want 1", got)
	}
	if reqs := other.Requests(); len(reqs) != 1 || reqs[0].Cursor != passed[first-1]-b.Rewind.Microseconds() {
		t.Errorf("requests to the next host %+v, want one resuming at %d", reqs, passed[first-1]-b.Rewind.Microseconds())
	}
}

// backfilling returns a Bluesky source on host whose clock reads now and
// whose backfill reaches back to cursor, its back-off waits over at once.
func backfilling(t *testing.T, host string, now time.Time, cursor int64) (*Bluesky, *systest.Buffer) {
	b, logs := newBluesky(host)
	clock := newTestClockAt(now)
	b.Clock = clock
	waitOut(t, clock, b.Metrics)
	b.Backfill = now.Sub(time.UnixMicro(cursor))
	return b, logs
}

// since returns the times of times from cursor on: what Jetstream
// replays from a cursor (time_us >= cursor, as its v1 and v2 servers
// do).
func since(times []int64, cursor int64) []int64 {
	var out []int64
	for _, ts := range times {
		if ts >= cursor {
			out = append(out, ts)
		}
	}
	return out
}

const replayTooShort = "the Jetstream instance replays less than asked"

func TestABlueskyFirstStartWithABackfillReadsEveryPostFromItsCursorOnOnce(t *testing.T) {
	events, posts := livefake.RecordedJetstream(t)
	// The cursor falls between two posts, half of them before it.
	k := len(posts) / 2
	cursor := (posts[k-1].TimeUS + posts[k].TimeUS) / 2
	if !(posts[k-1].TimeUS < cursor && cursor <= posts[k].TimeUS) {
		t.Fatalf("no room for a cursor between posts %d and %d", k-1, k)
	}
	var want []expect.JetstreamPost
	for _, p := range posts {
		if p.TimeUS >= cursor {
			want = append(want, p)
		}
	}
	from := since(passedTimes(t, events), cursor)
	const first = 4 // events the first connection sends before it drops
	js := livefake.NewJetstream(t, events, livefake.JetstreamConn{Events: first, Close: true})
	last := from[len(from)-1]
	b, logs := backfilling(t, js.URL(), time.UnixMicro(last).Add(time.Hour), cursor)
	b.Rewind = time.Second // longer than the whole recording

	got := collectUntil(t, b, "the last event", func() bool { return b.Position() == last })
	checkPosts(t, got, want)

	// The reconnect rewinds from its position, but not to before the
	// backfill's cursor: nothing older is read.
	pos := from[first-1]
	if pos-b.Rewind.Microseconds() >= cursor {
		t.Fatal("the rewind does not reach before the cursor: the test proves nothing")
	}
	reqs := js.Requests()
	if len(reqs) != 2 || reqs[0].Cursor != cursor || reqs[1].Cursor != cursor {
		t.Fatalf("requests %+v, want two at the backfill's cursor %d", reqs, cursor)
	}
	var again float64
	for _, p := range want {
		if p.TimeUS <= pos {
			again++
		}
	}
	if got := testutil.ToFloat64(b.Metrics.messages.WithLabelValues("duplicate")); got != again || again == 0 {
		t.Errorf("%v duplicates dropped, want the %v posts the reconnect sent again", got, again)
	}
	if strings.Contains(logs.String(), replayTooShort) {
		t.Errorf("a cursor within what the instance holds was taken for older:\n%s", logs.String())
	}
}

func TestABlueskyBackfillOlderThanWhatTheInstanceHoldsIsLoggedOnceWithHowFarBackItServed(t *testing.T) {
	events, posts := livefake.RecordedJetstream(t)
	passed := passedTimes(t, events)
	// The fake holds the recording (a third of a second); the backfill
	// asks for two hours before its first event.
	cursor := passed[0] - (2 * time.Hour).Microseconds()
	js := livefake.NewJetstream(t, events, livefake.JetstreamConn{Events: 5, Close: true})
	last := passed[len(passed)-1]
	now := time.UnixMicro(last).Add(30 * time.Minute)
	b, logs := backfilling(t, js.URL(), now, cursor)

	got := collectUntil(t, b, "the last event", func() bool { return b.Position() == last })
	checkPosts(t, got, posts)
	var warned []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, replayTooShort) {
			warned = append(warned, l)
		}
	}
	if len(warned) != 1 {
		t.Fatalf("%d lines say the replay was short, want 1 (two connections):\n%s", len(warned), logs.String())
	}
	asked := now.Sub(time.UnixMicro(cursor)).Round(time.Second)
	served := now.Sub(time.UnixMicro(passed[0])).Round(time.Second)
	for _, kv := range []string{"level=WARN", "asked=" + asked.String(), "served=" + served.String()} {
		if !strings.Contains(warned[0], kv) {
			t.Errorf("the line does not say %s: %s", kv, warned[0])
		}
	}
}

func TestABlueskyResumedFromACommittedPositionDoesNotBackfill(t *testing.T) {
	events, posts := livefake.RecordedJetstream(t)
	js := livefake.NewJetstream(t, events)
	passed := passedTimes(t, events)
	last := passed[len(passed)-1]
	at := posts[len(posts)/2].TimeUS
	// A backfill would reach an hour before the whole recording.
	b, logs := backfilling(t, js.URL(), time.UnixMicro(last), passed[0]-time.Hour.Microseconds())
	raw, err := json.Marshal(BlueskyPosition{TimeUS: at, Host: js.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Resume(raw); err != nil {
		t.Fatal(err)
	}
	got := collectUntil(t, b, "the last event", func() bool { return b.Position() == last })
	var want []expect.JetstreamPost
	for _, p := range posts {
		if p.TimeUS > at {
			want = append(want, p)
		}
	}
	checkPosts(t, got, want)
	if reqs := js.Requests(); len(reqs) != 1 || reqs[0].Cursor != at-b.Rewind.Microseconds() {
		t.Errorf("requests %+v, want one at the position %d − the rewind", reqs, at)
	}
	if strings.Contains(logs.String(), "backfilling") {
		t.Errorf("a resumed start backfilled:\n%s", logs.String())
	}
}

func TestBlueskyURLs(t *testing.T) {
	b := &Bluesky{DIDs: []string{"did:plc:a", "did:plc:b"}, Compress: true}
	for _, tt := range []struct {
		host   string
		cursor int64
		want   string
	}{
		{"jetstream2.us-east.bsky.network", 0, "wss://jetstream2.us-east.bsky.network/subscribe?compress=true&wantedCollections=app.bsky.feed.post&wantedDids=did%3Aplc%3Aa&wantedDids=did%3Aplc%3Ab"},
		{"ws://127.0.0.1:6008", 1725911162329308, "ws://127.0.0.1:6008/subscribe?compress=true&cursor=1725911162329308&wantedCollections=app.bsky.feed.post&wantedDids=did%3Aplc%3Aa&wantedDids=did%3Aplc%3Ab"},
	} {
		if got, err := b.URL(tt.host, tt.cursor); err != nil || got != tt.want {
			t.Errorf("URL(%q, %d) = %q, %v\nwant %q", tt.host, tt.cursor, got, err, tt.want)
		}
	}
}

func TestWantLang(t *testing.T) {
	for _, tt := range []struct {
		langs []string
		lang  string
		want  bool
	}{
		{nil, "ja", true},
		{[]string{"en"}, "en", true},
		{[]string{"en"}, "en-US", true},
		{[]string{"en"}, "EN-gb", true},
		{[]string{"en"}, "eng", false},
		{[]string{"en", "nl"}, "nl", true},
		{[]string{"en"}, "", false},
	} {
		if got := wantLang(tt.langs, tt.lang); got != tt.want {
			t.Errorf("wantLang(%q, %q) = %v", tt.langs, tt.lang, got)
		}
	}
}

func TestBlueskyValidate(t *testing.T) {
	checkValidate(t, "bluesky", []validateCase{
		{"the defaults: the public hosts", map[string]string{}, ""},
		{"hosts, filters and compression", map[string]string{"INGEST_BLUESKY_HOSTS": "ws://127.0.0.1:6008, jetstream1.us-west.bsky.network",
			"INGEST_BLUESKY_LANGS": "en,ja", "INGEST_BLUESKY_DIDS": "did:plc:abc", "INGEST_BLUESKY_COMPRESS": "true", "INGEST_BLUESKY_CASHTAGS": "true"}, ""},
		{"no host", map[string]string{"INGEST_BLUESKY_HOSTS": " , "}, "INGEST_BLUESKY_HOSTS"},
		{"a host that is no URL", map[string]string{"INGEST_BLUESKY_HOSTS": "ws://[::1"}, "INGEST_BLUESKY_HOSTS"},
		{"a DID that is not one", map[string]string{"INGEST_BLUESKY_DIDS": "alice.bsky.social"}, "INGEST_BLUESKY_DIDS"},
		{"a negative rewind", map[string]string{"INGEST_BLUESKY_REWIND": "-1s"}, "INGEST_BLUESKY_REWIND"},
		{"a zero stall", map[string]string{"INGEST_BLUESKY_STALL": "0s"}, "INGEST_BLUESKY_STALL"},
		{"a backfill of 6h20m", map[string]string{"INGEST_BLUESKY_BACKFILL": "6h20m"}, ""},
		{"a backfill of Jetstream's whole replay window", map[string]string{"INGEST_BLUESKY_BACKFILL": "36h"}, ""},
		{"a backfill further back than Jetstream replays", map[string]string{"INGEST_BLUESKY_BACKFILL": "36h1s"}, "INGEST_BLUESKY_BACKFILL"},
		{"a negative backfill", map[string]string{"INGEST_BLUESKY_BACKFILL": "-1h"}, "INGEST_BLUESKY_BACKFILL"},
		{"compression that is not a boolean", map[string]string{"INGEST_BLUESKY_COMPRESS": "zstd"}, "INGEST_BLUESKY_COMPRESS"},
	})
}
