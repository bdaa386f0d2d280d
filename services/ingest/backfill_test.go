package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
	"github.com/hashtrend/hashtrend/services/ingest/internal/livefake"
)

// The backfill of a first start, run on the real binary and broker: the
// first start reads from its backfill's start on, a restart resumes at its
// committed position instead, and the topic holds each post once.

var timeUS = regexp.MustCompile(`"time_us":(\d+)`)

// movedJetstream returns the recorded events moved in time, in time_us
// order: the first half to end two hours before now, the second half to
// end half an hour before now (their order and spacing kept within each
// half), and the posts of the second half.
func movedJetstream(t *testing.T, now time.Time) (events [][]byte, later []expect.JetstreamPost) {
	recorded, _ := livefake.RecordedJetstream(t)
	type event struct {
		raw []byte
		us  int64
	}
	var all []event
	for _, raw := range recorded {
		m := timeUS.FindSubmatch(raw)
		if m == nil {
			t.Fatalf("no time_us in %s", raw)
		}
		us, err := strconv.ParseInt(string(m[1]), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, event{raw, us})
	}
	slices.SortStableFunc(all, func(a, b event) int { return cmp.Compare(a.us, b.us) })
	mid := len(all) / 2
	for i, e := range all {
		end, lastOfHalf := now.Add(-2*time.Hour), all[mid-1].us
		if i >= mid {
			end, lastOfHalf = now.Add(-30*time.Minute), all[len(all)-1].us
		}
		us := end.UnixMicro() - (lastOfHalf - e.us)
		raw := timeUS.ReplaceAll(e.raw, []byte(fmt.Sprintf(`"time_us":%d`, us)))
		events = append(events, raw)
	}
	posts, err := expect.JetstreamPosts(events[mid:])
	if err != nil {
		t.Fatal(err)
	}
	if early, err := expect.JetstreamPosts(events[:mid]); err != nil || len(early) == 0 || len(posts) == 0 {
		t.Fatalf("posts in each half: %d and %d (%v): the test proves nothing", len(early), len(posts), err)
	}
	return events, posts
}

// keysIn returns how often each key is in topic, read_committed.
func keysIn(t *testing.T, topic string) map[string]int {
	keys := map[string]int{}
	for _, m := range kafkatest.ReadAll(t, topic, time.Minute) {
		keys[string(m.Key)]++
	}
	return keys
}

func TestABlueskyBackfillRunsOnTheFirstStartOnlyAndARestartResumesAtItsPosition(t *testing.T) {
	before := time.Now()
	events, want := movedJetstream(t, before)
	var last int64
	for _, p := range want {
		last = max(last, p.TimeUS)
	}
	brokers := kafkatest.Brokers(t)
	tweets, positions := kafkatest.Name(t, "tweets"), kafkatest.Name(t, "positions")
	kafkatest.DeleteAfter(t, positions)
	kafkatest.CreateTopic(t, tweets, 3, nil)
	js := livefake.NewJetstream(t, events)
	ops := systest.FreeAddr(t)
	env := []string{"KAFKA_BROKERS=" + brokers, "TOPIC_TWEETS=" + tweets, "TOPIC_TWEETS_PARTITIONS=3",
		"TOPIC_POSITIONS=" + positions, "INGEST_OPS_ADDR=" + ops, "INGEST_SOURCE=bluesky",
		"INGEST_BLUESKY_HOSTS=" + js.URL(), "INGEST_BLUESKY_REWIND=5s", "INGEST_BLUESKY_BACKFILL=1h"}

	first := systest.Start(t, "ingest#1", binary, env...)
	awaitRecords(t, tweets, len(want))
	after := time.Now()
	first.Kill()
	second := systest.Start(t, "ingest#2", binary, env...)
	// Resumed at the last post's time_us − 5 s: Jetstream sends every
	// post of the second half again, and each is dropped.
	awaitMetric(t, ops, `hashtrend_ingest_messages_total{kind="duplicate"`, float64(len(want)))
	second.Stop(time.Minute)

	reqs := js.Requests()
	if len(reqs) != 2 {
		t.Fatalf("requests %+v, want two", reqs)
	}
	if from := time.UnixMicro(reqs[0].Cursor); from.Before(before.Add(-time.Hour)) || from.After(after.Add(-time.Hour)) {
		t.Errorf("the first start asked from %s, want an hour before it started (%s)", from, before.Add(-time.Hour))
	}
	if reqs[1].Cursor != last-5_000_000 {
		t.Errorf("the restart asked from %d, want its committed position %d − 5 s", reqs[1].Cursor, last)
	}
	if !strings.Contains(first.Output(), "backfilling") || strings.Contains(second.Output(), "backfilling") {
		t.Errorf("want a backfill on the first start only:\n%s\n%s", first.Output(), second.Output())
	}
	keys := keysIn(t, tweets)
	for _, p := range want {
		if keys[p.ID] != 1 {
			t.Errorf("post %s written %d times", p.ID, keys[p.ID])
		}
	}
	if len(keys) != len(want) {
		t.Errorf("%d distinct posts in the topic, want the %d after the backfill's start", len(keys), len(want))
	}
}

// mastodonStatuses returns n statuses, one a second, the last one at
// end, with the ids Mastodon gives statuses created then, and their URIs.
func mastodonStatuses(end time.Time, n int, name string) (raw [][]byte, ids, uris []string) {
	for i := range n {
		at := end.Add(time.Duration(i-n+1) * time.Second)
		id := fmt.Sprint(uint64(at.UnixMilli())<<16 + uint64(i))
		uri := fmt.Sprintf("https://example.social/users/%s/statuses/%s", name, id)
		raw = append(raw, []byte(fmt.Sprintf(`{"id":%q,"uri":%q,"created_at":%q,"content":"<p>%s %d #backfill</p>","language":"en","account":{"acct":%q},"tags":[{"name":"backfill"}]}`,
			id, uri, at.UTC().Format("2006-01-02T15:04:05.000Z"), name, i, name)))
		ids, uris = append(ids, id), append(uris, uri)
	}
	return raw, ids, uris
}

func TestAMastodonBackfillRunsOnTheFirstStartOnlyAndARestartFillsItsGapFromItsPosition(t *testing.T) {
	now := time.Now()
	early, _, earlyURIs := mastodonStatuses(now.Add(-2*time.Hour), 20, "early")
	later, laterIDs, want := mastodonStatuses(now.Add(-time.Minute), 50, "later")
	const token = "mastodon-backfill-token-5ecret"
	f := livefake.NewMastodon(t, token, append(early, later...))
	brokers := kafkatest.Brokers(t)
	tweets, positions := kafkatest.Name(t, "tweets"), kafkatest.Name(t, "positions")
	kafkatest.DeleteAfter(t, positions)
	kafkatest.CreateTopic(t, tweets, 3, nil)
	env := []string{"KAFKA_BROKERS=" + brokers, "TOPIC_TWEETS=" + tweets, "TOPIC_TWEETS_PARTITIONS=3",
		"TOPIC_POSITIONS=" + positions, "INGEST_OPS_ADDR=off", "INGEST_SOURCE=mastodon",
		"INGEST_MASTODON_URL=" + f.URL, "INGEST_MASTODON_TOKEN=" + token, "INGEST_MASTODON_BACKFILL=1h"}

	first := systest.Start(t, "ingest#1", binary, env...)
	awaitRecords(t, tweets, len(want))
	first.WaitOutput("gap filled", 1, time.Minute) // the join, after the backfill
	first.Kill()
	backfilled := len(f.Timelines())
	second := systest.Start(t, "ingest#2", binary, env...)
	second.WaitOutput("gap filled", 1, time.Minute)
	second.Stop(time.Minute)

	// The first start: the newest page, then pages from an hour ago on;
	// the restart: only the gap from its committed position, the newest
	// status.
	reqs := f.Timelines()
	minIDs := func(reqs []string) []string {
		var out []string
		for _, r := range reqs {
			u, err := url.Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, u.Query().Get("min_id"))
		}
		return out
	}
	if got := minIDs(reqs[:backfilled]); len(got) < 3 || got[0] != "" || got[len(got)-1] != laterIDs[len(laterIDs)-1] {
		t.Errorf("the first start's timeline requests %q: want the newest page, the backfill and the join", reqs[:backfilled])
	}
	if got := minIDs(reqs[backfilled:]); !slices.Equal(got, []string{laterIDs[len(laterIDs)-1]}) {
		t.Errorf("the restart's timeline requests %q: want one from the newest status only", reqs[backfilled:])
	}
	if strings.Contains(first.Output(), token) || strings.Contains(second.Output(), token) {
		t.Error("the token is in the log")
	}
	keys := keysIn(t, tweets)
	for _, uri := range want {
		if keys[uri] != 1 {
			t.Errorf("status %s written %d times", uri, keys[uri])
		}
	}
	for _, uri := range earlyURIs {
		if keys[uri] != 0 {
			t.Errorf("status %s, from before the backfill's start, written", uri)
		}
	}
	if len(keys) != len(want) {
		t.Errorf("%d distinct posts in the topic, want %d", len(keys), len(want))
	}
	var pos struct {
		At struct {
			Newest map[string]string `json:"newest"`
		} `json:"at"`
	}
	recs := kafkatest.ReadAll(t, positions, time.Minute)
	if len(recs) == 0 || json.Unmarshal(recs[len(recs)-1].Value, &pos) != nil || pos.At.Newest["public"] != laterIDs[len(laterIDs)-1] {
		t.Errorf("the last committed position %+v, want the newest status %s", pos, laterIDs[len(laterIDs)-1])
	}
}
