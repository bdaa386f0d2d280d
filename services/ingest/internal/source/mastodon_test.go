package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/wire"
	"github.com/hashtrend/hashtrend/services/ingest/internal/livefake"
)

const mastodonToken = "mastodon-user-token-5ecret"

// mastodonStatuses returns the recorded statuses and, in id order, what
// each must become, read through untyped JSON: its uri and the names of
// its tags (its reblog's, for a reblog).
func mastodonStatuses(t *testing.T) ([][]byte, []post.Post) {
	t.Helper()
	lines := systest.SharedLines(t, "mastodon", "rtoot-mastodonsocial-stream.jsonl")
	type want struct {
		id string
		p  post.Post
	}
	var ws []want
	for _, l := range lines {
		var s map[string]any
		if err := json.Unmarshal(l, &s); err != nil {
			t.Fatal(err)
		}
		p := post.Post{ID: s["uri"].(string), Hashtags: []string{}}
		content := s
		if r, ok := s["reblog"].(map[string]any); ok {
			content = r
		}
		for _, tag := range content["tags"].([]any) {
			p.Hashtags = append(p.Hashtags, tag.(map[string]any)["name"].(string))
		}
		ws = append(ws, want{s["id"].(string), p})
	}
	slices.SortFunc(ws, func(a, b want) int { return compareMastodonIDs(a.id, b.id) })
	var out []post.Post
	for _, w := range ws {
		out = append(out, w.p)
	}
	return lines, out
}

func compareMastodonIDs(a, b string) int {
	if newerID(a, b) {
		return 1
	}
	if a == b {
		return 0
	}
	return -1
}

func span(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func newMastodon(f *livefake.Mastodon) (*Mastodon, *systest.Buffer) {
	log, buf := testLog()
	return &Mastodon{BaseURL: f.URL, Token: mastodonToken, Stream: "public", Stall: testStall, GapPages: 10,
		Env: Env{Metrics: testMetrics("mastodon"), Log: log}}, buf
}

// newestSeen is the newest status id m has seen on feed.
func (m *Mastodon) newestSeen(feed string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.newest[feed]
}

// onMastodonClock gives m a test clock whose back-off waits are over at
// once.
func onMastodonClock(t *testing.T, m *Mastodon) (*testClock, *waits) {
	clock := newTestClock()
	m.Clock = clock
	return clock, waitOut(t, clock, m.Metrics)
}

// checkMastodonPosts compares ids, order and hashtags with want.
func checkMastodonPosts(t *testing.T, got, want []post.Post) {
	t.Helper()
	var gotIDs, wantIDs []string
	for _, p := range got {
		gotIDs = append(gotIDs, p.ID)
	}
	for _, p := range want {
		wantIDs = append(wantIDs, p.ID)
	}
	if !slices.Equal(gotIDs, wantIDs) {
		t.Fatalf("posts\n got %q\nwant %q", gotIDs, wantIDs)
	}
	for i, p := range got {
		if !reflect.DeepEqual(p.Hashtags, want[i].Hashtags) || p.Source != "mastodon" || p.Author == "" {
			t.Errorf("post %s: source %q, author %q, hashtags %q; want hashtags %q", p.ID, p.Source, p.Author, p.Hashtags, want[i].Hashtags)
		}
	}
}

func TestMastodonStreamsTheRecordedStatusesWithTheirTagsAndCountsTheOtherEvents(t *testing.T) {
	statuses, want := mastodonStatuses(t)
	f := livefake.NewMastodon(t, mastodonToken, statuses, livefake.MastodonConn{
		Statuses: span(0, len(statuses)),
		Events: []livefake.SSE{
			livefake.Heartbeat,
			{Name: "delete", Data: "109381959558229264"},
			{Name: "status.update", Data: string(statuses[0])},
			{Name: "notification", Data: `{"id":"14","type":"mention"}`},
			{Name: "update", Data: string(statuses[1])}, // streamed twice: dropped
		},
	})
	m, logs := newMastodon(f)
	got := collectUntil(t, m, "the events after the statuses", func() bool {
		return testutil.ToFloat64(m.Metrics.messages.WithLabelValues("duplicate")) == 1
	})
	checkMastodonPosts(t, got, want)
	for kind, n := range map[string]float64{"delete": 1, "update": 1, "event": 1, "keep-alive": 2, "malformed": 0} {
		if got := testutil.ToFloat64(m.Metrics.messages.WithLabelValues(kind)); got != n {
			t.Errorf("%s: %v, want %v", kind, got, n)
		}
	}
	if got := f.Streams(); !slices.Equal(got, []string{"/api/v1/streaming/public"}) {
		t.Errorf("stream requests %q", got)
	}
	if strings.Contains(logs.String(), mastodonToken) {
		t.Errorf("the token is in the log:\n%s", logs.String())
	}
}

func TestMastodonFillsTheGapAfterADroppedConnectionFromTheTimelineWithoutDuplicates(t *testing.T) {
	statuses, want := mastodonStatuses(t)
	f := livefake.NewMastodon(t, mastodonToken, statuses,
		livefake.MastodonConn{Statuses: span(0, 10), Close: true},
		// Statuses 10 to 19 were posted while the source was away.
		livefake.MastodonConn{Statuses: span(20, len(statuses))},
	)
	m, _ := newMastodon(f)
	onMastodonClock(t, m)
	// The gap fill reads statuses 10 to 47 (one page short of 40), the
	// stream then sends 20 to 47 again.
	got := collectUntil(t, m, "28 duplicates dropped", func() bool {
		return testutil.ToFloat64(m.Metrics.messages.WithLabelValues("duplicate")) == 28
	})
	checkMastodonPosts(t, got, want)
	wantQuery := "/api/v1/timelines/public?" + url.Values{"min_id": {f.StatusID(9)}, "limit": {"40"}}.Encode()
	if got := f.Timelines(); !slices.Equal(got, []string{wantQuery}) {
		t.Errorf("timeline requests %q, want [%s]", got, wantQuery)
	}
	if len(f.Streams()) != 2 {
		t.Errorf("stream requests %q, want 2", f.Streams())
	}
}

func TestMastodonHeartbeatsKeepTheStreamAliveAndSilenceDropsIt(t *testing.T) {
	statuses, want := mastodonStatuses(t)
	f := livefake.NewMastodon(t, mastodonToken, statuses, livefake.MastodonConn{Statuses: span(0, 5)})
	m, _ := newMastodon(f)
	m.Stall = time.Minute
	clock, _ := onMastodonClock(t, m)
	c, wait := collectInBackground(t, m, len(want))

	systest.Await(t, "five posts", time.Minute, func() bool { return len(c.ids()) == 5 })
	// The watchdog's timer was set before the connection was dialled.
	clock.Advance(50 * time.Second)
	f.Send(livefake.Heartbeat)
	systest.Await(t, "the heartbeat", time.Minute, func() bool { return testutil.ToFloat64(m.Metrics.messages.WithLabelValues("keep-alive")) == 2 })
	// A minute after the connection opened, but only 50 s after the
	// heartbeat: the watchdog waits on.
	clock.Advance(50 * time.Second)
	clock.awaitTimers(t, 1)
	if testutil.ToFloat64(m.Metrics.stalls) != 0 || len(f.Streams()) != 1 {
		t.Fatal("a stream with heartbeats was taken for stalled")
	}
	clock.Advance(10 * time.Second)
	wait()
	checkMastodonPosts(t, c.posts, want)
	if got := testutil.ToFloat64(m.Metrics.stalls); got != 1 {
		t.Errorf("%v stalls, want 1", got)
	}
	// The gap after status 4 is filled in two pages: 5 to 44, then 45 to 47.
	if got := f.Timelines(); len(got) != 2 || !strings.Contains(got[0], "min_id="+f.StatusID(4)) || !strings.Contains(got[1], "min_id="+f.StatusID(44)) {
		t.Errorf("timeline requests %q", got)
	}
}

func sseUpdates(statuses [][]byte) []livefake.SSE {
	var out []livefake.SSE
	for _, s := range statuses {
		out = append(out, livefake.SSE{Name: "update", Data: string(s)})
	}
	return out
}

func TestMastodonHashtagStreamsReadOneConnectionPerTag(t *testing.T) {
	statuses, _ := mastodonStatuses(t)
	f := livefake.NewMastodon(t, mastodonToken, statuses,
		livefake.MastodonConn{Statuses: span(0, 3)}, livefake.MastodonConn{Statuses: span(2, 5)})
	m, _ := newMastodon(f)
	m.Stream, m.Tags = "hashtag", []string{"caturday", "日本語"}
	posts := collect(t, m, 5)
	streams := f.Streams()
	slices.Sort(streams)
	if want := []string{"/api/v1/streaming/hashtag?tag=%E6%97%A5%E6%9C%AC%E8%AA%9E", "/api/v1/streaming/hashtag?tag=caturday"}; !slices.Equal(streams, want) {
		t.Errorf("streams %q, want %q", streams, want)
	}
	if ids := ids(posts); len(ids) != 5 || len(slices.Compact(slices.Sorted(slices.Values(ids)))) != 5 {
		t.Errorf("posts %q: a status on two tags must count once", ids)
	}
}

func TestMastodonFillsAHashtagStreamsGapFromItsTagTimeline(t *testing.T) {
	var statuses [][]byte
	for i, tags := range []string{`[{"name":"caturday"}]`, `[{"name":"dogs"}]`, `[{"name":"Caturday"}]`, `[{"name":"caturday"},{"name":"cats"}]`} {
		statuses = append(statuses, []byte(`{"id":"11300000000000000`+string(rune('0'+i))+`","uri":"https://cats.example/statuses/`+string(rune('a'+i))+
			`","created_at":"2026-03-14T09:30:00.000Z","content":"<p>cat</p>","account":{"acct":"tom"},"tags":`+tags+`}`))
	}
	f := livefake.NewMastodon(t, mastodonToken, statuses, livefake.MastodonConn{Statuses: []int{0}, Close: true})
	m, _ := newMastodon(f)
	m.Stream, m.Tags = "hashtag", []string{"caturday"}
	onMastodonClock(t, m)
	posts := collect(t, m, 3)
	if got, want := ids(posts), []string{"https://cats.example/statuses/a", "https://cats.example/statuses/c", "https://cats.example/statuses/d"}; !slices.Equal(got, want) {
		t.Errorf("posts %q, want %q", got, want)
	}
	want := "/api/v1/timelines/tag/caturday?" + url.Values{"min_id": {f.StatusID(0)}, "limit": {"40"}}.Encode()
	if got := f.Timelines(); !slices.Equal(got, []string{want}) {
		t.Errorf("timeline requests %q, want [%s]", got, want)
	}
}

func TestMastodonValidate(t *testing.T) {
	tok := map[string]string{"INGEST_MASTODON_TOKEN": "t"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"INGEST_MASTODON_TOKEN": "t"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	checkValidate(t, "mastodon", []validateCase{
		{"a token is enough for the public stream of mastodon.social", tok, ""},
		{"the local stream of another instance", with("INGEST_MASTODON_URL", "https://fosstodon.org", "INGEST_MASTODON_STREAM", "public:local"), ""},
		{"hashtag streams with tags", with("INGEST_MASTODON_STREAM", "hashtag", "INGEST_MASTODON_TAGS", "#caturday,golang"), ""},
		{"no token", map[string]string{}, "INGEST_MASTODON_TOKEN"},
		{"a URL without a scheme", with("INGEST_MASTODON_URL", "mastodon.social"), "INGEST_MASTODON_URL"},
		{"a streaming URL without a scheme", with("INGEST_MASTODON_STREAMING_URL", "streaming.mastodon.social"), "INGEST_MASTODON_STREAMING_URL"},
		{"an unknown stream", with("INGEST_MASTODON_STREAM", "user"), "INGEST_MASTODON_STREAM"},
		{"the hashtag stream without tags", with("INGEST_MASTODON_STREAM", "hashtag"), "INGEST_MASTODON_TAGS"},
		{"a zero stall", with("INGEST_MASTODON_STALL", "0s"), "INGEST_MASTODON_STALL"},
		{"negative gap pages", with("INGEST_MASTODON_GAP_PAGES", "-1"), "INGEST_MASTODON_GAP_PAGES"},
		{"a backfill of 6h20m in at most 100 pages", with("INGEST_MASTODON_BACKFILL", "6h20m", "INGEST_MASTODON_BACKFILL_PAGES", "100"), ""},
		{"a negative backfill", with("INGEST_MASTODON_BACKFILL", "-1h"), "INGEST_MASTODON_BACKFILL"},
		{"a backfill of no page", with("INGEST_MASTODON_BACKFILL", "1h", "INGEST_MASTODON_BACKFILL_PAGES", "0"), "INGEST_MASTODON_BACKFILL_PAGES"},
	})
}

func TestRateWindowLetsNRequestsThroughPerWindow(t *testing.T) {
	clock := newTestClock()
	w := &rateWindow{n: 3, per: 5 * time.Minute, clock: clock}
	for i := range 3 {
		if err := w.wait(t.Context()); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		clock.Advance(time.Minute)
	}
	fourth := make(chan error, 1)
	go func() { fourth <- w.wait(t.Context()) }()
	clock.awaitTimers(t, 1)
	select {
	case err := <-fourth:
		t.Fatalf("a fourth request within 5 minutes went through (%v)", err)
	default:
	}
	// The first request was at 0; now is 3 min: the fourth waits 2 min.
	clock.Advance(2*time.Minute - time.Second)
	clock.awaitTimers(t, 1)
	clock.Advance(time.Second)
	if err := <-fourth; err != nil {
		t.Fatal(err)
	}
}

func TestSSEReaderReadsMastodonsRecordedStreams(t *testing.T) {
	cassette := systest.SharedCassette(t, "mastodon", "mastodonpy-stream-sse.yaml")
	got := map[string][]string{}
	for _, in := range cassette {
		if !strings.Contains(in.URI, "/streaming/") {
			continue
		}
		r := newSSEReader(strings.NewReader(in.Body), 1<<20)
		for {
			ev, err := r.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", in.URI, err)
			}
			name := ev.name
			if ev.comment {
				name = ":" + string(ev.data)
			} else if _, err := wire.DecodeMastodon(ev.name, ev.data); err != nil {
				t.Errorf("%s: %s event: %v", in.URI, ev.name, err)
			}
			got[in.URI] = append(got[in.URI], name)
		}
	}
	want := map[string][]string{
		"http://localhost:4000/api/v1/streaming/user":   {":)", "update", "notification", "update", "notification", "status.update", "delete", ":"},
		"http://localhost:4000/api/v1/streaming/direct": {":)", "conversation", "conversation", ":"},
	}
	for uri, names := range want {
		if !slices.Equal(got[uri][:min(len(got[uri]), len(names))], names) {
			t.Errorf("%s: events %q, want %q", uri, got[uri], names)
		}
	}
}

func TestMastodonBacksOffWhenConnectionsCloseWithoutAnEventAndStartsOverAfterOne(t *testing.T) {
	statuses, _ := mastodonStatuses(t)
	f := livefake.NewMastodon(t, mastodonToken, statuses,
		livefake.MastodonConn{Close: true}, // the greeting only
		livefake.MastodonConn{Events: []livefake.SSE{livefake.Heartbeat}, Close: true},
		livefake.MastodonConn{Statuses: []int{0}, Close: true},
		livefake.MastodonConn{Status: 503},
	)
	m, _ := newMastodon(f)
	m.GapPages = 0
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, w := onMastodonClock(t, m)
	w.stopAfter(4, cancel)
	runFor(t, ctx, m, (&collector{}).emit)
	if got, want := w.Waits(), []time.Duration{250 * ms, 500 * ms, 250 * ms, 250 * ms}; !slices.Equal(got, want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
}

func TestMastodonWithoutAStreamingAPIAtTheURLSaysWhichVariableToSet(t *testing.T) {
	f := livefake.NewMastodon(t, mastodonToken, nil)
	m, logs := newMastodon(f)
	m.StreamingURL = f.URL + "/elsewhere"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, w := onMastodonClock(t, m)
	w.stopAfter(1, cancel)
	runFor(t, ctx, m, (&collector{}).emit)
	if !strings.Contains(logs.String(), "404") || !strings.Contains(logs.String(), "INGEST_MASTODON_STREAMING_URL") {
		t.Errorf("the log does not point to the setting:\n%s", logs.String())
	}
}

// timelineStatuses are n statuses of a few accounts, the i-th created at
// t0 + i seconds, with the id Mastodon gives a status created then (the
// milliseconds since the epoch shifted left by 16 bits, a sequence in
// the low bits), from the first-th on. It returns them and their ids and
// URIs, in id order.
func timelineStatuses(t0 time.Time, first, n int) (raw [][]byte, localIDs, uris []string) {
	for i := first; i < first+n; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		id := fmt.Sprint(uint64(at.UnixMilli())<<16 + uint64(i))
		uri := fmt.Sprintf("https://example.social/users/u%d/statuses/%s", i%7, id)
		raw = append(raw, []byte(fmt.Sprintf(`{"id":%q,"uri":%q,"created_at":%q,"content":"<p>post %d #tag%d</p>","language":"en","account":{"acct":"u%d"},"tags":[{"name":"tag%d"}]}`,
			id, uri, at.UTC().Format("2006-01-02T15:04:05.000Z"), i, i%5, i%7, i%5)))
		localIDs, uris = append(localIDs, id), append(uris, uri)
	}
	return raw, localIDs, uris
}

// passResets moves clock on to each rate-limit reset a source waits for:
// a timer due at the start of a period (the fake's periods are aligned
// to the epoch). It returns how many it passed so far.
func passResets(t *testing.T, clock *testClock, period time.Duration) (passed func() int) {
	var mu sync.Mutex
	n := 0
	ctx := t.Context()
	go func() {
		for armed := clock.armed(); ; armed = clock.armed() {
			select {
			case <-ctx.Done():
				return
			case <-armed:
			}
			clock.mu.Lock()
			var next time.Time
			for _, tm := range clock.timers {
				if tm.at.After(clock.now) && tm.at.Truncate(period).Equal(tm.at) {
					next = tm.at
				}
			}
			d := next.Sub(clock.now)
			clock.mu.Unlock()
			if !next.IsZero() {
				mu.Lock()
				n++
				mu.Unlock()
				clock.Advance(d)
			}
		}
	}()
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// backfillCase is a fake Mastodon whose public timeline holds 120
// statuses, one a second, up to a second before now, and whose stream
// sends again the last 10 and then 10 statuses the timeline does not
// hold, live.
type backfillCase struct {
	f     *livefake.Mastodon
	m     *Mastodon
	logs  *systest.Buffer
	clock *testClock
	now   time.Time
	ids   []string // local ids: the timeline's, then the live ones
	uris  []string // the same statuses' URIs
}

const (
	timelineHeld = 120
	liveOnly     = 10 // and as many streamed again
	ratePeriod   = 5 * time.Minute
)

func newBackfillCase(t *testing.T) *backfillCase {
	// A period of the rate limit starts 100 s before now.
	start := time.Unix(1_700_000_100, 0)
	if !start.Truncate(ratePeriod).Equal(start) {
		t.Fatal("not the start of a period")
	}
	now := start.Add(100 * time.Second)
	t0 := now.Add(-timelineHeld * time.Second)
	held, ids, uris := timelineStatuses(t0, 0, timelineHeld)
	live, liveIDs, liveURIs := timelineStatuses(t0, timelineHeld, liveOnly)
	f := livefake.NewMastodon(t, mastodonToken, held, livefake.MastodonConn{
		Statuses: span(timelineHeld-liveOnly, timelineHeld), // sent again
		Events:   sseUpdates(live),
	})
	m, logs := newMastodon(f)
	clock := newTestClockAt(now)
	m.Clock = clock
	m.BackfillPages = 300
	return &backfillCase{f: f, m: m, logs: logs, clock: clock, now: now,
		ids: append(ids, liveIDs...), uris: append(uris, liveURIs...)}
}

// run runs the source until it has read the last live status and the
// repeats, and returns what it emitted.
func (bc *backfillCase) run(t *testing.T) *collector {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := &collector{}
	wait := runInBackground(t, ctx, bc.m, c.emit)
	last := bc.ids[len(bc.ids)-1]
	systest.Await(t, "the last live status and the repeats", time.Minute, func() bool {
		return bc.m.newestSeen("public") == last &&
			testutil.ToFloat64(bc.m.Metrics.messages.WithLabelValues("duplicate")) == liveOnly
	})
	cancel()
	wait()
	return c
}

// checkAscending checks that the positions emitted name ever newer
// statuses of the public feed.
func checkAscending(t *testing.T, c *collector) {
	t.Helper()
	prev := ""
	for i, at := range c.at {
		pos, ok := at.(MastodonPosition)
		if !ok || pos.Newest["public"] == "" {
			t.Fatalf("post %d emitted with position %#v", i+1, at)
		}
		if !newerID(pos.Newest["public"], prev) {
			t.Fatalf("post %d: position %s after %s", i+1, pos.Newest["public"], prev)
		}
		prev = pos.Newest["public"]
	}
}

func TestAMastodonFirstStartBackfillsOldestFirstWithinTheRateLimitAndJoinsTheStreamOnce(t *testing.T) {
	bc := newBackfillCase(t)
	bc.f.RateLimit(2, ratePeriod, bc.clock.Now)
	resets := passResets(t, bc.clock, ratePeriod)
	const back = 100 * time.Second
	bc.m.Backfill = back
	c := bc.run(t)

	// Every status from 100 s before now on, the live ones after them,
	// each once, oldest first.
	from := bc.now.Add(-back)
	var want []string
	for i, uri := range bc.uris {
		if i >= timelineHeld || !bc.now.Add(time.Duration(i-timelineHeld)*time.Second).Before(from) {
			want = append(want, uri)
		}
	}
	if got := c.ids(); !slices.Equal(got, want) {
		t.Fatalf("posts\n got %q\nwant %q", got, want)
	}
	if len(want) >= len(bc.uris) {
		t.Fatal("no status before the backfill's start: the test proves nothing")
	}
	checkAscending(t, c)

	// The newest page first (how busy the timeline is), then pages from
	// the id of 100 s ago on, each after the newest of the one before,
	// then the gap fill of the first connection.
	reqs := bc.f.Timelines()
	var minIDs []string
	for _, r := range reqs {
		u, err := url.Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		minIDs = append(minIDs, u.Query().Get("min_id"))
	}
	startID := strconv.FormatUint(uint64(from.UnixMilli())<<16, 10)
	if len(minIDs) < 3 || minIDs[0] != "" || minIDs[1] != startID {
		t.Fatalf("timeline requests %q: want the newest page, then min_id=%s", reqs, startID)
	}
	for i := 2; i < len(minIDs); i++ {
		if !newerID(minIDs[i], minIDs[i-1]) {
			t.Fatalf("timeline requests %q: not oldest first", reqs)
		}
	}
	if minIDs[len(minIDs)-1] != bc.ids[timelineHeld-1] {
		t.Errorf("timeline requests %q: the last one is not the join's, after %s", reqs, bc.ids[timelineHeld-1])
	}
	// Within the fake's 2 requests per 5 minutes: no refusal, and the
	// source waited for the resets.
	if n := bc.f.Refused(); n != 0 {
		t.Errorf("%d timeline requests refused by the rate limit", n)
	}
	if want := (len(reqs) - 1) / 2; resets() != want {
		t.Errorf("%d resets waited for, want %d for %d requests", resets(), want, len(reqs))
	}
}

func TestAMastodonBackfillThatItsPagesCannotReachStartsLaterAndReachesNow(t *testing.T) {
	bc := newBackfillCase(t)
	bc.m.Backfill, bc.m.BackfillPages = 100*time.Second, 1
	c := bc.run(t)

	// One page of 40 a second apart holds 40 s: the backfill is the
	// newest statuses, up to the last the timeline holds, then the live
	// ones.
	got := c.ids()
	first := slices.Index(bc.uris, got[0])
	if first < 0 || !slices.Equal(got, bc.uris[first:]) {
		t.Fatalf("posts %q: not the newest statuses in order", got)
	}
	if n := timelineHeld - first; n > mastodonPage || n < mastodonPage/2 {
		t.Errorf("%d statuses backfilled, want one page's worth at most and more than half of it", n)
	}
	if !strings.Contains(bc.logs.String(), "backfill shortened") {
		t.Errorf("the log does not say the backfill was shortened:\n%s", bc.logs.String())
	}
	checkAscending(t, c)
}

func TestAMastodonResumedFromACommittedPositionFillsItsGapInsteadOfBackfilling(t *testing.T) {
	bc := newBackfillCase(t)
	bc.m.Backfill = time.Hour
	const k = 99
	raw, err := json.Marshal(MastodonPosition{Newest: map[string]string{"public": bc.ids[k]}})
	if err != nil {
		t.Fatal(err)
	}
	if err := bc.m.Resume(raw); err != nil {
		t.Fatal(err)
	}
	c := bc.run(t)
	if got, want := c.ids(), bc.uris[k+1:]; !slices.Equal(got, want) {
		t.Fatalf("posts\n got %q\nwant %q", got, want)
	}
	want := "/api/v1/timelines/public?" + url.Values{"limit": {"40"}, "min_id": {bc.ids[k]}}.Encode()
	if got := bc.f.Timelines(); !slices.Equal(got, []string{want}) {
		t.Errorf("timeline requests %q, want the gap fill from the position only: %s", got, want)
	}
	if strings.Contains(bc.logs.String(), "backfilling") {
		t.Errorf("a resumed start backfilled:\n%s", bc.logs.String())
	}
}

func TestAMastodonPositionForAnotherInputIsRefused(t *testing.T) {
	m := &Mastodon{Stream: "hashtag", Tags: []string{"caturday"}}
	for _, at := range []string{
		`{"newest":{"hashtag:caturday":"113000000000000001"}}`,
		`{"newest":{"public":"113000000000000001"}}`,
		`{"newest":{"hashtag:caturday":"abc"}}`,
		`{"newest":{}}`,
		`{"time_us":1}`,
		`not json`,
	} {
		err := m.Resume(json.RawMessage(at))
		if ok := at == `{"newest":{"hashtag:caturday":"113000000000000001"}}`; ok != (err == nil) {
			t.Errorf("Resume(%s): %v", at, err)
		}
	}
}

func TestRateWindowWaitsForTheResetTheInstanceAnnounces(t *testing.T) {
	for _, tt := range []struct {
		name   string
		header http.Header
		status int
		wait   time.Duration
	}{
		{"no request left until the reset", http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"2023-11-14T22:15:00.000000Z"}}, 200, 100 * time.Second},
		{"refused, with a reset", http.Header{"X-Ratelimit-Remaining": {"3"}, "X-Ratelimit-Reset": {"2023-11-14T22:14:00.000000Z"}}, 429, 40 * time.Second},
		{"refused without a reset: a minute", nil, 429, time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock() // 2023-11-14T22:13:20Z
			w := &rateWindow{n: 300, per: 5 * time.Minute, clock: clock}
			w.observe(tt.header, tt.status)
			done := make(chan error, 1)
			go func() { done <- w.wait(t.Context()) }()
			clock.awaitTimers(t, 1)
			clock.Advance(tt.wait - time.Second)
			clock.awaitTimers(t, 1)
			select {
			case err := <-done:
				t.Fatalf("a request went before the reset (%v)", err)
			default:
			}
			clock.Advance(time.Second)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}
