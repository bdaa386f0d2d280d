// Package web is the printer's page: a small HTTP server that shows the
// snapshots the printer follows to a person in a browser. The Hub keeps the
// latest snapshot, the last few windows and the latest lists of every facet
// seen on the facets topic; the Server serves one page (HTML, CSS and a
// little JavaScript embedded in the binary, nothing from elsewhere), a
// server-sent event stream that pushes each new snapshot, with the lists of
// the facet the page has picked, to every open page, the latest snapshot
// and each facet's lists as JSON for scripts, and /healthz and /readyz.
//
// Publishing never waits for a page: each connected page is told that
// something new is there and, when it is ready to write, sends the latest
// view, so a slow page skips snapshots instead of holding others up, and a
// page that stops reading is dropped after a write timeout. A facet's new
// lists wake only the pages that show that facet (and every page when the
// set of facets changes, for their pickers).
package web

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/pkg/snapshot"
)

// View is what a page shows for one snapshot.
type View struct {
	Snapshot snapshot.Snapshot `json:"snapshot"`
	// Series holds, for each tag of the running top-N by key, the posts
	// with that tag in each of the last windows, oldest first, null where
	// the snapshots do not tell (see series).
	Series map[string][]*int64 `json:"series"`
	// AgeMS is how long ago the printer received the snapshot, when sent.
	AgeMS int64 `json:"age_ms"`
	// StaleAfterMS is the age past which the page calls it stale.
	StaleAfterMS int64 `json:"stale_after_ms"`
	// Facets are the facets whose lists the printer has seen on the
	// facets topic, for the page's picker: networks, then languages, then
	// network × language, each by name. All is not listed: it is always
	// there.
	Facets []FacetName `json:"facets"`
	// Facet is the lists of the facet the page picked, absent for all
	// (the snapshot's lists are all's).
	Facet *FacetView `json:"facet,omitempty"`

	received time.Time
}

// FacetName is a facet's name and what it is made of ("" for any).
type FacetName struct {
	Name     string `json:"name"`
	Network  string `json:"network,omitempty"`
	Language string `json:"language,omitempty"`
}

// FacetView is one facet's lists for a page.
type FacetView struct {
	Name string `json:"name"`
	// Lists is the facet's latest record on the facets topic, null when
	// the topic has none for it (yet, or any more).
	Lists *snapshot.Facet `json:"lists"`
}

// Hub holds the latest view and the pages waiting for the next one. It is
// safe for use by several goroutines.
type Hub struct {
	windows int

	mu     sync.Mutex
	recent []snapshot.Snapshot // the last windows+1 snapshots, oldest first
	latest *View               // never changed once published
	lists  map[string]*snapshot.Facet
	names  []FacetName              // the keys of lists, in View.Facets order; never changed once set
	pages  map[chan struct{}]string // each page and the facet it shows
}

// NewHub returns a hub that keeps the last windows snapshots (at least 2)
// for the sparklines.
func NewHub(windows int) *Hub {
	return &Hub{windows: max(windows, 2), lists: map[string]*snapshot.Facet{}, names: []FacetName{}, pages: map[chan struct{}]string{}}
}

// Publish makes s the latest snapshot and tells every page. It never blocks
// on a page.
func (h *Hub) Publish(s snapshot.Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.recent); n > 0 && s.Batch <= h.recent[n-1].Batch {
		h.recent = h.recent[:0] // the batches started again: a new run
	}
	if len(h.recent) == h.windows+1 { // one more than shown: the first shown window's predecessor
		h.recent = append(h.recent[:0], h.recent[1:]...)
	}
	h.recent = append(h.recent, s)
	h.latest = &View{
		Snapshot:     s,
		Series:       series(h.recent, h.windows),
		StaleAfterMS: staleAfter(s.WindowEnd.Sub(s.WindowStart)).Milliseconds(),
		Facets:       h.names,
		received:     time.Now(),
	}
	h.wake(func(string) bool { return true })
}

// PublishFacet makes f the latest lists of its facet (a record of the
// facets topic) and tells the pages that show it, or every page when the
// facet is new. It never blocks on a page.
func (h *Hub) PublishFacet(f snapshot.Facet) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, known := h.lists[f.Facet]
	h.lists[f.Facet] = &f
	if !known {
		h.rename()
		h.wake(func(string) bool { return true })
		return
	}
	h.wake(func(shown string) bool { return shown == f.Facet })
}

// RemoveFacet forgets the lists of the facet name (a tombstone on the
// facets topic: the facet has no lists now) and tells every page.
func (h *Hub) RemoveFacet(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.lists[name]; !ok {
		return
	}
	delete(h.lists, name)
	h.rename()
	h.wake(func(string) bool { return true })
}

// rename sets names from lists, and the latest view's with them. The
// caller holds mu.
func (h *Hub) rename() {
	names := make([]FacetName, 0, len(h.lists))
	for name := range h.lists {
		n, err := facet.Parse(name)
		if err != nil { // DecodeFacet let only facets' names through
			continue
		}
		names = append(names, FacetName{Name: name, Network: n.Network, Language: n.Language})
	}
	kind := func(n FacetName) int {
		switch {
		case n.Language == "":
			return 0
		case n.Network == "":
			return 1
		}
		return 2
	}
	slices.SortFunc(names, func(a, b FacetName) int {
		return cmp.Or(cmp.Compare(kind(a), kind(b)), cmp.Compare(a.Name, b.Name))
	})
	h.names = names
	if h.latest != nil {
		v := *h.latest
		v.Facets = names
		h.latest = &v
	}
}

// wake tells the pages whose facet shown is true that there is something
// new. The caller holds mu.
func (h *Hub) wake(shown func(facet string) bool) {
	for page, f := range h.pages {
		if !shown(f) {
			continue
		}
		select {
		case page <- struct{}{}:
		default: // it has not taken the last one yet; it will send the latest
		}
	}
}

// Latest returns a copy of the latest view with its age as of now, and
// false when nothing was published yet.
func (h *Hub) Latest() (View, bool) {
	h.mu.Lock()
	v := h.latest
	h.mu.Unlock()
	if v == nil {
		return View{}, false
	}
	out := *v
	out.AgeMS = time.Since(v.received).Milliseconds()
	return out, true
}

// ViewOf returns Latest with the lists of the facet named name added
// (none for all), and false when no snapshot was published yet.
func (h *Hub) ViewOf(name string) (View, bool) {
	v, ok := h.Latest()
	if !ok || name == facet.All {
		return v, ok
	}
	f, _ := h.Facet(name)
	v.Facet = &FacetView{Name: name, Lists: f}
	return v, true
}

// Facet returns the latest lists of the facet named name, or false when
// the hub has none. The record is shared: do not change it.
func (h *Hub) Facet(name string) (*snapshot.Facet, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.lists[name]
	return f, ok
}

// Pages returns how many pages are connected.
func (h *Hub) Pages() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.pages)
}

// join registers a page showing the facet named shown; its channel
// receives a signal after each Publish, and after a PublishFacet or
// RemoveFacet that changes what it shows.
func (h *Hub) join(shown string) chan struct{} {
	page := make(chan struct{}, 1)
	h.mu.Lock()
	h.pages[page] = shown
	h.mu.Unlock()
	return page
}

func (h *Hub) leave(page chan struct{}) {
	h.mu.Lock()
	delete(h.pages, page)
	h.mu.Unlock()
}

// staleAfter is the age at which a snapshot is late enough to say so:
// three windows (two missed snapshots and the counter's grace), and never
// less than 5 s, so that a busy machine does not make the page flicker.
func staleAfter(window time.Duration) time.Duration {
	return max(3*window, 5*time.Second)
}

// series gives, for each key of the newest snapshot's running top-N, the
// posts with that tag in each of the last windows windows of recent (oldest
// first; the snapshot before them only helps to tell the first). A window's
// figure is the tag's count in that window's own top-N when it is there,
// else the growth of its running total since the window before when both
// snapshots list it and their batches follow each other; otherwise the
// snapshots do not tell, and the figure is nil.
func series(recent []snapshot.Snapshot, windows int) map[string][]*int64 {
	if len(recent) == 0 {
		return map[string][]*int64{}
	}
	totals := make([]map[string]int64, len(recent))
	for i, s := range recent {
		totals[i] = make(map[string]int64, len(s.Top))
		for _, e := range s.Top {
			totals[i][e.Key] = e.Count
		}
	}
	newest := recent[len(recent)-1]
	out := make(map[string][]*int64, len(newest.Top))
	for _, e := range newest.Top {
		line := make([]*int64, len(recent))
		for i, s := range recent {
			line[i] = windowCount(s, e.Key)
			if line[i] != nil || i == 0 || recent[i-1].Batch != s.Batch-1 {
				continue
			}
			now, ok1 := totals[i][e.Key]
			before, ok2 := totals[i-1][e.Key]
			if ok1 && ok2 {
				n := now - before
				line[i] = &n
			}
		}
		out[e.Key] = line[max(0, len(line)-windows):]
	}
	return out
}

func windowCount(s snapshot.Snapshot, key string) *int64 {
	for _, e := range s.WindowTop {
		if e.Key == key {
			n := e.Count
			return &n
		}
	}
	return nil
}
