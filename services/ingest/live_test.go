package main

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
	"github.com/hashtrend/hashtrend/services/ingest/internal/livefake"
)

// TestRecordedBlueskyEventsThroughIngestAndCounterCountTheirTagFacets
// runs the real ingest binary against a fake Jetstream serving the
// recorded events, and the real counter after it: the final snapshot must
// hold exactly the posts and the counts of the tag facets, read from the
// events independently of the decoder.
func TestRecordedBlueskyEventsThroughIngestAndCounterCountTheirTagFacets(t *testing.T) {
	events, found := livefake.RecordedJetstream(t)
	var posts []post.Post
	for _, p := range found {
		posts = append(posts, post.Post{ID: p.ID, Source: "bluesky", Hashtags: p.Hashtags})
	}
	want := expect.Of(posts)
	if want.WithTags == 0 {
		t.Fatal("no post with tag facets in the recording: the test proves nothing")
	}

	counter, remove, err := systest.Build("../counter", "counter")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remove)
	brokers := kafkatest.Brokers(t)
	tweets, top, positions := kafkatest.Name(t, "tweets"), kafkatest.Name(t, "top"), kafkatest.Name(t, "positions")
	dlq, deltas, counts := kafkatest.Name(t, "dlq"), kafkatest.Name(t, "deltas"), kafkatest.Name(t, "counts")
	kafkatest.DeleteAfter(t, tweets, dlq, deltas, counts, positions)
	kafkatest.CreateTopic(t, top, 1, nil)
	env := []string{"KAFKA_BROKERS=" + brokers, "TOPIC_TWEETS=" + tweets, "TOPIC_TWEETS_PARTITIONS=3",
		"TOPIC_TOP=" + top, "TOPIC_DLQ=" + dlq, "TOPIC_DELTAS=" + deltas, "TOPIC_COUNTS=" + counts,
		"TOPIC_POSITIONS=" + positions}

	js := livefake.NewJetstream(t, events)
	systest.Start(t, "ingest", binary, append(env, "INGEST_SOURCE=bluesky", "INGEST_BLUESKY_HOSTS="+js.URL(),
		"INGEST_BLUESKY_COMPRESS=true", "INGEST_OPS_ADDR=off")...)
	systest.Start(t, "counter", counter, append(env, "COUNTER_INSTANCE_ID="+tweets+".counter",
		"COUNTER_GROUP_TALLY="+tweets+".tally", "COUNTER_GROUP_RANK="+tweets+".rank",
		"COUNTER_WINDOW=500ms", "COUNTER_GRACE=200ms", "COUNTER_TRANSACTION_TIMEOUT=6s", "COUNTER_SESSION_TIMEOUT=6s",
		"COUNTER_OPS_ADDR=off")...)

	snaps := kafkatest.AwaitSnapshots(t, brokers, top, fmt.Sprintf("a snapshot with all %d posts", want.Posts), 2*time.Minute, want.AllCounted)
	if err := want.CompareLast(snaps, 10); err != nil {
		t.Fatal(err)
	}
	last := snaps[len(snaps)-1]
	keys := map[string]bool{}
	for _, m := range kafkatest.ReadAll(t, tweets, time.Minute) {
		keys[string(m.Key)] = true
	}
	if len(keys) != len(posts) {
		t.Errorf("%d distinct posts in the tweets topic, want %d", len(keys), len(posts))
	}
	t.Logf("%d posts, %d with hashtags, top %s", last.Posts, last.PostsWithTags, fmt.Sprint(last.Top))
}

// TestABlueskyIngestKilledAndRestartedResumesAtItsPositionWithoutRepeats
// SIGKILLs ingest once every recorded post is committed and starts it
// again: it must resume from the committed time_us minus the rewind on
// the same host, and drop the posts Jetstream sends again, so that the
// topic holds each post once.
func TestABlueskyIngestKilledAndRestartedResumesAtItsPositionWithoutRepeats(t *testing.T) {
	events, found := livefake.RecordedJetstream(t)
	var last int64
	for _, p := range found {
		last = max(last, p.TimeUS)
	}
	brokers := kafkatest.Brokers(t)
	tweets, positions := kafkatest.Name(t, "tweets"), kafkatest.Name(t, "positions")
	kafkatest.DeleteAfter(t, positions)
	kafkatest.CreateTopic(t, tweets, 3, nil) // read before ingest has created it
	js := livefake.NewJetstream(t, events)
	ops := systest.FreeAddr(t)
	env := []string{"KAFKA_BROKERS=" + brokers, "TOPIC_TWEETS=" + tweets, "TOPIC_TWEETS_PARTITIONS=3",
		"TOPIC_POSITIONS=" + positions, "INGEST_OPS_ADDR=" + ops, "INGEST_SOURCE=bluesky",
		"INGEST_BLUESKY_HOSTS=" + js.URL(), "INGEST_BLUESKY_REWIND=5s"}

	first := systest.Start(t, "ingest#1", binary, env...)
	awaitRecords(t, tweets, len(found))
	first.Kill()
	second := systest.Start(t, "ingest#2", binary, env...)
	// The rewind (5 s) reaches back past the whole recording (0.3 s):
	// every post comes again, and every one must be dropped.
	awaitMetric(t, ops, `hashtrend_ingest_messages_total{kind="duplicate"`, float64(len(found)))
	second.Stop(time.Minute)

	reqs := js.Requests()
	if len(reqs) != 2 || reqs[0].Cursor != 0 || reqs[1].Cursor != last-5_000_000 {
		t.Errorf("requests %+v: want a live start, then a resume at %d − 5 s", reqs, last)
	}
	keys := map[string]int{}
	for _, m := range kafkatest.ReadAll(t, tweets, time.Minute) {
		keys[string(m.Key)]++
	}
	for _, p := range found {
		if keys[p.ID] != 1 {
			t.Errorf("post %s written %d times", p.ID, keys[p.ID])
		}
	}
	if len(keys) != len(found) {
		t.Errorf("%d distinct posts in the topic, want %d", len(keys), len(found))
	}
}

// awaitRecords waits until topic holds n committed records.
func awaitRecords(t *testing.T, topic string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for len(kafkatest.ReadAll(t, topic, time.Minute)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d records in %s after 2 minutes", n, topic)
		}
		time.Sleep(250 * time.Millisecond) // the next read of the topic
	}
}

// awaitMetric waits until ingest's /metrics at ops shows the series that
// starts with name at want.
func awaitMetric(t *testing.T, ops, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var got float64
		if resp, err := http.Get("http://" + ops + "/metrics"); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got, _ = metric(string(body), name)
			if got == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v after 2 minutes, want %v", name, got, want)
		}
		time.Sleep(100 * time.Millisecond) // polling the metrics endpoint
	}
}
