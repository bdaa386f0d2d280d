package trend

// Merge returns a tracker holding the union of the buckets of ts: each
// tag's posts added and its author sketches merged, bucket by bucket, as
// one tracker fed with every cell of ts holds them. The trackers must
// share cfg and have seen the same watermarks (the trackers of the facets
// of one stream, one of which is the union of others: the languages
// folded into `other`); the result is closed where they are. It is for
// Top, made when a list is asked for; nothing is added to it after.
func Merge(cfg Config, ts ...*Tracker) *Tracker {
	m := NewTracker(cfg, 0)
	for _, t := range ts {
		for key, s := range t.tags {
			for i := range s.cells {
				c := &s.cells[i]
				m.Add(key, c.Bucket, c.Posts, &c.Authors)
			}
		}
	}
	for _, t := range ts {
		m.closed = max(m.closed, t.closed)
		m.pruned = max(m.pruned, t.pruned)
		if t.first != 0 && (m.first == 0 || t.first < m.first) {
			m.first = t.first
		}
		m.dropped += t.dropped
	}
	return m
}
