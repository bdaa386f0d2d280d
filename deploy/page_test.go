//go:build browser

package deploy_test

// The printer's live page in a real browser: headless Chromium, driven over
// the DevTools protocol, loads the page of the real printer binary. These
// tests need Debian's chromium package and start brokers and pipelines of
// their own, so they are not part of `make test`: `make page-test` installs
// what they need and runs them (go test -tags browser -run TestPage).

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "also write the live page's screenshot to docs/printer-page.png")

// browser opens a headless Chromium tab for the test, closed when it ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed (make page-test installs Debian's chromium package)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root in CI containers
		chromedp.WindowSize(1200, 900),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// shown is what the page shows, read from its DOM as a person sees it.
type shown struct {
	State      string     `json:"state"`
	Connection string     `json:"connection"`
	Status     string     `json:"status"`
	Batch      string     `json:"batch"`
	Posts      string     `json:"posts"`
	Rows       []row      `json:"rows"`
	TopNote    string     `json:"topNote"`
	Facet      string     `json:"facet"`     // the facet whose lists are shown ("" while they come)
	Networks   []string   `json:"networks"`  // the picker's networks, all networks ("") first
	Languages  []string   `json:"languages"` // and its languages
	Trending   []trendRow `json:"trending"`
	// TrendingState is off (the panel hidden), building, empty or listed;
	// TrendingNote the line under the panel's title.
	TrendingState string `json:"trendingState"`
	TrendingNote  string `json:"trendingNote"`
	Stayed        bool   `json:"stayed"` // the mark set on the page before a switch is still there: no reload
}

type row struct {
	Tag   string `json:"tag"`
	Count string `json:"count"`
}

type trendRow struct {
	Tag    string `json:"tag"`
	Status string `json:"status"` // the badge, "" when hidden
	Since  string `json:"since"`
	Score  string `json:"score"`
}

const readPage = `(() => ({
  state: document.body.dataset.state,
  connection: document.body.dataset.connection,
  status: document.getElementById("status").textContent,
  batch: document.getElementById("batch").textContent,
  posts: document.getElementById("posts").textContent,
  rows: [...document.querySelectorAll("#top li.row")].map((li) => ({
    tag: li.querySelector(".tag").textContent,
    count: li.querySelector(".count").textContent,
  })),
  topNote: document.getElementById("top-note").textContent,
  facet: document.body.dataset.shown,
  networks: [...document.getElementById("pick-network").options].map((o) => o.value),
  languages: [...document.getElementById("pick-language").options].map((o) => o.value),
  trending: document.getElementById("trending-panel").hidden ? [] :
    [...document.querySelectorAll("#trending li.row")].map((li) => {
      const badge = li.querySelector(".badge");
      return { tag: li.querySelector(".tag").textContent, status: badge.hidden ? "" : badge.textContent,
        since: li.querySelector(".since").textContent, score: li.querySelector(".score").textContent };
    }),
  trendingState: document.body.dataset.trending || "off",
  trendingNote: document.getElementById("trending-note").textContent,
  stayed: window.stayed === 1,
}))()`

func read(t *testing.T, ctx context.Context) shown {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[shown](readPage))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	return s
}

// waitShown polls the page until ok holds.
func waitShown(t *testing.T, ctx context.Context, what string, timeout time.Duration, ok func(shown) bool) shown {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := read(t, ctx)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not show %s within %s; it shows %+v", what, timeout, s)
		}
		time.Sleep(100 * time.Millisecond) // the page updates twice a second
	}
}

func number(s string) int64 {
	n, err := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// sameTop tells how the page's rows differ from a snapshot's top-N, or "".
func sameTop(s shown, snap snapshot.Snapshot) string {
	if len(s.Rows) != len(snap.Top) {
		return fmt.Sprintf("%d rows, the snapshot has %d", len(s.Rows), len(snap.Top))
	}
	for i, e := range snap.Top {
		if r := s.Rows[i]; r.Tag != "#"+e.Hashtag || number(r.Count) != e.Count {
			return fmt.Sprintf("row %d shows %s %s, the snapshot has #%s %d", i+1, r.Tag, r.Count, e.Hashtag, e.Count)
		}
	}
	return ""
}

// sameTrending tells how the page's trending rows differ from a list of
// trends (a snapshot's or a facet's), or "": the tag, the status, the
// since-time as the page writes it (hours and minutes in UTC) and the
// score the list is ordered by.
func sameTrending(s shown, trends []snapshot.Trend) string {
	if len(s.Trending) != len(trends) {
		return fmt.Sprintf("%d trending rows, the list has %d", len(s.Trending), len(trends))
	}
	for i, tr := range trends {
		r := s.Trending[i]
		since := ""
		if tr.Since != nil {
			layout := "15:04"
			if tr.Since.Second() != 0 {
				layout = "15:04:05"
			}
			since = "since " + tr.Since.UTC().Format(layout)
		}
		score, err := strconv.ParseFloat(strings.ReplaceAll(r.Score, ",", ""), 64)
		if r.Tag != "#"+tr.Hashtag || r.Status != tr.Status || r.Since != since || err != nil || math.Abs(score-max(tr.Score, tr.Decayed)) > 0.051 {
			return fmt.Sprintf("trending row %d shows %+v, the list has #%s %q %q score %.1f", i+1, r, tr.Hashtag, tr.Status, since, max(tr.Score, tr.Decayed))
		}
	}
	return ""
}

// sameFacetTop tells how the page's top rows differ from a facet's, or "".
func sameFacetTop(s shown, f snapshot.Facet) string {
	if len(s.Rows) != len(f.Top) {
		return fmt.Sprintf("%d rows, %s's lists of batch %d have %d", len(s.Rows), f.Facet, f.Batch, len(f.Top))
	}
	for i, c := range f.Top {
		if r := s.Rows[i]; r.Tag != "#"+c.Hashtag || number(r.Count) != c.Count {
			return fmt.Sprintf("row %d shows %s %s, %s's lists of batch %d have #%s %d", i+1, r.Tag, r.Count, f.Facet, f.Batch, c.Hashtag, c.Count)
		}
	}
	return ""
}

// facetRecords reads every record of the facets topic on brokers: each
// facet's lists in the order written, a tombstone ending a facet's run.
func facetRecords(t *testing.T, brokers, topic string) map[string][]snapshot.Facet {
	t.Helper()
	out := map[string][]snapshot.Facet{}
	for _, m := range kafkatest.ReadAllFrom(t, brokers, topic, time.Minute) {
		f, ok, err := snapshot.DecodeFacet(m.Key, m.Value)
		if err != nil {
			t.Fatalf("%s offset %v: %v", topic, m.TopicPartition.Offset, err)
		}
		if !ok {
			delete(out, string(m.Key))
			continue
		}
		out[f.Facet] = append(out[f.Facet], f)
	}
	return out
}

// pickable is what the picker should offer for the facets with lists:
// all ("") and each network a facet's name holds, all and each language,
// each sorted.
func pickable(facets map[string][]snapshot.Facet) (networks, languages []string) {
	nets, langs := map[string]bool{"": true}, map[string]bool{"": true}
	for name := range facets {
		n, l, _ := strings.Cut(name, "/")
		if l == "" && strings.HasPrefix(n, "lang:") {
			n, l = "", n
		}
		if n, ok := strings.CutPrefix(n, "source:"); ok {
			nets[n] = true
		}
		if l, ok := strings.CutPrefix(l, "lang:"); ok {
			langs[l] = true
		}
	}
	return slices.Sorted(maps.Keys(nets)), slices.Sorted(maps.Keys(langs))
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

var asOfBatch = regexp.MustCompile(`as of batch (\d+)`)

// pick sets the picker's selects as a person would, one change at a time.
func pick(t *testing.T, ctx context.Context, network, language string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
  for (const [id, value] of [["pick-network", %q], ["pick-language", %q]]) {
    const s = document.getElementById(id);
    if (s.value !== value) {
      s.value = value;
      s.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }
  return true;
})()`, network, language)))
	if err != nil {
		t.Fatalf("pick %q %q: %v", network, language, err)
	}
}

// checkFacet picks network and language on the page and waits until it
// shows the facet name's lists as the topic holds them: its top-N and its
// trending list (none when the record has none) of the batch the page
// says its lists are of, without a reload.
func checkFacet(t *testing.T, ctx context.Context, brokers, topic, network, language, name string) shown {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.stayed = 1`)); err != nil {
		t.Fatal(err)
	}
	pick(t, ctx, network, language)
	s := waitShown(t, ctx, name+"'s lists", time.Minute, func(s shown) bool {
		return s.Facet == name && len(s.Rows) > 0 && asOfBatch.MatchString(s.TopNote)
	})
	if !s.Stayed {
		t.Fatalf("switching to %s reloaded the page", name)
	}
	batch, _ := strconv.ParseInt(asOfBatch.FindStringSubmatch(s.TopNote)[1], 10, 64)
	var rec *snapshot.Facet
	for _, f := range facetRecords(t, brokers, topic)[name] {
		if f.Batch == batch {
			rec = &f
		}
	}
	if rec == nil {
		t.Fatalf("the page shows %s's lists of batch %d; the topic has no such record", name, batch)
	}
	if diff := sameFacetTop(s, *rec); diff != "" {
		t.Fatal(diff)
	}
	if diff := sameTrending(s, rec.Trending); diff != "" {
		t.Fatalf("%s batch %d: %s", name, batch, diff)
	}
	return s
}

func screenshot(t *testing.T, ctx context.Context, name string) []byte {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return png
}

func batchOf(t *testing.T, snaps []snapshot.Snapshot, batch int64) snapshot.Snapshot {
	t.Helper()
	for _, s := range snaps {
		if s.Batch == batch {
			return s
		}
	}
	t.Fatalf("no snapshot of batch %d in the topic", batch)
	return snapshot.Snapshot{}
}

// TestPageFollowsThePipelineAndShowsStaleWhileTheBrokerIsDown runs the
// whole pipeline (ingest on the synthetic workload with a few minutes of
// generated history, counter with a short trending horizon and trending
// lists per facet, two printers with their pages) on a broker of its own,
// checks that the page shows the top-N and the trending list of the latest
// snapshot in the topic, read independently, that its picker offers the
// workload's networks and languages as the facets topic has them and that
// picking a network, then a language, shows that facet's lists as the
// topic holds them, without a reload; takes the picture with a trend's
// reason open, then stops the broker and waits for the page to say it is
// stale, and starts it again and waits for the page to be live with new
// batches; then restarts the printer and waits for the page to reconnect
// by itself.
func TestPageFollowsThePipelineAndShowsStaleWhileTheBrokerIsDown(t *testing.T) {
	b := kafkatest.Disposable(t)
	env := []string{"KAFKA_BROKERS=" + b.Addr}
	pages := systest.FreeAddrs(t, 2)
	printer := func(i int) *systest.Process {
		return systest.Start(t, fmt.Sprintf("printer %d", i+1), bins["printer"], append(env,
			"PRINTER_OPS_ADDR=off", "PRINTER_HTTP_ADDR="+pages[i])...)
	}
	firstPrinter := printer(0)
	printer(1)
	// Trending over a minute against the ten before, in buckets of 10 s,
	// so that a few minutes of history give a trending list at once.
	systest.Start(t, "counter", bins["counter"], append(env,
		"COUNTER_OPS_ADDR=off", "COUNTER_TRANSACTION_TIMEOUT=10s", "COUNTER_SESSION_TIMEOUT=6s",
		"COUNTER_TRENDING_BUCKET=10s", "COUNTER_TRENDING_RECENT=1m", "COUNTER_TRENDING_BASELINE=10m",
		"COUNTER_TRENDING_LATENESS=10s", "COUNTER_TRENDING_HALF_LIFE=6m", "COUNTER_FACET_TRENDING=on")...)
	// Posts start once the counter publishes, so that its first windows
	// do not hold a backlog and the sparklines show the steady rate.
	systest.Await(t, "the counter's first snapshot", 3*time.Minute, func() bool { _, err := pageSnapshot(pages[0]); return err == nil })
	networks, languages := []string{"bluesky", "mastodon", "x"}, []string{"de", "en", "es", "fr", "ja", "nl", "pt"}
	const rate = 300 // posts per second after the history
	systest.Start(t, "ingest", bins["ingest"], append(env,
		"INGEST_SOURCE=synthetic", "INGEST_SYNTHETIC_RATE="+strconv.Itoa(rate), "INGEST_OPS_ADDR=off",
		"INGEST_SYNTHETIC_HISTORY=12m", "INGEST_SYNTHETIC_RISE_EVERY=2m", "INGEST_SYNTHETIC_RISE_FOR=8m",
		"INGEST_SYNTHETIC_NETWORKS="+strings.Join(networks, ","), "INGEST_SYNTHETIC_LANGS="+strings.Join(languages, ","))...)
	const topic, facetsTopic = "top-hashtags", "hashtag-facets"

	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+pages[0]+"/")); err != nil {
		t.Fatal(err)
	}
	// Bars, and a full top 10: the workload has run for a few windows.
	waitShown(t, ctx, "ten bars", 3*time.Minute, func(s shown) bool { return s.State == "live" && len(s.Rows) == 10 })

	// The page shows the latest snapshot: one at least as new as the
	// topic's newest just before the page was read, with the same rows.
	deadline := time.Now().Add(time.Minute)
	for {
		before := kafkatest.Snapshots(t, b.Addr, topic)
		s := read(t, ctx)
		newest := before[len(before)-1].Batch
		if shownBatch := number(s.Batch); shownBatch >= newest {
			snap := batchOf(t, kafkatest.Snapshots(t, b.Addr, topic), shownBatch)
			if diff := sameTop(s, snap); diff != "" {
				t.Fatalf("batch %d: %s", shownBatch, diff)
			}
			if number(s.Posts) != snap.Posts {
				t.Fatalf("batch %d: the page shows %s posts, the snapshot has %d", shownBatch, s.Posts, snap.Posts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page shows batch %s, the topic had %d before it was read", s.Batch, newest)
		}
	}
	// The second printer serves the same snapshots.
	second, err := pageSnapshot(pages[1])
	if err != nil {
		t.Fatalf("the second printer: %v", err)
	}
	if diff := sameTop(shownOf(second), batchOf(t, kafkatest.Snapshots(t, b.Addr, topic), second.Batch)); diff != "" {
		t.Fatalf("the second printer's batch %d: %s", second.Batch, diff)
	}

	// The history's rises trend once the counter has read it; the page
	// lists the trends of the snapshot it shows.
	first := waitShown(t, ctx, "a trending list", 5*time.Minute, func(s shown) bool { return s.State == "live" && len(s.Trending) > 0 })
	t.Logf("trending from batch %s: %+v", first.Batch, first.Trending)
	deadline = time.Now().Add(time.Minute)
	for {
		s := read(t, ctx)
		snap := batchOf(t, kafkatest.Snapshots(t, b.Addr, topic), number(s.Batch))
		diff := sameTrending(s, snap.Trending)
		if diff == "" && snap.Watermark != nil && s.TrendingState == "listed" && strings.HasPrefix(s.TrendingNote, "posts up to "+snap.Watermark.UTC().Format("15:04:05")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch %d: %s (state %s, note %q, watermark %v)", snap.Batch, diff, s.TrendingState, s.TrendingNote, snap.Watermark)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The picker offers the networks and languages of the workload, as the
	// facets topic has them, and shows each facet's lists without a reload.
	var onTopic map[string][]snapshot.Facet
	deadline = time.Now().Add(2 * time.Minute)
	for {
		onTopic = facetRecords(t, b.Addr, facetsTopic)
		nets, langs := pickable(onTopic)
		s := read(t, ctx)
		if slices.Equal(sorted(s.Networks), nets) && slices.Equal(sorted(s.Languages), langs) &&
			slices.Equal(nets, append([]string{""}, networks...)) && slices.Equal(langs, append([]string{""}, languages...)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the picker offers networks %q and languages %q; the facets topic has %q and %q, the workload %q and %q",
				s.Networks, s.Languages, nets, langs, networks, languages)
		}
		time.Sleep(time.Second)
	}
	checkFacet(t, ctx, b.Addr, facetsTopic, "mastodon", "", "source:mastodon")
	checkFacet(t, ctx, b.Addr, facetsTopic, "mastodon", "ja", "source:mastodon/lang:ja")
	checkFacet(t, ctx, b.Addr, facetsTopic, "", "ja", "lang:ja")
	pick(t, ctx, "", "")
	waitShown(t, ctx, "all again", time.Minute, func(s shown) bool { return s.Facet == "all" && len(s.Rows) == 10 && len(s.Trending) > 0 })

	// Enough windows after the history for the sparklines to show the
	// steady rate (the history came in a burst of windows, each with far
	// more than a window's posts at the rate), then the picture, with the
	// last trend's reason open.
	deadline = time.Now().Add(3 * time.Minute)
	for {
		snaps := kafkatest.Snapshots(t, b.Addr, topic)
		var burst int64
		for i := 1; i < len(snaps); i++ {
			if snaps[i].Posts-snaps[i-1].Posts > 3*rate*2 {
				burst = snaps[i].Batch
			}
		}
		s := read(t, ctx)
		n, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("windows").textContent`))
		if number(n) >= 20 && number(s.Batch) > burst+30 && len(s.Trending) > 0 && s.Facet == "all" {
			t.Logf("the history came by batch %d; the picture is of batch %s", burst, s.Batch)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no thirty steady windows of sparklines after the history (batch %d): the page shows batch %s, %s windows, %d trends", burst, s.Batch, n, len(s.Trending))
		}
		time.Sleep(time.Second)
	}
	open, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
  const rows = document.querySelectorAll("#trending li.row");
  const li = rows[rows.length - 1];
  li.click();
  const card = li.querySelector(".reason");
  return getComputedStyle(card).display + " " + card.querySelector(".r-authors dd").textContent;
})()`))
	if err != nil || !strings.HasPrefix(open, "block ") || !strings.Contains(open, "expected from the baseline") {
		t.Fatalf("tapping a trend did not open its reason: %q %v", open, err)
	}
	png := screenshot(t, ctx, "page.png")
	if *updateScreenshot {
		if err := os.WriteFile(filepath.Join(rootDir(), "docs", "printer-page.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	live := read(t, ctx)
	stopping := time.Now()
	b.Stop()
	stopped := time.Now()
	stale := waitShown(t, ctx, "stale", time.Minute, func(s shown) bool { return s.State == "stale" })
	t.Logf("stale %.1f s after the broker began to stop (%.1f s after it had stopped): %q",
		time.Since(stopping).Seconds(), time.Since(stopped).Seconds(), stale.Status)
	if !strings.HasPrefix(stale.Status, "stale: no new snapshot for ") {
		t.Fatalf("status line %q", stale.Status)
	}
	if number(stale.Batch) < number(live.Batch) {
		t.Fatalf("the stale page went back from batch %s to %s", live.Batch, stale.Batch)
	}
	screenshot(t, ctx, "page-stale.png")

	b.Start()
	restarted := time.Now()
	back := waitShown(t, ctx, "live again with a newer batch", 3*time.Minute, func(s shown) bool {
		return s.State == "live" && number(s.Batch) > number(stale.Batch)
	})
	t.Logf("live again %.1f s after the broker started: batch %s", time.Since(restarted).Seconds(), back.Batch)

	// The printer itself goes away and comes back on the same address: the
	// page notices, and its EventSource reconnects by itself.
	firstPrinter.Stop(time.Minute)
	gone := waitShown(t, ctx, "the printer gone", time.Minute, func(s shown) bool { return s.Connection == "lost" })
	printer(0)
	again := waitShown(t, ctx, "live again from the restarted printer", 3*time.Minute, func(s shown) bool {
		return s.Connection == "open" && s.State == "live" && number(s.Batch) > number(gone.Batch)
	})
	t.Logf("after the printer restarted the page shows batch %s (it had %s)", again.Batch, gone.Batch)
}

// shownOf is a snapshot's top-N as the page writes it.
func shownOf(s snapshot.Snapshot) shown {
	var out shown
	for _, e := range s.Top {
		out.Rows = append(out.Rows, row{"#" + e.Hashtag, strconv.FormatInt(e.Count, 10)})
	}
	return out
}

// hostile spellings a post can carry: markup, quotes, right-to-left text,
// direction overrides and isolates, wide characters and emoji sequences.
var hostile = []string{
	`<img src=x onerror="window.pwned=1">`,
	`<script>window.pwned=2</script>`,
	`"quoted" & 'single'`,
	"\u202Eevil_override",
	"مرحبا_بالعالم",
	"שלום\u2067abc",
	"東京オリンピック2026",
	"👩‍👩‍👧‍👦family",
	"</bdi></li><li>fake",
	"plain",
}

// TestPageShowsHostileSpellingsAsTextInTheirOwnDirection gives the printer
// a snapshot of hostile spellings, on top and trending (with each trend's
// status, since-time and reason, whose networks and languages are hostile
// too), and two facets' lists of them, and checks in the browser that each
// is shown exactly as text, that nothing of it became an element, and that
// right-to-left spellings and overrides stay inside their own cell; that a
// tapped trend's reason says what the snapshot says; that the picker shows
// a facet's lists; then that a snapshot whose baseline is still building
// gets the note instead of a list, and one without trending no panel.
func TestPageShowsHostileSpellingsAsTextInTheirOwnDirection(t *testing.T) {
	topic := kafkatest.Topic(t, "top-hashtags", 1, nil)
	facets := kafkatest.Topic(t, "hashtag-facets", 1, map[string]string{"cleanup.policy": "compact"})
	now := time.Now().UTC().Truncate(2 * time.Second)
	wm := now.Add(-time.Minute).Truncate(time.Minute)
	s := snapshot.Snapshot{Batch: 1, WindowStart: now.Add(-2 * time.Second), WindowEnd: now,
		Posts: 1234567, PostsWithTags: 345678, DistinctHashtags: int64(len(hostile)), ProducedAt: time.Now(), Watermark: &wm}
	statuses := []string{snapshot.Rising, snapshot.Peaking, snapshot.Cooling}
	for i, tag := range hostile {
		s.Top = append(s.Top, snapshot.Entry{Rank: i + 1, Hashtag: tag, Key: tag, Count: int64(1000 - 90*i)})
		since, from := wm.Add(-time.Duration(i+5)*time.Minute), wm.Add(-10*time.Minute)
		tr := snapshot.Trend{Rank: i + 1, Hashtag: tag, Key: tag,
			Score: float64(50 - 4*i), Observed: float64(30 - i), Expected: 2, Count: int64(60 - i),
			Status: statuses[i%3], Since: &since, Peak: float64(60 - 4*i), PeakAt: &wm, Decayed: float64(50 - 4*i),
			Reason: &snapshot.Reason{PostsPerAuthor: float64(60-i) / float64(30-i), TopAuthorsShare: 0.25, Covered: int64(60 - i), From: &from,
				Sources: []snapshot.Share{{Name: tag, Posts: int64(60 - i)}}, Langs: []snapshot.Share{{Name: tag, Posts: int64(60 - i)}},
				Started: []snapshot.Start{{Network: tag, Since: since}}, Authors: []int64{0, 1, 2, 3, 5, 8, 13, 21, 34, int64(30 - i)}}}
		if tr.Status == snapshot.Cooling {
			tr.Score = 0
		}
		s.Trending = append(s.Trending, tr)
	}
	value, err := snapshot.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	kafkatest.Produce(t, topic, kafkatest.Record{Key: []byte("top"), Value: value})
	ja := snapshot.Facet{Facet: "lang:ja", Batch: 1, WindowEnd: now}
	for i := range hostile {
		ja.Top = append(ja.Top, snapshot.Count{Hashtag: hostile[len(hostile)-1-i], Count: int64(500 - 40*i)})
	}
	for _, f := range []snapshot.Facet{ja, {Facet: "source:bluesky/lang:ja", Batch: 1, WindowEnd: now, Top: ja.Top[:2]}} {
		v, err := snapshot.EncodeFacet(f)
		if err != nil {
			t.Fatal(err)
		}
		kafkatest.Produce(t, facets, kafkatest.Record{Key: []byte(f.Facet), Value: v})
	}
	addr := systest.FreeAddr(t)
	systest.Start(t, "printer", bins["printer"], "TOPIC_TOP="+topic, "TOPIC_FACETS="+facets, "PRINTER_OPS_ADDR=off", "PRINTER_HTTP_ADDR="+addr)

	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
		t.Fatal(err)
	}
	waitShown(t, ctx, "the hostile snapshot", 2*time.Minute, func(s shown) bool { return len(s.Rows) == len(hostile) })

	type cell struct {
		Text, Dir, Bidi            string
		Left, Right, Top, Bottom   float64
		CountLeft, CountRight, Row float64
	}
	var got struct {
		Top, Trending []cell
		Elements      int
		Pwned         bool
		TrendingShown bool
	}
	got, err = chromedp.Run(ctx, chromedp.Evaluate[struct {
		Top, Trending []cell
		Elements      int
		Pwned         bool
		TrendingShown bool
	}](`(() => {
  const cells = (list, num) => [...document.querySelectorAll(list + " li.row")].map((li) => {
    const tag = li.querySelector(".tag"), r = tag.getBoundingClientRect(), c = li.querySelector(num).getBoundingClientRect();
    return { Text: tag.textContent, Dir: tag.dir, Bidi: getComputedStyle(tag).unicodeBidi,
      Left: r.left, Right: r.right, Top: r.top, Bottom: r.bottom,
      CountLeft: c.left, CountRight: c.right, Row: li.getBoundingClientRect().height };
  });
  return {
    Top: cells("#top", ".count"),
    Trending: cells("#trending", ".score"),
    Elements: document.querySelectorAll("main img, main script, main li:not(.row), bdi bdi").length,
    Pwned: "pwned" in window,
    TrendingShown: !document.getElementById("trending-panel").hidden,
  };
})()`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Elements != 0 || got.Pwned {
		t.Fatalf("a spelling became markup: %d stray elements, script ran: %v", got.Elements, got.Pwned)
	}
	if !got.TrendingShown || len(got.Trending) != len(hostile) {
		t.Fatalf("trending panel shown %v with %d rows, want %d", got.TrendingShown, len(got.Trending), len(hostile))
	}
	for name, cells := range map[string][]cell{"top": got.Top, "trending": got.Trending} {
		for i, c := range cells {
			if want := "#" + hostile[i]; c.Text != want {
				t.Errorf("%s row %d shows %q, want %q", name, i+1, c.Text, want)
			}
			if c.Dir != "auto" || c.Bidi != "isolate" {
				t.Errorf("%s row %d (%q): dir %q, unicode-bidi %q; want auto and isolate", name, i+1, hostile[i], c.Dir, c.Bidi)
			}
			// Whatever its direction, the tag stays left of its number, the
			// numbers stay in one column, and the row stays one line.
			if c.Right > c.CountLeft+0.5 {
				t.Errorf("%s row %d (%q): the tag reaches %.1f, past its number at %.1f", name, i+1, hostile[i], c.Right, c.CountLeft)
			}
			if d := c.CountRight - cells[0].CountRight; d > 0.5 || d < -0.5 {
				t.Errorf("%s row %d (%q): its number ends at %.1f, the first row's at %.1f", name, i+1, hostile[i], c.CountRight, cells[0].CountRight)
			}
			if c.Row > 1.6*cells[len(cells)-1].Row {
				t.Errorf("%s row %d (%q) is %.1f px high, the plain row %.1f: it wrapped", name, i+1, hostile[i], c.Row, cells[len(cells)-1].Row)
			}
		}
	}
	if diff := sameTrending(read(t, ctx), s.Trending); diff != "" {
		t.Fatal(diff)
	}

	// A tap on the first trend opens its reason, as the snapshot says it.
	reason, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`(() => {
  const li = document.querySelector("#trending li.row");
  li.click();
  const card = li.querySelector(".reason"), out = { display: getComputedStyle(card).display, title: card.querySelector(".reason-tag").textContent };
  for (const item of card.querySelectorAll("dl > div")) {
    out[item.className] = item.hidden ? "(hidden)" : item.querySelector("dd").textContent;
  }
  out.bars = String(card.querySelectorAll(".buckets rect").length);
  const names = [...card.querySelectorAll("dd bdi")];
  out.isolated = names.length + " " + names.every((b) => b.dir === "auto" && getComputedStyle(b).unicodeBidi === "isolate");
  return out;
})()`))
	if err != nil {
		t.Fatal(err)
	}
	r0 := s.Trending[0]
	for key, want := range map[string]string{
		"display":   "block",
		"title":     "#" + hostile[0],
		"r-authors": "30 distinct in the recent window, 2.0 expected from the baseline (15×)",
		"r-posts":   "60 · 2.00 per author",
		"r-top":     "25% of 60 posts since " + r0.Reason.From.UTC().Format("15:04"),
		"r-sources": hostile[0] + " 100%",
		"r-langs":   hostile[0] + " 100%",
		"r-started": hostile[0] + " " + r0.Since.UTC().Format("15:04"),
		"r-peak":    "60.0 at " + wm.Format("15:04"),
		"bars":      strconv.Itoa(len(r0.Reason.Authors)),
		"isolated":  "3 true", // each network's and language's name in its own isolate
	} {
		if reason[key] != want {
			t.Errorf("the first trend's reason: %s is %q, want %q", key, reason[key], want)
		}
	}
	screenshot(t, ctx, "page-hostile.png")
	if got, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`"pwned" in window || document.querySelectorAll("main img, main script, bdi bdi").length > 0`)); err != nil || got {
		t.Fatalf("a spelling in a reason became markup (%v)", err)
	}

	// The picker offers the facets on the topic and shows their lists.
	waitShown(t, ctx, "the facets in the picker", time.Minute, func(s shown) bool {
		return slices.Equal(s.Networks, []string{"", "bluesky"}) && slices.Equal(s.Languages, []string{"", "ja"})
	})
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.stayed = 1`)); err != nil {
		t.Fatal(err)
	}
	pick(t, ctx, "", "ja")
	onJa := waitShown(t, ctx, "lang:ja's lists", time.Minute, func(s shown) bool { return s.Facet == "lang:ja" && len(s.Rows) == len(hostile) })
	if diff := sameFacetTop(onJa, ja); diff != "" || !onJa.Stayed || onJa.TrendingState != "empty" {
		t.Fatalf("lang:ja: %s; no reload %v; trending %s", diff, onJa.Stayed, onJa.TrendingState)
	}
	pick(t, ctx, "bluesky", "ja")
	waitShown(t, ctx, "source:bluesky/lang:ja's lists", time.Minute, func(s shown) bool {
		return s.Facet == "source:bluesky/lang:ja" && sameFacetTop(s, snapshot.Facet{Top: ja.Top[:2]}) == ""
	})
	pick(t, ctx, "", "")
	waitShown(t, ctx, "all again", time.Minute, func(p shown) bool { return p.Facet == "all" && sameTop(p, s) == "" })

	// While the baseline builds the panel says until when, and lists nothing.
	until := now.Add(13 * time.Minute)
	building := snapshot.Snapshot{Batch: 2, WindowStart: now, WindowEnd: now.Add(2 * time.Second), Top: s.Top,
		Posts: 1234568, ProducedAt: time.Now(), Watermark: &wm, BaselineUntil: &until}
	off := building
	off.Batch, off.WindowStart, off.WindowEnd, off.Watermark, off.BaselineUntil = 3, building.WindowEnd, building.WindowEnd.Add(2*time.Second), nil, nil
	for _, snap := range []snapshot.Snapshot{building, off} {
		value, err := snapshot.Encode(snap)
		if err != nil {
			t.Fatal(err)
		}
		kafkatest.Produce(t, topic, kafkatest.Record{Key: []byte("top"), Value: value})
		got := waitShown(t, ctx, fmt.Sprintf("batch %d", snap.Batch), time.Minute, func(s shown) bool { return number(s.Batch) == snap.Batch })
		switch snap.Batch {
		case 2:
			want := "The baseline is still building: a trending list can exist from posts at " + until.Format("15:04:05") + " UTC"
			if got.TrendingState != "building" || !strings.HasPrefix(got.TrendingNote, want) || len(got.Trending) != 0 {
				t.Fatalf("while the baseline builds: state %s, note %q, %d rows; want the note %q", got.TrendingState, got.TrendingNote, len(got.Trending), want)
			}
			screenshot(t, ctx, "page-building.png")
		case 3:
			if got.TrendingState != "off" || len(got.Trending) != 0 {
				t.Fatalf("with trending off: state %s, %d rows", got.TrendingState, len(got.Trending))
			}
		}
	}
}
