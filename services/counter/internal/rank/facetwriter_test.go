package rank

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
)

func top(name string, counts ...int64) FacetTop {
	n, err := facet.Parse(name)
	if err != nil {
		panic(err)
	}
	ft := FacetTop{Name: n}
	for i, c := range counts {
		ft.Top = append(ft.Top, snapshot.Entry{Rank: i + 1, Hashtag: fmt.Sprintf("t%d", i), Key: fmt.Sprintf("t%d", i), Count: c})
	}
	return ft
}

func keysOf(recs []facetRecord) []string {
	var out []string
	for _, r := range recs {
		k := r.key
		if r.value == nil {
			k += " (tombstone)"
		}
		out = append(out, k)
	}
	return out
}

func TestTheWriterWritesWhatChangedWithinTheBudget(t *testing.T) {
	w := newFacetWriter()
	end := time.Unix(100, 0)
	step := func(batch int64, budget int, tops ...FacetTop) ([]facetRecord, int) {
		t.Helper()
		recs, waiting, err := w.due(tops, batch, end, budget)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.value == nil {
				continue
			}
			f, ok, err := snapshot.DecodeFacet([]byte(r.key), r.value)
			if err != nil || !ok || f.Batch != batch {
				t.Fatalf("record %s: %+v, %v", r.key, f, err)
			}
		}
		w.committed(recs)
		return recs, waiting
	}
	// The first window writes every facet.
	if recs, waiting := step(1, 1<<20, top("lang:en", 3, 1), top("source:x", 2)); !slices.Equal(keysOf(recs), []string{"lang:en", "source:x"}) || waiting != 0 {
		t.Fatalf("window 1: %v, %d waiting", keysOf(recs), waiting)
	}
	// Unchanged lists are not written again.
	if recs, _ := step(2, 1<<20, top("lang:en", 3, 1), top("source:x", 2)); len(recs) != 0 {
		t.Fatalf("window 2 wrote %v with nothing changed", keysOf(recs))
	}
	// A changed facet is written; one that is gone gets a tombstone.
	if recs, _ := step(3, 1<<20, top("lang:en", 3, 2)); !slices.Equal(keysOf(recs), []string{"lang:en", "source:x (tombstone)"}) {
		t.Fatalf("window 3: %v", keysOf(recs))
	}
	// Over the budget: one record at least, the others wait, the longest
	// waiting first, then by name.
	tops := []FacetTop{top("lang:en", 4, 2), top("lang:ja", 1), top("source:bluesky", 5), top("source:x", 1)}
	if recs, waiting := step(4, 10, tops...); !slices.Equal(keysOf(recs), []string{"lang:en"}) || waiting != 3 {
		t.Fatalf("window 4: %v, %d waiting", keysOf(recs), waiting)
	}
	tops[0] = top("lang:en", 5, 2) // changed again: now it waits since batch 5
	one, _ := step(5, 10, tops...)
	two, _ := step(6, 10, tops...)
	three, _ := step(7, 10, tops...)
	four, waiting := step(8, 10, tops...)
	if got := slices.Concat(keysOf(one), keysOf(two), keysOf(three), keysOf(four)); !slices.Equal(got, []string{"lang:ja", "source:bluesky", "source:x", "lang:en"}) || waiting != 0 {
		t.Fatalf("windows 5 to 8 wrote %v, %d waiting", got, waiting)
	}
	// After a restore the writer knows nothing: every facet the cells
	// name is written again or deleted.
	w = newFacetWriter()
	w.forget([]string{"lang:en", "lang:fr", "source:x"})
	if recs, _ := step(9, 1<<20, top("lang:en", 5, 2)); !slices.Equal(keysOf(recs), []string{"lang:en", "lang:fr (tombstone)", "source:x (tombstone)"}) {
		t.Fatalf("after a restore: %v", keysOf(recs))
	}
}
