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
	"os"
	"os/exec"
	"path/filepath"
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
	State      string `json:"state"`
	Connection string `json:"connection"`
	Status     string `json:"status"`
	Batch      string `json:"batch"`
	Posts      string `json:"posts"`
	Rows       []row  `json:"rows"`
}

type row struct {
	Tag   string `json:"tag"`
	Count string `json:"count"`
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
// whole pipeline (ingest on the synthetic workload, counter, two printers
// with their pages) on a broker of its own, checks that the page shows the
// top-N of the latest snapshot in the topic, read independently, then stops
// the broker and waits for the page to say it is stale, and starts it again
// and waits for the page to be live with new batches; then restarts the
// printer and waits for the page to reconnect by itself.
func TestPageFollowsThePipelineAndShowsStaleWhileTheBrokerIsDown(t *testing.T) {
	b := kafkatest.Disposable(t)
	env := []string{"KAFKA_BROKERS=" + b.Addr}
	pages := systest.FreeAddrs(t, 2)
	printer := func(i int) *systest.Process {
		return systest.Start(t, fmt.Sprintf("printer %d", i+1), bins["printer"], append(env,
			"PRINTER_OPS_ADDR=off", "PRINTER_HTTP_ADDR="+pages[i])...)
	}
	first := printer(0)
	printer(1)
	systest.Start(t, "counter", bins["counter"], append(env,
		"COUNTER_OPS_ADDR=off", "COUNTER_TRANSACTION_TIMEOUT=10s", "COUNTER_SESSION_TIMEOUT=6s")...)
	// Posts start once the counter publishes, so that its first windows
	// do not hold a backlog and the sparklines show the steady rate.
	systest.Await(t, "the counter's first snapshot", 3*time.Minute, func() bool { _, err := pageSnapshot(pages[0]); return err == nil })
	systest.Start(t, "ingest", bins["ingest"], append(env,
		"INGEST_SOURCE=synthetic", "INGEST_RATE=300", "INGEST_OPS_ADDR=off")...)
	const topic = "top-hashtags"

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

	// Enough windows for the sparklines to say something, then the picture.
	waitShown(t, ctx, "twenty windows of sparklines", 3*time.Minute, func(shown) bool {
		n, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("windows").textContent`))
		return number(n) >= 20
	})
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
	first.Stop(time.Minute)
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
// a snapshot of hostile spellings, on top and trending, and checks in the
// browser that each is shown exactly as text, that nothing of it became an
// element, and that right-to-left spellings and overrides stay inside
// their own cell.
func TestPageShowsHostileSpellingsAsTextInTheirOwnDirection(t *testing.T) {
	topic := kafkatest.Topic(t, "top-hashtags", 1, nil)
	now := time.Now().UTC().Truncate(2 * time.Second)
	s := snapshot.Snapshot{Batch: 1, WindowStart: now.Add(-2 * time.Second), WindowEnd: now,
		Posts: 1234567, PostsWithTags: 345678, DistinctHashtags: int64(len(hostile)), ProducedAt: time.Now()}
	for i, tag := range hostile {
		s.Top = append(s.Top, snapshot.Entry{Rank: i + 1, Hashtag: tag, Key: tag, Count: int64(1000 - 90*i)})
		s.Trending = append(s.Trending, snapshot.Trend{Rank: i + 1, Hashtag: tag, Key: tag,
			Score: float64(50 - 4*i), Observed: float64(30 - i), Expected: 2, Count: int64(60 - i)})
	}
	value, err := snapshot.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	kafkatest.Produce(t, topic, kafkatest.Record{Key: []byte("top"), Value: value})
	addr := systest.FreeAddr(t)
	systest.Start(t, "printer", bins["printer"], "TOPIC_TOP="+topic, "PRINTER_OPS_ADDR=off", "PRINTER_HTTP_ADDR="+addr)

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
	screenshot(t, ctx, "page-hostile.png")
}
