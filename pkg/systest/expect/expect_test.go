package expect

import (
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
)

func posts(tags ...[]string) []post.Post {
	var out []post.Post
	for i, t := range tags {
		out = append(out, post.Post{ID: string(rune('a' + i)), Source: "test", CreatedAt: time.Unix(0, 0), Hashtags: t})
	}
	return out
}

func TestOfCountsPostsNotMentionsAndRanksByCountThenKey(t *testing.T) {
	r := Of(posts([]string{"Go", "go", "Kafka"}, []string{"kafka"}, []string{"Zig"}, []string{}, []string{"zig", "Go"}))
	if r.Posts != 5 || r.WithTags != 4 {
		t.Fatalf("posts %d with tags %d, want 5 and 4", r.Posts, r.WithTags)
	}
	want := []snapshot.Entry{{Rank: 1, Hashtag: "Go", Key: "go", Count: 2}, {Rank: 2, Hashtag: "Kafka", Key: "kafka", Count: 2}, {Rank: 3, Hashtag: "Zig", Key: "zig", Count: 2}}
	got := r.Top(10)
	if len(got) != len(want) {
		t.Fatalf("top %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("top %v, want %v", got, want)
		}
	}
}

func TestCheckSequenceCatchesRepeatsGapsAndDecreases(t *testing.T) {
	s := func(batch, posts, top int64) snapshot.Snapshot {
		return snapshot.Snapshot{Batch: batch, Posts: posts, Top: []snapshot.Entry{{Key: "go", Count: top}}}
	}
	at := func(sn snapshot.Snapshot, start int64) snapshot.Snapshot { // a 2 s window from start s
		sn.WindowStart, sn.WindowEnd = time.Unix(start, 0), time.Unix(start+2, 0)
		return sn
	}
	for _, tc := range []struct {
		name  string
		snaps []snapshot.Snapshot
		want  string
	}{
		{"a good sequence passes", []snapshot.Snapshot{s(1, 1, 1), s(2, 3, 2), s(3, 3, 2)}, ""},
		{"a repeated batch is caught", []snapshot.Snapshot{s(1, 1, 1), s(1, 1, 1)}, "follows"},
		{"a skipped batch is caught", []snapshot.Snapshot{s(1, 1, 1), s(3, 1, 1)}, "follows"},
		{"fewer posts are caught", []snapshot.Snapshot{s(1, 5, 1), s(2, 4, 1)}, "posts"},
		{"a smaller hashtag total is caught", []snapshot.Snapshot{s(1, 5, 3), s(2, 6, 2)}, "went down"},
		{"a window published twice is caught", []snapshot.Snapshot{at(s(1, 1, 1), 10), at(s(2, 2, 2), 10)}, "not after"},
		{"an earlier window after a later one is caught", []snapshot.Snapshot{at(s(1, 1, 1), 12), at(s(2, 2, 2), 10)}, "not after"},
		{"windows may be skipped", []snapshot.Snapshot{at(s(1, 1, 1), 10), at(s(2, 2, 2), 16)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSequence(tc.snaps)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("CheckSequence: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAllCountedAndCompareLastLookAtTheLastSnapshotAndTheSequence(t *testing.T) {
	r := Of(posts([]string{"Go"}, []string{"go", "Zig"}))
	top := r.Top(10)
	s := func(batch, n int64) snapshot.Snapshot {
		return snapshot.Snapshot{Batch: batch, Posts: n, PostsWithTags: n, DistinctHashtags: 2, Top: top}
	}
	if r.AllCounted(nil) || r.AllCounted([]snapshot.Snapshot{s(1, 1)}) || !r.AllCounted([]snapshot.Snapshot{s(1, 1), s(2, 2)}) {
		t.Error("AllCounted must hold only when the last snapshot counts both posts")
	}
	for _, tc := range []struct {
		name  string
		snaps []snapshot.Snapshot
		want  string
	}{
		{"the last matching after a good sequence passes", []snapshot.Snapshot{s(1, 2), s(2, 2)}, ""},
		{"no snapshot is an error", nil, "no snapshot"},
		{"a last snapshot short of posts is caught", []snapshot.Snapshot{s(1, 2), s(2, 1)}, "posts"},
		{"a gap in the batches is caught", []snapshot.Snapshot{s(1, 2), s(3, 2)}, "follows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.CompareLast(tc.snaps, 10)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("CompareLast: %v, want %q", err, tc.want)
			}
		})
	}
}
