package source

import (
	"sync"

	"github.com/hashtrend/hashtrend/pkg/wire"
)

// This file holds what the two live sources, Bluesky and Mastodon, share
// beyond the connection loop (netloop.go): the memory of recent post ids
// that drops reconnect overlaps.

// recentIDs remembers the last n post ids, to drop the posts a reconnect
// delivers twice. Safe for concurrent use.
type recentIDs struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

func newRecentIDs(n int) *recentIDs {
	return &recentIDs{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add records id and reports whether it is new.
func (r *recentIDs) add(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.set[id]; ok {
		return false
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.set[id] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
	return true
}

// countMessage counts a non-post message by its kind.
func (m *Metrics) countMessage(r wire.Result) { m.message(r.Kind.String()) }
