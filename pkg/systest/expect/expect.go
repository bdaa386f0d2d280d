// Package expect computes what the counter must report for a set of posts,
// straight from the posts and independently of the counter's code: which
// hashtags a post has comes from pkg/hashtag (tested on its own against
// twitter-text's conformance suite); the counting, ranking and spelling
// choice are done here again. It is apart from systest so that hashtag's
// own tests can use systest without an import cycle.
package expect

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
)

// Report is what the counter must report for a set of posts, counted
// here straight from the posts: which hashtags a post has comes from
// pkg/hashtag (tested on its own), the counting and ranking do not.
type Report struct {
	Posts, WithTags int64
	Counts          map[string]int64            // key → posts mentioning it
	Spellings       map[string]map[string]int64 // key → spelling → times seen
}

// Of counts posts.
func Of(posts []post.Post) Report {
	e := Report{Counts: map[string]int64{}, Spellings: map[string]map[string]int64{}}
	for _, p := range posts {
		e.Posts++
		tags := hashtag.Of(p)
		if len(tags) > 0 {
			e.WithTags++
		}
		for _, tg := range tags {
			e.Counts[tg.Key]++
			if e.Spellings[tg.Key] == nil {
				e.Spellings[tg.Key] = map[string]int64{}
			}
			e.Spellings[tg.Key][tg.Spelling]++
		}
	}
	return e
}

// Spelling is the spelling of key seen most often, ties to the smallest.
func (e Report) Spelling(key string) string {
	best, n := "", int64(0)
	for s, k := range e.Spellings[key] {
		if k > n || k == n && s < best {
			best, n = s, k
		}
	}
	return best
}

// Top is the expected top-n list: by count, ties by key.
func (e Report) Top(n int) []snapshot.Entry {
	keys := make([]string, 0, len(e.Counts))
	for k := range e.Counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(e.Counts[b], e.Counts[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	var out []snapshot.Entry
	for i, k := range keys[:min(n, len(keys))] {
		out = append(out, snapshot.Entry{Rank: i + 1, Hashtag: e.Spelling(k), Key: k, Count: e.Counts[k]})
	}
	return out
}

// CheckSequence returns an error unless snaps (in topic order) number their
// batches consecutively, never repeating or skipping one, and no running
// figure, nor the total of any hashtag in a top list, ever decreases.
func CheckSequence(snaps []snapshot.Snapshot) error {
	seen := map[string]int64{}
	for i, b := range snaps {
		for _, en := range b.Top {
			if en.Count < seen[en.Key] {
				return fmt.Errorf("batch %d: total of %s went down from %d to %d", b.Batch, en.Key, seen[en.Key], en.Count)
			}
			seen[en.Key] = en.Count
		}
		if i == 0 {
			continue
		}
		a := snaps[i-1]
		if b.Batch != a.Batch+1 {
			return fmt.Errorf("batch %d follows batch %d", b.Batch, a.Batch)
		}
		// One snapshot per window, in window order (windows without a
		// snapshot may be skipped).
		if !a.WindowStart.IsZero() && !b.WindowStart.IsZero() && !b.WindowStart.After(a.WindowStart) {
			return fmt.Errorf("batch %d is of the window from %v, not after batch %d's from %v", b.Batch, b.WindowStart, a.Batch, a.WindowStart)
		}
		if b.Posts < a.Posts || b.PostsWithTags < a.PostsWithTags || b.DistinctHashtags < a.DistinctHashtags {
			return fmt.Errorf("batch %d: posts %d, with hashtags %d, distinct %d; batch %d had %d, %d, %d",
				b.Batch, b.Posts, b.PostsWithTags, b.DistinctHashtags, a.Batch, a.Posts, a.PostsWithTags, a.DistinctHashtags)
		}
	}
	return nil
}

// AllCounted reports whether the last of snaps counts all of e's posts,
// what a test waits for before it compares (see CompareLast).
func (e Report) AllCounted(snaps []snapshot.Snapshot) bool {
	return len(snaps) > 0 && snaps[len(snaps)-1].Posts >= e.Posts
}

// CompareLast compares the last of snaps with e (see Compare) and checks
// the whole sequence (see CheckSequence).
func (e Report) CompareLast(snaps []snapshot.Snapshot, n int) error {
	if len(snaps) == 0 {
		return fmt.Errorf("no snapshot")
	}
	if err := e.Compare(snaps[len(snaps)-1], n); err != nil {
		return err
	}
	return CheckSequence(snaps)
}

// Compare returns an error unless s reports exactly e: the running figures
// and the top-n list with counts and display spellings.
func (e Report) Compare(s snapshot.Snapshot, n int) error {
	if s.Posts != e.Posts || s.PostsWithTags != e.WithTags || s.DistinctHashtags != int64(len(e.Counts)) {
		return fmt.Errorf("batch %d: posts %d, with hashtags %d, distinct %d; want %d, %d, %d",
			s.Batch, s.Posts, s.PostsWithTags, s.DistinctHashtags, e.Posts, e.WithTags, len(e.Counts))
	}
	if want := e.Top(n); !slices.Equal(s.Top, want) {
		return fmt.Errorf("batch %d: top\n  %v\nwant\n  %v", s.Batch, s.Top, want)
	}
	return nil
}
