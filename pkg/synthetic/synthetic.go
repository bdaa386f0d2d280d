// Package synthetic generates realistic-looking posts for demos, tests and
// benchmarks: the same seed gives the same stream, post for post.
//
// Hashtags are words people write: topic nouns of sport, music, weather,
// tech, food and more, alone or in CamelCase pairs ("CoffeeTime",
// "FußballLiebe", "猫好き"), in the post's language, plus language-neutral
// ones (brands, acronyms, events: "F1", "Eurovision2025"). Their popularity
// is Zipf-distributed within each language's list (words.go, vocab.go).
// The vocabulary holds the awkward cases the hashtag rules must get right:
// the same tag in different letter cases (one counting key, several
// spellings), tags whose case fold changes their length (Straße) and tags in
// non-Latin scripts. Some posts carry their hashtags as source entities
// (Post.Hashtags), the others leave them nil so that the counter extracts
// them from the text; some are retweets, which repeat an earlier post's text
// and hashtags as design.md's rule 1 says a normalised retweet does.
//
// Each post has an author, one of Config.Authors accounts; each account
// writes in one language and, with Config.Networks, belongs to one imitated
// network (bluesky, mastodon, x), whose name is then Post.Source and whose
// forms the post ids and author names take (world.go). With
// Config.AuthorSkew a few accounts write most posts, as on real networks.
//
// The stream can carry a ground truth for trend detection (events.go):
// tags that rise, carried by many distinct authors, on every network or on
// one, in every language or in one (Config.RiseEvery), and flooding
// accounts that post one tag over and over (Config.Flooders); Rises and
// Floods say which, where and when. Older and simpler, Config.Rising keeps
// a few tail tags drawn more often, replaced every DriftEvery posts.
//
// Nothing here is a real post: texts are built from small word lists, ids
// and accounts say they are synthetic.
//
// created_at is deterministic by default: Config.Start plus the post's index
// times Config.Interval. With Config.WallClock it is the time Next is
// called instead, for live demos; the stream is then no longer reproducible
// in that one field. NextAt stamps a post with a time the caller chooses,
// as ingest does to write a stream's history.
package synthetic

import (
	"math/rand"
	"strconv"
	"strings"
	"time"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/post"
)

// Config shapes the stream. The zero value of a field means its default.
type Config struct {
	// Seed selects the stream; equal seeds (and equal settings) give equal
	// posts.
	Seed int64
	// Vocabulary is the number of distinct hashtags (default 2000, at least
	// the built-in tricky tags), shared evenly between the neutral list
	// and the lists of the languages in Langs.
	Vocabulary int
	// Skew is the Zipf exponent s > 1 of tag popularity within a list
	// (default 1.2): the higher, the more the few top tags dominate.
	Skew float64
	// TaggedShare is the share of posts with at least one hashtag
	// (default 0.4; a negative value means none).
	TaggedShare float64
	// MaxTagsPerPost bounds the hashtags of a tagged post (default 4); the
	// number is 1 + a geometric draw, so most have one or two.
	MaxTagsPerPost int
	// Words is the mean number of words of a text (default 14).
	Words int
	// Langs are the languages posts are written in (default en, de, es,
	// fr, ja, nl, pt): each account writes in one, the accounts spread
	// evenly over the entries, so a language listed twice has twice the
	// accounts of one listed once (and is twice as likely to be the one a
	// rise in one language picks). A language without word lists here
	// writes English words and neutral tags.
	Langs []string
	// RetweetShare is the share of posts that retweet an earlier one of
	// the same network (default 0.15; a negative value means none).
	RetweetShare float64
	// EntityShare is the share of posts that carry their hashtags as source
	// entities rather than leaving extraction to the consumer (default 0.5;
	// a negative value means none).
	EntityShare float64
	// Rising is the number of old-style rising tags (default 8; negative:
	// none), RisingShare the share of tag draws that pick one of them
	// (default 0.15), and DriftEvery the number of posts after which the
	// oldest rising tag is replaced by a new one (default 500). Rising
	// names them.
	Rising      int
	RisingShare float64
	DriftEvery  int
	// Start is created_at of the first post (default 2024-01-01T00:00:00Z)
	// and Interval the step between posts (default 10 ms). Interval is
	// also the step of post time the events are scheduled in, whatever
	// stamps the posts.
	Start    time.Time
	Interval time.Duration
	// WallClock stamps each post with the time Next is called instead.
	WallClock bool
	// Source is Post.Source when Networks is empty (default "synthetic").
	Source string
	// Networks are the imitated networks (e.g. bluesky, mastodon, x):
	// each account belongs to one of them, evenly spread, and its posts
	// have that Source. Empty (the default): every post has Source.
	Networks []string
	// Authors is the number of ordinary accounts (default 50,000).
	// AuthorSkew is the Zipf exponent s > 1 of how many posts each writes
	// (the most active account writes about 1 % of the posts at 1.2); 0
	// (the default) draws every post's author uniformly.
	Authors    int
	AuthorSkew float64
	// RiseEvery is the post time between the starts of two rises (0, the
	// default: none), RiseFor how long each lasts (default 4 × RiseEvery),
	// RisePeak its share of the posts at its peak (default 0.01).
	RiseEvery time.Duration
	RiseFor   time.Duration
	RisePeak  float64
	// Flooders is the number of flooding accounts (default 0: none),
	// FloodShare the share of the posts one writes during its wave
	// (default 0.01).
	Flooders   int
	FloodShare float64
}

func (c Config) withDefaults() Config {
	if c.Vocabulary <= 0 {
		c.Vocabulary = 2000
	}
	if c.Vocabulary < len(tricky) {
		c.Vocabulary = len(tricky)
	}
	if c.Skew <= 1 {
		c.Skew = 1.2
	}
	c.TaggedShare = share(c.TaggedShare, 0.4)
	if c.MaxTagsPerPost <= 0 {
		c.MaxTagsPerPost = 4
	}
	if c.Words <= 0 {
		c.Words = 14
	}
	if len(c.Langs) == 0 {
		c.Langs = []string{"en", "de", "es", "fr", "ja", "nl", "pt"}
	}
	c.RetweetShare = share(c.RetweetShare, 0.15)
	c.EntityShare = share(c.EntityShare, 0.5)
	switch {
	case c.Rising < 0:
		c.Rising = 0
	case c.Rising == 0:
		c.Rising = 8
	}
	c.RisingShare = share(c.RisingShare, 0.15)
	if c.DriftEvery <= 0 {
		c.DriftEvery = 500
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if c.Interval <= 0 {
		c.Interval = 10 * time.Millisecond
	}
	if c.Source == "" {
		c.Source = "synthetic"
	}
	if c.Authors <= 0 {
		c.Authors = 50_000
	}
	if c.AuthorSkew <= 1 {
		c.AuthorSkew = 0
	}
	if c.RiseEvery < 0 {
		c.RiseEvery = 0
	}
	if c.RiseFor <= 0 {
		c.RiseFor = 4 * c.RiseEvery
	}
	c.RisePeak = share(c.RisePeak, 0.01)
	c.Flooders = max(c.Flooders, 0)
	c.FloodShare = share(c.FloodShare, 0.01)
	return c
}

func share(v, def float64) float64 {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return def
	case v > 1:
		return 1
	}
	return v
}

// Generator produces the stream. It is not safe for concurrent use.
type Generator struct {
	cfg     Config
	rnd     *rand.Rand // the posts' draws
	sched   *rand.Rand // the events' draws: the schedule depends on the Config alone
	salt    uint64     // of the per-account hashes
	neutral *tagList
	byLang  map[string]*tagList
	authors *rand.Zipf // nil: uniform
	rising  []string   // old-style rising tags, oldest first
	recent  []ring     // per network: the posts a retweet can pick from
	idBase  uint64
	n       uint64

	riseSlot, floodSlot uint64 // posts between event slots; 0: none
	reuseAfter          uint64 // rises before a tag may rise again
	flooders            []string
	events              []*event // every event scheduled, in order
	live                []*event // those not yet ended
	risen               map[string]uint64
}

// ring holds the last recentSize posts of one network.
type ring struct {
	posts []post.Post
	next  int
}

// recentSize bounds the posts a retweet can pick from.
const recentSize = 256

// New returns a generator for cfg.
func New(cfg Config) *Generator {
	cfg = cfg.withDefaults()
	rnd := rand.New(rand.NewSource(cfg.Seed))
	g := &Generator{
		cfg:    cfg,
		rnd:    rnd,
		sched:  rand.New(rand.NewSource(cfg.Seed ^ 0x5c4ed)),
		salt:   splitmix(uint64(cfg.Seed) ^ 0xacc0),
		recent: make([]ring, max(len(cfg.Networks), 1)),
		idBase: 1_000_000_000_000_000_000 + uint64(splitmix(uint64(cfg.Seed))%1_000_000_000)*1_000_000_000,
		risen:  map[string]uint64{},
	}
	neutral, byLang, keys := buildVocab(rand.New(rand.NewSource(cfg.Seed^0x5eed)), cfg.Vocabulary, cfg.Langs)
	g.neutral = neutral.withZipf(rnd, cfg.Skew)
	g.byLang = byLang
	for _, l := range cfg.Langs {
		if tl, ok := byLang[l]; ok && tl.zipf == nil {
			tl.withZipf(rnd, cfg.Skew)
		}
	}
	if cfg.AuthorSkew > 1 {
		// v = 20 flattens the very top: the busiest account writes about
		// 1 % of the posts rather than a fifth.
		g.authors = rand.NewZipf(rnd, cfg.AuthorSkew, 20, uint64(cfg.Authors-1))
	}
	for range cfg.Rising {
		g.rising = append(g.rising, g.tailTag())
	}
	if cfg.RiseEvery > 0 {
		g.riseSlot = g.steps(cfg.RiseEvery)
		g.reuseAfter = max(1, uint64(24*time.Hour/cfg.RiseEvery))
	}
	if cfg.Flooders > 0 {
		g.floodSlot = g.steps(floodEvery)
		g.flooders = floodTags(cfg.Flooders, func(t string) bool { return keys[hashtag.Key(t)] })
	}
	return g
}

// Config returns the settings in use, defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Count returns how many posts Next and NextAt have returned.
func (g *Generator) Count() uint64 { return g.n }

// Rising returns the old-style rising tags as the next post will draw
// them, in their listed spelling, oldest first: for tests that check what
// a trend detector finds.
func (g *Generator) Rising() []string {
	out := make([]string, len(g.rising))
	copy(out, g.rising)
	return out
}

// Take returns the next n posts.
func (g *Generator) Take(n int) []post.Post {
	out := make([]post.Post, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

// Next returns the next post of the stream, stamped as the Config says.
func (g *Generator) Next() post.Post {
	if g.cfg.WallClock {
		return g.NextAt(time.Now().UTC().Truncate(time.Millisecond))
	}
	return g.NextAt(g.cfg.Start.Add(time.Duration(g.n) * g.cfg.Interval))
}

// NextAt returns the next post of the stream with created_at t. The posts
// are the same whatever their times: only created_at and the times of the
// ground truth (Rises, Floods) follow t.
func (g *Generator) NextAt(t time.Time) post.Post {
	i := g.n
	g.n++
	if g.cfg.Rising > 0 && i > 0 && i%uint64(g.cfg.DriftEvery) == 0 {
		g.rising = append(g.rising[1:], g.tailTag())
	}
	g.schedule(i)
	p := post.Post{CreatedAt: t.UTC()}
	e := g.track(i, p.CreatedAt)
	if e != nil && e.flood {
		g.by(&p, i, e.account)
		g.compose(&p, g.langOf(e.account), []string{e.tag}, true)
		return p // never retweeted
	}
	if e != nil {
		if k, ok := g.crowdAuthor(e.net, e.lang); ok {
			g.by(&p, i, k)
			lang := e.lang
			if lang == "" {
				lang = g.langOf(k)
			}
			g.compose(&p, lang, []string{g.spell(e.tag)}, false)
			g.remember(g.netOf(k), p)
			return p
		}
		// No account to carry it (a tiny stream of accounts): an ordinary post.
	}
	k := g.drawAuthor()
	g.by(&p, i, k)
	net := g.netOf(k)
	if r := &g.recent[net]; len(r.posts) > 0 && g.rnd.Float64() < g.cfg.RetweetShare {
		orig := r.posts[g.rnd.Intn(len(r.posts))]
		p.RetweetOf = orig.ID
		if orig.RetweetOf != "" {
			p.RetweetOf = orig.RetweetOf
		}
		p.Text, p.Lang, p.Hashtags = orig.Text, orig.Lang, orig.Hashtags
	} else {
		lang := g.langOf(k)
		g.compose(&p, lang, g.drawTags(lang), false)
	}
	g.remember(net, p)
	return p
}

// by makes account k the author of post i.
func (g *Generator) by(p *post.Post, i, k uint64) {
	p.ID = g.postID(i, k)
	p.Author = g.authorName(k)
	p.Source = g.source(g.netOf(k))
}

// remember adds p, a post of network net, to what retweets pick from.
func (g *Generator) remember(net int, p post.Post) {
	r := &g.recent[net]
	if len(r.posts) < recentSize {
		r.posts = append(r.posts, p)
		return
	}
	r.posts[r.next] = p
	r.next = (r.next + 1) % recentSize
}

// drawTags draws the hashtags of an ordinary post in lang, or none.
func (g *Generator) drawTags(lang string) []string {
	if g.rnd.Float64() >= g.cfg.TaggedShare {
		return nil
	}
	k := 1
	for k < g.cfg.MaxTagsPerPost && g.rnd.Float64() < 0.45 {
		k++
	}
	tags := make([]string, 0, k+1)
	for range k {
		tags = append(tags, g.spell(g.pickTag(lang)))
	}
	if g.rnd.Float64() < 0.03 {
		// The same tag twice, differently spelled: still one mention.
		tags = append(tags, recase(tags[0], strings.ToLower))
	}
	return tags
}

// spell returns a spelling of tag: mostly as listed, sometimes in another
// case, so that one key is seen under several spellings.
func (g *Generator) spell(tag string) string {
	switch r := g.rnd.Float64(); {
	case r < 0.08:
		return recase(tag, strings.ToLower)
	case r < 0.11:
		return recase(tag, strings.ToUpper)
	}
	return tag
}

// recase is tag in another case where that keeps its counting key (Go's
// lower case of İstanbul drops the dot that the case fold keeps).
func recase(tag string, to func(string) string) string {
	if s := to(tag); s == tag || hashtag.Key(s) == hashtag.Key(tag) {
		return s
	}
	return tag
}

// compose writes p's text in lang around tags, and its entities for a
// share of the posts. A spam post always ends with a link.
func (g *Generator) compose(p *post.Post, lang string, tags []string, spam bool) {
	p.Lang = lang
	lex := lexicon(lang)
	n := max(3, g.cfg.Words/2+g.rnd.Intn(g.cfg.Words+1))
	words := make([]string, 0, n+len(tags)+1)
	for range n {
		words = append(words, lex[g.rnd.Intn(len(lex))])
	}
	for _, t := range tags {
		if g.rnd.Float64() < 0.5 {
			words = append(words, "#"+t) // trailing, as many posts do
			continue
		}
		at := g.rnd.Intn(len(words) + 1)
		words = append(words[:at], append([]string{"#" + t}, words[at:]...)...)
	}
	if spam || g.rnd.Float64() < 0.1 {
		words = append(words, "https://example.com/"+strconv.Itoa(g.rnd.Intn(1e6)))
	}
	text := strings.Join(words, " ")
	if g.rnd.Float64() < 0.4 {
		end := punct[g.rnd.Intn(len(punct))]
		// A hashtag running into a final ellipsis is a cut-off fragment,
		// not a tag (package hashtag); this one is whole.
		if end == "…" && len(words) > 0 && strings.HasPrefix(words[len(words)-1], "#") {
			end = " …"
		}
		text += end
	}
	p.Text = text
	if g.rnd.Float64() < g.cfg.EntityShare {
		p.Hashtags = make([]string, 0, len(tags))
		for _, w := range words { // the entities' order is the text's order
			if strings.HasPrefix(w, "#") {
				p.Hashtags = append(p.Hashtags, w[1:])
			}
		}
	}
}

var punct = []string{"!", "!!", "?", " :)", " 🎉", " 🔥", "…"}

// splitmix mixes a seed into a well-spread 64-bit value.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
