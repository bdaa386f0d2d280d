package main

import (
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
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
	b, err := os.ReadFile(systest.SharedData(t, "bluesky", "jetstream-v1-expected_v1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	events := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	found, err := expect.JetstreamPosts(events)
	if err != nil {
		t.Fatal(err)
	}
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
	tweets, top := kafkatest.Name(t, "tweets"), kafkatest.Name(t, "top")
	dlq, deltas, counts := kafkatest.Name(t, "dlq"), kafkatest.Name(t, "deltas"), kafkatest.Name(t, "counts")
	kafkatest.DeleteAfter(t, tweets, dlq, deltas, counts)
	kafkatest.CreateTopic(t, top, 1, nil)
	env := []string{"KAFKA_BROKERS=" + brokers, "TOPIC_TWEETS=" + tweets, "TOPIC_TWEETS_PARTITIONS=3",
		"TOPIC_TOP=" + top, "TOPIC_DLQ=" + dlq, "TOPIC_DELTAS=" + deltas, "TOPIC_COUNTS=" + counts}

	js := livefake.NewJetstream(t, events)
	systest.Start(t, "ingest", binary, append(env, "INGEST_SOURCE=bluesky", "INGEST_BLUESKY_HOSTS="+js.URL(),
		"INGEST_BLUESKY_COMPRESS=true", "INGEST_OPS_ADDR=off")...)
	systest.Start(t, "counter", counter, append(env, "COUNTER_INSTANCE_ID="+tweets+".counter",
		"COUNTER_GROUP_TALLY="+tweets+".tally", "COUNTER_GROUP_RANK="+tweets+".rank",
		"COUNTER_WINDOW=500ms", "COUNTER_GRACE=200ms", "COUNTER_TRANSACTION_TIMEOUT=6s", "COUNTER_SESSION_TIMEOUT=6s",
		"COUNTER_OPS_ADDR=off")...)

	var snaps []snapshot.Snapshot
	deadline := time.Now().Add(2 * time.Minute)
	for len(snaps) == 0 || snaps[len(snaps)-1].Posts < want.Posts {
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot with all %d posts within 2 minutes; %d snapshots", want.Posts, len(snaps))
		}
		time.Sleep(250 * time.Millisecond) // the next read of the topic
		snaps = snaps[:0]
		for _, m := range kafkatest.ReadAll(t, top, time.Minute) {
			s, err := snapshot.Decode(m.Value)
			if err != nil {
				t.Fatalf("snapshot at %v: %v", m.TopicPartition.Offset, err)
			}
			snaps = append(snaps, s)
		}
	}
	last := snaps[len(snaps)-1]
	if err := want.Compare(last, 10); err != nil {
		t.Fatal(err)
	}
	if err := expect.CheckSequence(snaps); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, m := range kafkatest.ReadAll(t, tweets, time.Minute) {
		keys[string(m.Key)] = true
	}
	if len(keys) != len(posts) {
		t.Errorf("%d distinct posts in the tweets topic, want %d", len(keys), len(posts))
	}
	t.Logf("%d posts, %d with hashtags, top %s", last.Posts, last.PostsWithTags, fmt.Sprint(last.Top))
}
