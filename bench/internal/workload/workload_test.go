package workload_test

import (
	"context"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/bench/internal/progress"
	"github.com/hashtrend/hashtrend/bench/internal/workload"
	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/kafkatest"
	"github.com/hashtrend/hashtrend/pkg/post"
)

func TestFillWritesEveryPostAndCountsWhatIsOnTheTopic(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t, "fill", 3, map[string]string{"retention.ms": "-1"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c, err := workload.Fill(ctx, brokers, workload.Spec{Topic: topic, Posts: 3000, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}

	// Recount from what the topic holds, not from the generator.
	msgs := kafkatest.ReadAll(t, topic, time.Minute)
	if len(msgs) != 3000 || c.Posts != 3000 {
		t.Fatalf("topic holds %d records, Fill reported %d posts, want 3000", len(msgs), c.Posts)
	}
	got := map[string]int64{}
	var withTags int64
	for _, m := range msgs {
		p, err := post.Decode(m.Value)
		if err != nil {
			t.Fatalf("offset %v: %v", m.TopicPartition, err)
		}
		if string(m.Key) != p.ID || !m.Timestamp.Equal(p.CreatedAt) {
			t.Fatalf("record key %q / timestamp %s, want post id %q / created_at %s", m.Key, m.Timestamp, p.ID, p.CreatedAt)
		}
		tags := hashtag.Of(p)
		if len(tags) > 0 {
			withTags++
		}
		for _, tag := range tags {
			got[tag.Key]++
		}
	}
	if withTags != c.PostsWithTags || withTags == 0 {
		t.Errorf("posts with hashtags: topic %d, Fill %d", withTags, c.PostsWithTags)
	}
	if len(got) != len(c.ByKey) {
		t.Fatalf("topic has %d keys, Fill counted %d", len(got), len(c.ByKey))
	}
	for k, n := range got {
		if c.ByKey[k] != n {
			t.Errorf("key %q: topic %d, Fill %d", k, n, c.ByKey[k])
		}
	}

	pc, err := progress.NewChecker(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	end, err := pc.EndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, o := range end {
		sum += o
	}
	if sum != 3000 {
		t.Errorf("end offsets sum to %d, want 3000", sum)
	}
}

func TestProbeTimeReadsTheSendTimeFromAProbeTag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		want int64
	}{
		{"probe1712345678901", true, 1712345678901},
		{"#probe1712345678901", true, 1712345678901},
		{"probe", false, 0},
		{"probeX12", false, 0},
		{"kafkasummit", false, 0},
	} {
		at, ok := workload.ProbeTime(tc.in)
		if ok != tc.ok || ok && at.UnixMilli() != tc.want {
			t.Errorf("ProbeTime(%q) = %v, %v; want %d, %v", tc.in, at, ok, tc.want, tc.ok)
		}
	}
}
