package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/services/printer/internal/web"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// snap is batch n of a made-up run, with the given display spellings on top
// (counts falling from 100).
func snap(n int64, tags ...string) snapshot.Snapshot {
	s := snapshot.Snapshot{
		Batch: n, WindowStart: t0.Add(time.Duration(n) * 2 * time.Second), WindowEnd: t0.Add(time.Duration(n+1) * 2 * time.Second),
		Posts: 10 * n, PostsWithTags: 5 * n, DistinctHashtags: int64(len(tags)), ProducedAt: time.Now(),
	}
	for i, tag := range tags {
		s.Top = append(s.Top, snapshot.Entry{Rank: i + 1, Hashtag: tag, Key: strings.ToLower(tag), Count: int64(100 - i)})
	}
	return s
}

type site struct {
	hub *web.Hub
	srv *web.Server
	url string
	reg *prometheus.Registry
}

func newSite(t *testing.T, srv *web.Server) *site {
	t.Helper()
	if srv.Hub == nil {
		srv.Hub = web.NewHub(30)
	}
	reg := prometheus.NewRegistry()
	srv.Register(reg)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &site{hub: srv.Hub, srv: srv, url: ts.URL, reg: reg}
}

// event is one server-sent event as the browser parses it, with the raw
// lines it came in.
type event struct {
	name, id, data, retry string
	lines                 []string
}

// stream reads the event stream of one page. events is closed when the
// stream ends, with the reason in err.
type stream struct {
	events chan event
	err    error
	resp   *http.Response
	cancel context.CancelFunc
}

func open(t *testing.T, url string) *stream {
	t.Helper()
	return openEvents(t, url+"/events")
}

// openFacet opens the event stream of a page showing facet name.
func openFacet(t *testing.T, site, name string) *stream {
	t.Helper()
	return openEvents(t, site+"/events?facet="+url.QueryEscape(name))
}

func openEvents(t *testing.T, url string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("/events: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	s := &stream{events: make(chan event, 100), resp: resp, cancel: cancel}
	go s.read(bufio.NewReader(resp.Body))
	t.Cleanup(s.close)
	return s
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
}

func (s *stream) read(r *bufio.Reader) {
	var ev event
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			s.err = err
			close(s.events)
			return
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			s.events <- ev
			ev = event{}
			continue
		}
		ev.lines = append(ev.lines, line)
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.name = value
		case "id":
			ev.id = value
		case "data":
			if ev.data != "" {
				ev.data += "\n"
			}
			ev.data += value
		case "retry":
			ev.retry = value
		}
	}
}

// next returns the next event named name, skipping others.
func (s *stream) next(t *testing.T, name string) event {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("stream ended waiting for a %s event: %v", name, s.err)
			}
			if ev.name == name {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event within 30 s", name)
		}
	}
}

func view(t *testing.T, ev event) web.View {
	t.Helper()
	var v web.View
	if err := json.Unmarshal([]byte(ev.data), &v); err != nil {
		t.Fatalf("snapshot event data %q: %v", ev.data, err)
	}
	return v
}

func TestTheStreamSendsRetryStatusAndTheLatestSnapshotAsFramedEvents(t *testing.T) {
	s := newSite(t, &web.Server{})
	s.hub.Publish(snap(7, "Kafka", "Go"))
	st := open(t, s.url)

	first := <-st.events
	if first.retry != "2000" || len(first.lines) != 1 {
		t.Fatalf("first event %q, want only a retry field", first.lines)
	}
	status := st.next(t, "status")
	if !regexp.MustCompile(`^\{"ready":true,"age_ms":\d+\}$`).MatchString(status.data) {
		t.Fatalf("status data %q", status.data)
	}
	ev := st.next(t, "snapshot")
	if ev.id != "7" || len(ev.lines) != 3 || !strings.HasPrefix(ev.lines[2], "data: {") {
		t.Fatalf("snapshot event lines %q, want event, id 7 and one data line", ev.lines)
	}
	v := view(t, ev)
	if v.Snapshot.Batch != 7 || len(v.Snapshot.Top) != 2 || v.Snapshot.Top[0].Hashtag != "Kafka" || v.StaleAfterMS != 6000 {
		t.Fatalf("view %+v", v)
	}
	if v.AgeMS < 0 || v.AgeMS > 30_000 {
		t.Fatalf("age %d ms of a snapshot just published", v.AgeMS)
	}

	s.hub.Publish(snap(8, "Kafka", "Go"))
	if ev := st.next(t, "snapshot"); ev.id != "8" || view(t, ev).Snapshot.Top[0].Count != 100 {
		t.Fatalf("second snapshot event %q", ev.lines)
	}
}

func TestEveryOpenPageGetsEachSnapshot(t *testing.T) {
	s := newSite(t, &web.Server{})
	var pages []*stream
	for range 5 {
		pages = append(pages, open(t, s.url))
	}
	systest.Await(t, "5 pages", 30*time.Second, func() bool { return s.hub.Pages() == 5 })
	s.hub.Publish(snap(3, "a"))
	for i, p := range pages {
		if ev := p.next(t, "snapshot"); ev.id != "3" {
			t.Fatalf("page %d got batch %s, want 3", i, ev.id)
		}
	}
}

func TestAPISnapshotAnswersTheLatestSnapshotInTheTopicSchema(t *testing.T) {
	s := newSite(t, &web.Server{})
	resp, body := systest.Get(t, s.url+"/api/snapshot")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "no snapshot yet") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("before any snapshot: %s %q", resp.Status, body)
	}
	s.hub.Publish(snap(4, "old"))
	s.hub.Publish(snap(5, "SMTOWN_LIVE", "EXO"))
	resp, body = systest.Get(t, s.url+"/api/snapshot")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("/api/snapshot: %s %v", resp.Status, resp.Header)
	}
	got, err := snapshot.Decode([]byte(body))
	if err != nil {
		t.Fatalf("not a snapshot: %v\n%s", err, body)
	}
	if got.Batch != 5 || len(got.Top) != 2 || got.Top[1].Hashtag != "EXO" || got.Posts != 50 || !got.WindowStart.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("got %+v", got)
	}
}

func facetLists(name string, batch int64, tags ...string) snapshot.Facet {
	f := snapshot.Facet{V: snapshot.FacetVersion, Facet: name, Batch: batch, WindowEnd: t0.Add(time.Duration(batch) * 2 * time.Second)}
	for i, tag := range tags {
		f.Top = append(f.Top, snapshot.Count{Hashtag: tag, Count: int64(100 - i)})
	}
	return f
}

func TestAPageGetsTheListsOfTheFacetItPicked(t *testing.T) {
	s := newSite(t, &web.Server{})
	s.hub.Publish(snap(7, "Kafka"))
	s.hub.PublishFacet(facetLists("lang:ja", 7, "雪", "桜"))
	s.hub.PublishFacet(facetLists("source:bluesky", 6, "Kafka"))

	ja := openFacet(t, s.url, "lang:ja")
	v := view(t, ja.next(t, "snapshot"))
	if v.Snapshot.Batch != 7 || v.Facet == nil || v.Facet.Name != "lang:ja" || v.Facet.Lists == nil || len(v.Facet.Lists.Top) != 2 || v.Facet.Lists.Top[1].Hashtag != "桜" {
		t.Fatalf("lang:ja's page got %+v", v)
	}
	if len(v.Facets) != 2 || v.Facets[0].Name != "source:bluesky" || v.Facets[1].Name != "lang:ja" || v.Facets[1].Language != "ja" {
		t.Fatalf("the picker's facets: %+v", v.Facets)
	}
	s.hub.PublishFacet(facetLists("lang:ja", 8, "桜"))
	if v := view(t, ja.next(t, "snapshot")); v.Facet.Lists.Batch != 8 || v.Facet.Lists.Top[0].Hashtag != "桜" {
		t.Fatalf("lang:ja's new lists: %+v", v.Facet.Lists)
	}

	all := open(t, s.url)
	if v := view(t, all.next(t, "snapshot")); v.Facet != nil || len(v.Facets) != 2 {
		t.Fatalf("a page without a facet got %+v", v)
	}
	none := openFacet(t, s.url, "source:x/lang:ja")
	if v := view(t, none.next(t, "snapshot")); v.Facet == nil || v.Facet.Name != "source:x/lang:ja" || v.Facet.Lists != nil {
		t.Fatalf("a facet without lists: %+v", v.Facet)
	}
	for _, bad := range []string{"lang:xx", "lang:JA", "source:blusky", ""} {
		resp, body := systest.Get(t, s.url+"/events?facet="+url.QueryEscape(bad))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "is not a facet") {
			t.Errorf("/events?facet=%q: %s %q", bad, resp.Status, body)
		}
	}
}

func TestAPIFacetAnswersAFacetsListsInTheTopicSchema(t *testing.T) {
	s := newSite(t, &web.Server{})
	want := facetLists("source:bluesky/lang:ja", 9, "雪", "桜")
	wm := t0
	want.Trending = []snapshot.Trend{{Rank: 1, Hashtag: "雪", Key: "雪", Score: 40, Observed: 9, Expected: 1, Count: 12, Status: snapshot.Rising, Since: &wm}}
	want.Watermark = &wm
	s.hub.PublishFacet(want)
	resp, body := systest.Get(t, s.url+"/api/facet?name="+url.QueryEscape(want.Facet))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/api/facet: %s %q", resp.Status, body)
	}
	got, ok, err := snapshot.DecodeFacet([]byte(want.Facet), []byte(strings.TrimSpace(body)))
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("/api/facet answered %s (%v, %v), want %+v", body, ok, err, want)
	}
	for q, status := range map[string]int{"lang:de": 404, "lang:xx": 400, "all": 400, "": 400} {
		resp, body := systest.Get(t, s.url+"/api/facet?name="+url.QueryEscape(q))
		if resp.StatusCode != status || !strings.HasPrefix(body, `{"error":"`) {
			t.Errorf("/api/facet?name=%q: %s %q, want %d", q, resp.Status, body, status)
		}
	}
	s.hub.RemoveFacet(want.Facet)
	if resp, _ := systest.Get(t, s.url+"/api/facet?name="+url.QueryEscape(want.Facet)); resp.StatusCode != 404 {
		t.Fatalf("/api/facet after the facet's tombstone: %s", resp.Status)
	}
}

var hostile = []string{
	`<script>alert(1)</script>`,
	`"><img src=x onerror=alert(1)>`,
	`it's "quoted" & 'single'`,
	"\u202Egnp.exe",           // right-to-left override
	"שלום\u2066abc\u2069",     // Hebrew with an isolate
	"مرحبا_بالعالم",           // Arabic
	"東京オリンピック",                // wide characters
	"line\u2028separator",     // a JavaScript line terminator
	"👩‍👩‍👧‍👦family",           // an emoji sequence
	"</script><!--",           // closing markup
	`\u003cescaped\u003e`,     // looks like an escape already
	"nul\x00byte and \x1b[2J", // control characters
}

func TestHostileSpellingsTravelAsDataAndComeBackExactly(t *testing.T) {
	s := newSite(t, &web.Server{})
	s.hub.Publish(snap(1, hostile...))
	// A facet's lists with the same spellings on top and trending, and in
	// a trend's reason the names of networks and languages as they come.
	f := facetLists("lang:ja", 1, hostile...)
	wm := t0
	for i, tag := range hostile {
		f.Trending = append(f.Trending, snapshot.Trend{Rank: i + 1, Hashtag: tag, Key: tag, Score: 30, Observed: 6, Expected: 1, Count: 6,
			Status: snapshot.Rising, Since: &wm, Reason: &snapshot.Reason{Covered: 6,
				Sources: []snapshot.Share{{Name: tag, Posts: 6}}, Langs: []snapshot.Share{{Name: tag, Posts: 6}},
				Started: []snapshot.Start{{Network: tag, Since: wm}}}})
	}
	f.Watermark = &wm
	s.hub.PublishFacet(f)

	_, api := systest.Get(t, s.url+"/api/snapshot")
	api = strings.TrimSuffix(api, "\n")
	_, apiFacet := systest.Get(t, s.url+"/api/facet?name=lang:ja")
	apiFacet = strings.TrimSuffix(apiFacet, "\n")
	ev := open(t, s.url).next(t, "snapshot")
	evFacet := openFacet(t, s.url, "lang:ja").next(t, "snapshot")
	for name, raw := range map[string]string{"/api/snapshot": api, "the snapshot event": ev.data, "/api/facet": apiFacet, "the facet page's event": evFacet.data} {
		if strings.ContainsAny(raw, "<>&\u2028") || strings.Contains(raw, "\n") {
			t.Errorf("%s carries markup characters or a line break unescaped:\n%s", name, raw)
		}
	}
	fromAPI, err := snapshot.Decode([]byte(api))
	if err != nil {
		t.Fatal(err)
	}
	fromFacetAPI, ok, err := snapshot.DecodeFacet([]byte("lang:ja"), []byte(apiFacet))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	fromEvent := view(t, ev).Snapshot
	fromFacetEvent := view(t, evFacet).Facet.Lists
	for i, want := range hostile {
		if fromAPI.Top[i].Hashtag != want || fromEvent.Top[i].Hashtag != want {
			t.Errorf("spelling %d: api %q, event %q, want %q", i, fromAPI.Top[i].Hashtag, fromEvent.Top[i].Hashtag, want)
		}
		for name, l := range map[string]*snapshot.Facet{"/api/facet": &fromFacetAPI, "the facet page's event": fromFacetEvent} {
			r := l.Trending[i].Reason
			if l.Top[i].Hashtag != want || l.Trending[i].Hashtag != want || r.Sources[0].Name != want || r.Langs[0].Name != want || r.Started[0].Network != want {
				t.Errorf("spelling %d in %s: top %q, trending %q, reason %+v, want %q", i, name, l.Top[i].Hashtag, l.Trending[i].Hashtag, r, want)
			}
		}
	}
}

func TestThePageIsSelfContainedAndWritesDataOnlyAsText(t *testing.T) {
	s := newSite(t, &web.Server{})
	resp, html := systest.Get(t, s.url+"/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("Content-Security-Policy %q", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatal("no X-Content-Type-Options: nosniff")
	}
	assets := map[string]string{"index.html": html}
	for _, name := range []string{"app.js", "style.css"} {
		if !strings.Contains(html, `"`+name+`"`) {
			t.Errorf("the page does not load %s", name)
		}
		resp, body := systest.Get(t, s.url+"/"+name)
		if resp.StatusCode != 200 || len(body) < 100 {
			t.Fatalf("/%s: %s, %d bytes", name, resp.Status, len(body))
		}
		want := map[string]string{"app.js": "text/javascript", "style.css": "text/css"}[name]
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, want) {
			t.Errorf("%s served as %q, want %s", name, ct, want)
		}
		assets[name] = body
	}
	for name, body := range assets {
		body = strings.ReplaceAll(body, `"http://www.w3.org/2000/svg"`, "") // a name, not a load
		if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`).FindString(body); m != "" {
			t.Errorf("%s loads from elsewhere: %s", name, m)
		}
	}
	js := assets["app.js"]
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute(\"style\""} {
		if strings.Contains(js, sink) {
			t.Errorf("app.js uses %s, which parses strings as code or markup", sink)
		}
	}
	if !strings.Contains(js, "textContent") || !strings.Contains(js, `dir = "auto"`) || !strings.Contains(assets["index.html"], "<bdi class=\"tag\">") {
		t.Error("app.js does not write tags as text into isolated, direction-detecting elements")
	}
}

func TestHealthReadinessAndTheStatusEventFollowTheFollower(t *testing.T) {
	var waiting atomic.Bool
	waiting.Store(true)
	s := newSite(t, &web.Server{Heartbeat: 50 * time.Millisecond, Ready: func() error {
		if waiting.Load() {
			return errors.New("broker unreachable: all brokers down")
		}
		return nil
	}})
	if resp, _ := systest.Get(t, s.url+"/healthz"); resp.StatusCode != 200 {
		t.Fatalf("/healthz: %s", resp.Status)
	}
	if resp, body := systest.Get(t, s.url+"/readyz"); resp.StatusCode != 503 || !strings.Contains(body, "broker unreachable") {
		t.Fatalf("/readyz while waiting: %s %q", resp.Status, body)
	}
	st := open(t, s.url)
	if ev := st.next(t, "status"); ev.data != `{"ready":false,"reason":"broker unreachable: all brokers down"}` {
		t.Fatalf("status while waiting: %s", ev.data)
	}
	waiting.Store(false)
	if resp, _ := systest.Get(t, s.url+"/readyz"); resp.StatusCode != 200 {
		t.Fatalf("/readyz when following: %s", resp.Status)
	}
	for {
		if ev := st.next(t, "status"); ev.data == `{"ready":true}` {
			break
		}
	}
}

// tinyFirstBuffer makes the first accepted connection's send buffer small,
// so that a page that stops reading fills it with one frame.
type tinyFirstBuffer struct {
	net.Listener
	done atomic.Bool
}

func (l *tinyFirstBuffer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && !l.done.Swap(true) {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

func TestASlowPageIsDroppedWithoutHoldingUpPublishOrOtherPages(t *testing.T) {
	srv := &web.Server{Hub: web.NewHub(30), WriteTimeout: 2 * time.Second}
	reg := prometheus.NewRegistry()
	srv.Register(reg)
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Listener = &tinyFirstBuffer{Listener: ts.Listener}
	ts.Start()
	t.Cleanup(ts.Close)

	// The slow page asks for the stream first (it gets the small buffer)
	// and never reads a byte of it.
	slow, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	_ = slow.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(slow, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
	fast := open(t, ts.URL)
	systest.Await(t, "both pages", 30*time.Second, func() bool { return srv.Hub.Pages() == 2 })
	var seen atomic.Int64 // the newest batch the fast page got
	go func() {
		for ev := range fast.events {
			if ev.name == "snapshot" {
				var n int64
				fmt.Sscan(ev.id, &n)
				seen.Store(n)
			}
		}
	}()

	// Big snapshots (some 70 kB each), one after another: one fills the
	// slow page's buffers.
	tags := make([]string, 300)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag%04d_with_a_rather_long_spelling", i)
	}
	const last = 200
	published := make(chan struct{})
	go func() {
		defer close(published)
		for b := int64(1); b <= last; b++ {
			srv.Hub.Publish(snap(b, tags...))
		}
	}()
	select {
	case <-published:
	case <-time.After(30 * time.Second):
		t.Fatal("Publish blocked behind a page")
	}
	systest.Await(t, "the fast page to get the last snapshot", 30*time.Second, func() bool { return seen.Load() == last })
	systest.Await(t, "the slow page to be dropped", 30*time.Second, func() bool { return srv.Hub.Pages() == 1 })
	if n := metric(t, reg, "hashtrend_printer_web_pages_dropped_total"); n != 1 {
		t.Fatalf("dropped pages metric %v, want 1", n)
	}
	// The fast page goes on.
	srv.Hub.Publish(snap(last+1, "after"))
	systest.Await(t, "the fast page to go on", 30*time.Second, func() bool { return seen.Load() == last+1 })
}

// metric returns the value of the counter name in reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestClosedPagesLeaveNoGoroutineBehind(t *testing.T) {
	s := newSite(t, &web.Server{Heartbeat: time.Hour}) // only a closed page may end a stream
	s.hub.Publish(snap(1, "a"))
	// One page opened and closed first, so that whatever the HTTP client
	// and server keep for good is there before the count.
	warm := open(t, s.url)
	warm.next(t, "snapshot")
	warm.close()
	systest.Await(t, "the first page to leave", 30*time.Second, func() bool { return s.hub.Pages() == 0 })
	http.DefaultClient.CloseIdleConnections()
	before := runtime.NumGoroutine()

	var pages []*stream
	for range 20 {
		pages = append(pages, open(t, s.url))
	}
	for _, p := range pages {
		p.next(t, "snapshot")
	}
	if n := s.hub.Pages(); n != 20 {
		t.Fatalf("%d pages connected, want 20", n)
	}
	for _, p := range pages {
		p.close()
	}
	systest.Await(t, "every page to leave the hub", 30*time.Second, func() bool { return s.hub.Pages() == 0 })
	var now int
	systest.Await(t, "the goroutines to end", 30*time.Second, func() bool {
		http.DefaultClient.CloseIdleConnections()
		now = runtime.NumGoroutine()
		return now <= before
	})
}

func TestStoppingTheServerEndsOpenStreams(t *testing.T) {
	srv := &web.Server{Hub: web.NewHub(30)}
	addr, stop := systest.Serve(t, "Serve with a page open", srv.Serve)
	st := open(t, "http://"+addr)
	st.next(t, "status")
	stop()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case _, ok := <-st.events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the page's stream did not end")
		}
	}
}
