package synthetic

import (
	"strconv"
	"time"
)

// The scheduled events of the stream, its ground truth for trend tests.
//
// Rises: every Config.RiseEvery of post time a tag begins to rise, for
// Config.RiseFor. Its share of the posts grows linearly from the window's
// start to a peak of Config.RisePeak at 30 % of the window, then falls
// linearly to its end; each of its posts is written by an account drawn
// uniformly from those it rises among, so it is carried by many distinct
// authors. The rises take turns: on every network in every language; in
// one language; on one network; in one language again (a stream of one
// network or one language has only the first kind). A rise's tag is from
// the less popular half of its list (the neutral list when it rises in
// every language, the language's otherwise), so it is quiet before, and is not used again
// by another rise within a day of post time while the list has others.
//
// Floods: every 10 minutes of post time one flooder (they take turns)
// writes Config.FloodShare of the posts for 5 minutes, every one with the
// same tag of its own, which no other account uses: many posts, one
// author. Flood posts are never retweeted.
//
// The schedule is counted in posts at Config.Interval per step of post
// time, and drawn from a source of its own: which tag rises where and in
// which posts depends on the Config alone, never on the posts drawn. The
// times the ground truth reports are the created_at of the posts at the
// windows' edges, whatever stamped them (Next or NextAt).

const (
	floodEvery = 10 * time.Minute
	floodFor   = 5 * time.Minute
	risePeakAt = 0.3 // the peak's place in a rise's window
)

// Rise is a tag the generator made rise.
type Rise struct {
	Tag     string // as listed; hashtag.Key(Tag) is its counting key
	Network string // the one network it rises on; "" for all of them
	Lang    string // the one language it rises in; "" for all of them
	// First, Peak and Last are the indices (Generator.Count before the
	// post) of the first post of its window, the post where its share
	// peaks, and the last post of its window.
	First, Peak, Last uint64
	// From, PeakAt and To are the created_at of those posts; zero until
	// the stream has reached them.
	From, PeakAt, To time.Time
}

// Flood is a wave of posts from one flooding account, all with one tag.
type Flood struct {
	Tag     string // the flooder's own tag, in every post of the wave
	Author  string // Post.Author of the flooder
	Network string // Post.Source of its posts
	Lang    string // the language it writes in
	// First and Last are the indices of the first and last posts of the
	// wave's window, From and To their created_at (zero until reached).
	First, Last uint64
	From, To    time.Time
}

// event is a rise or a flood wave while the stream runs.
type event struct {
	flood   bool
	tag     string
	net     int    // index in Config.Networks; −1: every network
	lang    string // "": every language
	account uint64 // a flood's author
	first   uint64
	peak    uint64
	last    uint64
	from    time.Time
	peakAt  time.Time
	to      time.Time
}

// share is the probability that post i is one of e's.
func (e *event) share(i uint64, c *Config) float64 {
	switch {
	case i < e.first || i > e.last:
		return 0
	case e.flood:
		return c.FloodShare
	case i <= e.peak:
		return c.RisePeak * float64(i-e.first+1) / float64(e.peak-e.first+1)
	}
	return c.RisePeak * float64(e.last-i+1) / float64(e.last-e.peak+1)
}

// steps is d in posts at the stream's Interval, at least 1.
func (g *Generator) steps(d time.Duration) uint64 {
	return max(1, uint64((d+g.cfg.Interval/2)/g.cfg.Interval))
}

// schedule adds the events whose slot begins at post i.
func (g *Generator) schedule(i uint64) {
	if g.riseSlot > 0 && i%g.riseSlot == 0 {
		g.addRise(i/g.riseSlot, i)
	}
	if g.floodSlot > 0 && i%g.floodSlot == 0 {
		g.addFlood(i/g.floodSlot, i)
	}
}

func (g *Generator) addRise(k, at uint64) {
	c := &g.cfg
	e := &event{net: -1}
	kind := k % 4
	if kind == 2 && len(c.Networks) < 2 || kind%2 == 1 && len(c.Langs) < 2 {
		kind = 0
	}
	list := g.neutral
	switch kind {
	case 1, 3:
		e.lang = c.Langs[g.sched.Intn(len(c.Langs))]
		if l, ok := g.byLang[e.lang]; ok {
			list = l
		}
	case 2:
		e.net = g.sched.Intn(len(c.Networks))
	}
	e.tag = g.riseTag(list, k)
	n := g.steps(c.RiseFor)
	e.first = at + uint64(g.sched.Int63n(int64(g.riseSlot/4+1)))
	e.last = e.first + max(n, 2) - 1
	e.peak = e.first + uint64(risePeakAt*float64(e.last-e.first))
	g.events = append(g.events, e)
	g.live = append(g.live, e)
}

// riseTag picks the tag of rise k from the tail of list, its less popular
// half: one that has not risen in the last day, else the one that rose
// longest ago.
func (g *Generator) riseTag(list *tagList, k uint64) string {
	lo := len(list.tags) / 2
	n := len(list.tags) - lo
	start := g.sched.Intn(n)
	best, bestAt := "", uint64(0)
	for j := range n {
		t := list.tags[lo+(start+j)%n]
		at, used := g.risen[t]
		if !used || k-at >= g.reuseAfter {
			best = t
			break
		}
		if best == "" || at < bestAt {
			best, bestAt = t, at
		}
	}
	g.risen[best] = k
	return best
}

func (g *Generator) addFlood(m, at uint64) {
	j := m % uint64(len(g.flooders))
	account := uint64(g.cfg.Authors) + j
	e := &event{flood: true, tag: g.flooders[j], net: g.netOf(account), lang: g.langOf(account), account: account}
	e.first = at + uint64(g.sched.Int63n(int64(g.floodSlot/4+1)))
	e.last = e.first + g.steps(floodFor) - 1
	g.events = append(g.events, e)
	g.live = append(g.live, e)
}

// floodTags names the flooders' tags: a spam word each (with a number once
// the words run out), none of them in the vocabulary.
func floodTags(n int, taken func(string) bool) []string {
	out := make([]string, 0, n)
	for i := 0; len(out) < n; i++ {
		t := spamWords[i%len(spamWords)]
		if i >= len(spamWords) {
			t += strconv.Itoa(i / len(spamWords))
		}
		if !taken(t) {
			out = append(out, t)
		}
	}
	return out
}

// Rises returns the rises whose window the stream has entered, in the
// order they began.
func (g *Generator) Rises() []Rise {
	var out []Rise
	for _, e := range g.events {
		if e.flood || e.first >= g.n {
			continue
		}
		r := Rise{Tag: e.tag, Lang: e.lang, First: e.first, Peak: e.peak, Last: e.last, From: e.from, PeakAt: e.peakAt, To: e.to}
		if e.net >= 0 {
			r.Network = g.cfg.Networks[e.net]
		}
		out = append(out, r)
	}
	return out
}

// Floods returns the flood waves whose window the stream has entered, in
// the order they began.
func (g *Generator) Floods() []Flood {
	var out []Flood
	for _, e := range g.events {
		if !e.flood || e.first >= g.n {
			continue
		}
		out = append(out, Flood{Tag: e.tag, Author: g.authorName(e.account), Network: g.source(e.net), Lang: e.lang,
			First: e.first, Last: e.last, From: e.from, To: e.to})
	}
	return out
}

// track notes post i's time on the events it is an edge of, drops the
// events that have ended, and returns the event post i belongs to, or nil
// for an ordinary post.
func (g *Generator) track(i uint64, t time.Time) *event {
	live := g.live[:0]
	total := 0.0
	for _, e := range g.live {
		if i == e.first {
			e.from = t
		}
		if i == e.peak && !e.flood {
			e.peakAt = t
		}
		if i == e.last {
			e.to = t
		}
		if i <= e.last {
			live = append(live, e)
			total += e.share(i, &g.cfg)
		}
	}
	clear(g.live[len(live):])
	g.live = live
	if total == 0 {
		return nil
	}
	u := g.rnd.Float64()
	for _, e := range g.live {
		s := e.share(i, &g.cfg)
		if u < s {
			return e
		}
		u -= s
	}
	return nil
}
