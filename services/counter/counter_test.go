package main_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/synthetic"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
	"github.com/hashtrend/hashtrend/pkg/wire"
	"github.com/hashtrend/hashtrend/services/counter/internal/tally"
)

func syntheticPosts(seed int64, n int) []post.Post {
	return synthetic.New(synthetic.Config{Seed: seed}).Take(n)
}

// countAll writes posts to the tweets topic of a new pipeline and runs a
// counter named instance until a snapshot reports them all, within
// timeout; it returns the pipeline, the counter, its snapshots and the
// counts expected of the posts.
func countAll(t *testing.T, posts []post.Post, instance string, timeout time.Duration) (pipeline, *counter, *snapshots, expect.Report) {
	t.Helper()
	p := newPipeline(t, 6)
	keys, values := encoded(t, posts)
	produce(t, p.brokers, p.tweets, keys, values)
	snaps := follow(t, p)
	c := start(t, p, instance)
	snaps.waitPosts(t, int64(len(posts)), timeout, c)
	return p, c, snaps, expect.Of(posts)
}

func TestExactCountsOfASyntheticStream(t *testing.T) {
	posts := syntheticPosts(1, 100_000)
	p, c, snaps, e := countAll(t, posts, "exact", 3*time.Minute)
	verify(t, p, snaps, e)

	resp, err := http.Get("http://" + c.ops + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	for name, want := range map[string]int64{
		"hashtrend_counter_posts_total":                 e.Posts,
		"hashtrend_counter_posts_with_hashtags_total":   e.WithTags,
		"hashtrend_counter_state_hashtags":              int64(len(e.Counts)),
		"hashtrend_counter_rank_restored":               1,
		`hashtrend_counter_rank_phase{phase="active"}`:  1,
		`hashtrend_counter_rank_phase{phase="standby"}`: 0,
	} {
		if got, err := c.metric(name); err != nil || int64(got) != want {
			t.Errorf("%s = %v (%v), want %d", name, got, err, want)
		}
	}
	c.stop()
}

func TestExactCountsOfTheDutchTweets(t *testing.T) {
	var posts []post.Post
	for i, line := range systest.SharedLines(t, "tweets", "ctit-dutch-tweets.json.gz") {
		r, err := wire.Decode(line)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if r.Kind == wire.KindPost {
			posts = append(posts, r.Post)
		}
	}
	if len(posts) < 900 {
		t.Fatalf("read %d posts", len(posts))
	}
	p, c, snaps, e := countAll(t, posts, "dutch", 2*time.Minute)
	if len(e.Counts) < 50 {
		t.Fatalf("only %d distinct hashtags in the sample", len(e.Counts))
	}
	verify(t, p, snaps, e)
	c.stop()
}

func TestPoisonInputGoesToTheDeadLetterTopic(t *testing.T) {
	p := newPipeline(t, 3)
	posts := syntheticPosts(2, 2000)
	keys, values := encoded(t, posts)
	poison := map[string][]byte{
		"malformed JSON":    []byte(`{"v":1,"id":"x1",`),
		"invalid UTF-8":     []byte("{\"v\":1,\"id\":\"x2\",\"source\":\"s\",\"created_at\":\"2024-01-01T00:00:00Z\",\"text\":\"#bad\xff\"}"),
		"a 1 MiB value":     append(append([]byte(`{"v":1,"id":"x3","source":"s","created_at":"2024-01-01T00:00:00Z","text":"`), bytes.Repeat([]byte("a"), 1<<20)...), []byte(`","bogus":1}`)...),
		"wrong field types": []byte(`{"v":1,"id":4,"source":"s","created_at":"2024-01-01T00:00:00Z","text":"#x"}`),
		"an empty value":    {},
	}
	var pk, pv [][]byte
	for i := range values {
		pk, pv = append(pk, keys[i]), append(pv, values[i])
		if i%400 == 0 {
			for name, v := range poison {
				pk, pv = append(pk, []byte("poison "+name)), append(pv, v)
			}
		}
	}
	produce(t, p.brokers, p.tweets, pk, pv)
	snaps := follow(t, p)
	c := start(t, p, "poison")
	snaps.waitPosts(t, int64(len(posts)), 2*time.Minute, c)
	verify(t, p, snaps, expect.Of(posts))

	wantBad := len(pv) - len(values)
	dead := kafkatest.ReadAll(t, p.dlq, time.Minute)
	if len(dead) != wantBad {
		t.Fatalf("%d records in the dead-letter topic, want %d", len(dead), wantBad)
	}
	for _, m := range dead {
		name := strings.TrimPrefix(string(m.Key), "poison ")
		if !bytes.Equal(m.Value, poison[name]) {
			t.Fatalf("dead letter %q holds %d bytes, not the original %d", m.Key, len(m.Value), len(poison[name]))
		}
		h := map[string]string{}
		for _, x := range m.Headers {
			h[x.Key] = string(x.Value)
		}
		if !strings.Contains(h[tally.HeaderError], "invalid post") || h[tally.HeaderTopic] != p.tweets || h[tally.HeaderOffset] == "" || h[tally.HeaderPartition] == "" {
			t.Fatalf("dead letter %q headers %v", m.Key, h)
		}
	}
	if n, err := c.metric("hashtrend_counter_invalid_records_total"); err != nil || int(n) != wantBad {
		t.Fatalf("hashtrend_counter_invalid_records_total = %v (%v), want %d", n, err, wantBad)
	}
	c.stop()
}
