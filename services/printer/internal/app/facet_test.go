package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/services/printer/internal/app"
	"github.com/hashtrend/hashtrend/services/printer/internal/web"
)

// facetRecord is facet name's lists as of batch n: tag "<name>-n" counted
// 100+n.
func facetRecord(t *testing.T, name string, n int64) kafkatest.Record {
	t.Helper()
	b, err := snapshot.EncodeFacet(snapshot.Facet{Facet: name, Batch: n, WindowEnd: t0.Add(time.Duration(n) * 2 * time.Second),
		Top: []snapshot.Count{{Hashtag: "t" + strconv.FormatInt(n, 10), Count: 100 + n}}})
	if err != nil {
		t.Fatal(err)
	}
	return kafkatest.Record{Key: []byte(name), Value: b}
}

func tombstone(name string) kafkatest.Record { return kafkatest.Record{Key: []byte(name)} }

// TestAFacetsListsArePrintedFromItsLastRecord starts a printer with
// PRINTER_FACET on a facets topic that holds several facets' records: it
// prints the facet's last record first, however many records of other
// facets follow it, then each new record of that facet and none of the
// others, and says so when the facet loses its lists (a tombstone). The
// JSON output is the records themselves.
func TestAFacetsListsArePrintedFromItsLastRecord(t *testing.T) {
	for _, format := range []string{"table", "json"} {
		t.Run(format, func(t *testing.T) {
			facets := kafkatest.Topic(t, "hashtag-facets", 1, map[string]string{"cleanup.policy": "compact"})
			top := kafkatest.Topic(t, "top-hashtags", 1, nil)
			var before []kafkatest.Record
			for n := int64(1); n <= 3; n++ {
				before = append(before, facetRecord(t, "source:bluesky/lang:ja", n), facetRecord(t, "lang:de", n))
			}
			for n := int64(4); n <= 40; n++ { // more than the snapshots' first look back
				before = append(before, facetRecord(t, "lang:de", n))
			}
			kafkatest.Produce(t, facets, before...)
			p := startWith(t, top, "latest", func(c *app.Config) {
				c.Facet, c.FacetsTopic, c.Format = "source:bluesky/lang:ja", facets, format
			})
			systest.Await(t, "the printer to follow", time.Minute, func() bool { return strings.Contains(p.log.String(), "following") }, p.dump)
			kafkatest.Produce(t, facets, facetRecord(t, "lang:de", 41), facetRecord(t, "source:bluesky/lang:ja", 42), tombstone("lang:de"))
			systest.Await(t, "batch 42", time.Minute, func() bool { return strings.Contains(p.out.String(), "t42") }, p.dump)
			kafkatest.Produce(t, facets, tombstone("source:bluesky/lang:ja"))

			var want []string
			switch format {
			case "table":
				systest.Await(t, "the note", time.Minute, func() bool { return strings.Contains(p.out.String(), "has no lists now") }, p.dump)
				if got := p.batches(); !equal(got, []int64{3, 42}) {
					t.Fatalf("batches printed %v, want 3 and 42:\n%s", got, p.out.String())
				}
				want = []string{"Batch: 3   source:bluesky/lang:ja   as of 2026-11-25 08:00:06.000 UTC", "|    #t3|  103|", "|   #t42|  142|",
					"source:bluesky/lang:ja has no lists now"}
			case "json":
				systest.Await(t, "the facet's gone", time.Minute, func() bool { return strings.Contains(p.log.String(), "the facet has no lists now") }, p.dump)
				want = []string{string(facetRecord(t, "source:bluesky/lang:ja", 3).Value) + "\n" + string(facetRecord(t, "source:bluesky/lang:ja", 42).Value) + "\n"}
				if p.out.String() != want[0] {
					t.Fatalf("printed:\n%s\nwant:\n%s", p.out.String(), want[0])
				}
			}
			for _, w := range want {
				if !strings.Contains(p.out.String(), w) {
					t.Errorf("no %q in:\n%s", w, p.out.String())
				}
			}
			if strings.Contains(p.out.String(), "t41") || strings.Contains(p.out.String(), "t40") {
				t.Errorf("another facet's lists printed:\n%s", p.out.String())
			}
			if got := p.metric("hashtrend_printer_snapshots_rendered_total"); got != 2 {
				t.Errorf("rendered metric %v, want 2", got)
			}
		})
	}
}

func TestAFacetIsCheckedAtStart(t *testing.T) {
	for value, ok := range map[string]bool{
		"all": true, "lang:de": true, "source:bluesky": true, "source:bluesky/lang:ja": true, "lang:other": true,
		"": false, "lang:xx": false, "source:blusky": false, "lang:DE": false, "source:bluesky/de": false,
	} {
		cfg := validConfig()
		cfg.Facet = value
		err := cfg.Validate()
		if (err == nil) != ok || err != nil && !strings.HasPrefix(err.Error(), "PRINTER_FACET: ") {
			t.Errorf("PRINTER_FACET=%q: %v", value, err)
		}
	}
}

// TestThePageShowsAllWhileTheConsoleShowsAFacet: with PRINTER_FACET and
// the page on, the console prints the facet's lists and the page serves
// the snapshots of top-hashtags, as without a facet (its own picker
// chooses the facet it shows).
func TestThePageShowsAllWhileTheConsoleShowsAFacet(t *testing.T) {
	facets := kafkatest.Topic(t, "hashtag-facets", 1, map[string]string{"cleanup.policy": "compact"})
	top := kafkatest.Topic(t, "top-hashtags", 1, nil)
	kafkatest.Produce(t, top, snaps(t, 1, 3)...)
	kafkatest.Produce(t, facets, facetRecord(t, "lang:de", 3))
	addr := systest.FreeAddr(t)
	p := startWith(t, top, "latest", func(c *app.Config) { c.Facet, c.FacetsTopic, c.HTTPAddr = "lang:de", facets, addr })
	p.waitBatches(t, 1)
	got := awaitPageSnapshot(t, addr, 3, p)
	if len(got.Top) != 1 || got.Top[0].Hashtag != "tag3" {
		t.Fatalf("/api/snapshot: %+v", got)
	}
	if out := p.out.String(); !strings.Contains(out, "lang:de") || strings.Contains(out, "#tag3") {
		t.Fatalf("the console printed:\n%s\nwant lang:de's lists only", out)
	}
}

// TestThePageHasEveryFacetsLatestLists starts a printer with its page on a
// facets topic that holds several records of several facets and a
// tombstone: the page's picker lists the facets that have lists, and each
// facet's lists are its last record, counted from what was produced; a
// record written after the start replaces its facet's, and a tombstone
// takes the facet out of the picker.
func TestThePageHasEveryFacetsLatestLists(t *testing.T) {
	facets := kafkatest.Topic(t, "hashtag-facets", 1, map[string]string{"cleanup.policy": "compact"})
	top := kafkatest.Topic(t, "top-hashtags", 1, nil)
	names := []string{"source:bluesky", "lang:ja", "source:bluesky/lang:ja", "lang:de", "lang:other"}
	var before []kafkatest.Record
	last := map[string]int64{} // each facet's last batch, worked out while producing
	for n := int64(1); n <= 30; n++ {
		name := names[int(n)%len(names)]
		before = append(before, facetRecord(t, name, n))
		last[name] = n
	}
	before = append(before, tombstone("lang:other"))
	delete(last, "lang:other")
	kafkatest.Produce(t, top, snaps(t, 1, 3)...)
	kafkatest.Produce(t, facets, before...)
	addr := systest.FreeAddr(t)
	p := startWith(t, top, "latest", func(c *app.Config) { c.FacetsTopic, c.HTTPAddr = facets, addr })
	awaitPageSnapshot(t, addr, 3, p)

	lists := func(name string) (snapshot.Facet, int) {
		resp, err := http.Get("http://" + addr + "/api/facet?name=" + url.QueryEscape(name))
		if err != nil {
			return snapshot.Facet{}, 0
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		f, _, _ := snapshot.DecodeFacet([]byte(name), bytes.TrimSpace(b))
		return f, resp.StatusCode
	}
	systest.Await(t, "every facet's last lists on the page", time.Minute, func() bool {
		for name, n := range last {
			if f, status := lists(name); status != 200 || f.Batch != n {
				return false
			}
		}
		_, status := lists("lang:other")
		return status == 404
	}, p.dump)
	for name, n := range last {
		f, _ := lists(name)
		if len(f.Top) != 1 || f.Top[0].Hashtag != "t"+strconv.FormatInt(n, 10) {
			t.Errorf("%s on the page: %+v, want its batch %d's lists", name, f, n)
		}
	}

	// The picker's facets come with the page's snapshot event.
	v := pageView(t, addr, "lang:ja")
	var got []string
	for _, f := range v.Facets {
		got = append(got, f.Name)
	}
	if want := []string{"source:bluesky", "lang:de", "lang:ja", "source:bluesky/lang:ja"}; !slices.Equal(got, want) {
		t.Fatalf("the picker's facets %v, want %v", got, want)
	}
	if v.Facet == nil || v.Facet.Lists == nil || v.Facet.Lists.Batch != last["lang:ja"] {
		t.Fatalf("lang:ja's page shows %+v, want batch %d", v.Facet, last["lang:ja"])
	}

	kafkatest.Produce(t, facets, facetRecord(t, "lang:ja", 31), tombstone("lang:de"))
	systest.Await(t, "lang:ja's new lists and lang:de gone", time.Minute, func() bool {
		f, status := lists("lang:ja")
		_, gone := lists("lang:de")
		return status == 200 && f.Batch == 31 && gone == 404
	}, p.dump)
	if strings.Contains(p.out.String(), "lang:") {
		t.Fatalf("the console printed a facet's lists without PRINTER_FACET:\n%s", p.out.String())
	}
}

// pageView reads the first snapshot event of the page's stream for facet.
func pageView(t *testing.T, addr, facet string) web.View {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/events?facet="+url.QueryEscape(facet), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if e, ok := strings.CutPrefix(line, "event: "); ok {
			event = e
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok && event == "snapshot" {
			var v web.View
			if err := json.Unmarshal([]byte(d), &v); err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no snapshot event for %s: %v", facet, sc.Err())
	return web.View{}
}
