// Package synthetic generates realistic-looking posts for demos, tests and
// benchmarks: the same seed gives the same stream, post for post.
//
// Hashtags are drawn from a made-up vocabulary with Zipf-distributed
// popularity, plus a small set of "rising" tags from the long tail that is
// replaced slowly as the stream goes on, so the top of the ranking moves.
// The vocabulary holds the awkward cases the hashtag rules must get right:
// the same tag in different letter cases (one counting key, several
// spellings), tags whose case fold changes their length (Straße) and tags in
// non-Latin scripts. Some posts carry their hashtags as source entities
// (Post.Hashtags), the others leave them nil so that the counter extracts
// them from the text; some are retweets, which repeat an earlier post's text
// and hashtags as design.md's rule 1 says a normalised retweet does.
//
// Nothing here is a real post: texts are built from small word lists.
//
// created_at is deterministic by default: Config.Start plus the post's index
// times Config.Interval. With Config.WallClock it is the time Next is
// called instead, for live demos; the stream is then no longer reproducible
// in that one field.
package synthetic

import (
	"math"
	"math/rand"
	"strconv"
	"strings"
	"time"

	"github.com/hashtrend/hashtrend/pkg/post"
)

// Config shapes the stream. The zero value of a field means its default.
type Config struct {
	// Seed selects the stream; equal seeds (and equal settings) give equal
	// posts.
	Seed int64
	// Vocabulary is the number of distinct hashtags (default 2000, at least
	// the built-in tricky tags).
	Vocabulary int
	// Skew is the Zipf exponent s > 1 of tag popularity (default 1.2): the
	// higher, the more the few top tags dominate.
	Skew float64
	// TaggedShare is the share of posts with at least one hashtag
	// (default 0.4; a negative value means none).
	TaggedShare float64
	// MaxTagsPerPost bounds the hashtags of a tagged post (default 4); the
	// number is 1 + a geometric draw, so most have one or two.
	MaxTagsPerPost int
	// Words is the mean number of words of a text (default 14).
	Words int
	// Langs are the languages posts are written in, chosen uniformly
	// (default en, nl, es, de, ja).
	Langs []string
	// RetweetShare is the share of posts that retweet an earlier one
	// (default 0.15; a negative value means none).
	RetweetShare float64
	// EntityShare is the share of posts that carry their hashtags as source
	// entities rather than leaving extraction to the consumer (default 0.5;
	// a negative value means none).
	EntityShare float64
	// Rising is the number of rising tags (default 8; negative: none),
	// RisingShare the share of tag draws that pick one of them (default
	// 0.15), and DriftEvery the number of posts after which the oldest
	// rising tag is replaced by a new one (default 500).
	Rising      int
	RisingShare float64
	DriftEvery  int
	// Start is created_at of the first post (default 2024-01-01T00:00:00Z)
	// and Interval the step between posts (default 10 ms).
	Start    time.Time
	Interval time.Duration
	// WallClock stamps each post with the time Next is called instead.
	WallClock bool
	// Source is Post.Source (default "synthetic").
	Source string
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
		c.Langs = []string{"en", "nl", "es", "de", "ja"}
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
	cfg    Config
	rnd    *rand.Rand
	zipf   *rand.Zipf
	vocab  []string // display spellings, index = popularity rank
	rising []int    // vocabulary indices, oldest first
	recent []post.Post
	idBase uint64
	n      uint64
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
		zipf:   rand.NewZipf(rnd, cfg.Skew, 1, uint64(cfg.Vocabulary-1)),
		vocab:  vocabulary(rand.New(rand.NewSource(cfg.Seed^0x5eed)), cfg.Vocabulary),
		idBase: 1_000_000_000_000_000_000 + uint64(splitmix(uint64(cfg.Seed))%1_000_000_000)*1_000_000_000,
	}
	for range cfg.Rising {
		g.rising = append(g.rising, g.tailTag())
	}
	return g
}

// Config returns the settings in use, defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Count returns how many posts Next has returned.
func (g *Generator) Count() uint64 { return g.n }

// Rising returns the rising tags as the next post will draw them, in their
// listed spelling, oldest first: for tests that check what a trend
// detector finds.
func (g *Generator) Rising() []string {
	out := make([]string, len(g.rising))
	for i, r := range g.rising {
		out[i] = g.vocab[r]
	}
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

// Next returns the next post of the stream.
func (g *Generator) Next() post.Post {
	i := g.n
	g.n++
	if g.cfg.Rising > 0 && i > 0 && i%uint64(g.cfg.DriftEvery) == 0 {
		g.rising = append(g.rising[1:], g.tailTag())
	}
	p := post.Post{
		ID:     strconv.FormatUint(g.idBase+i, 10),
		Source: g.cfg.Source,
		Author: "u" + strconv.Itoa(int(g.zipfUser())),
	}
	if g.cfg.WallClock {
		p.CreatedAt = time.Now().UTC().Truncate(time.Millisecond)
	} else {
		p.CreatedAt = g.cfg.Start.Add(time.Duration(i) * g.cfg.Interval).UTC()
	}
	if len(g.recent) > 0 && g.rnd.Float64() < g.cfg.RetweetShare {
		orig := g.recent[g.rnd.Intn(len(g.recent))]
		p.RetweetOf = orig.ID
		if orig.RetweetOf != "" {
			p.RetweetOf = orig.RetweetOf
		}
		p.Text, p.Lang, p.Hashtags = orig.Text, orig.Lang, orig.Hashtags
	} else {
		g.compose(&p)
	}
	if len(g.recent) < recentSize {
		g.recent = append(g.recent, p)
	} else {
		g.recent[i%recentSize] = p
	}
	return p
}

// zipfUser draws an author: a few post a lot.
func (g *Generator) zipfUser() uint64 { return g.rnd.Uint64() % 50000 }

// tailTag picks a tag outside the head of the distribution.
func (g *Generator) tailTag() int {
	head := min(50, g.cfg.Vocabulary/4)
	return head + g.rnd.Intn(g.cfg.Vocabulary-head)
}

// pickTag draws one tag's vocabulary index.
func (g *Generator) pickTag() int {
	if len(g.rising) > 0 && g.rnd.Float64() < g.cfg.RisingShare {
		// Younger rising tags are drawn more often: they are the ones rising.
		k := len(g.rising) - 1 - int(math.Sqrt(g.rnd.Float64())*float64(len(g.rising)))
		return g.rising[max(k, 0)]
	}
	return int(g.zipf.Uint64())
}

// spell returns a spelling of tag: mostly as listed, sometimes in another
// case, so that one key is seen under several spellings.
func (g *Generator) spell(tag string) string {
	switch r := g.rnd.Float64(); {
	case r < 0.08:
		return strings.ToLower(tag)
	case r < 0.11:
		return strings.ToUpper(tag)
	}
	return tag
}

func (g *Generator) compose(p *post.Post) {
	lang := g.cfg.Langs[g.rnd.Intn(len(g.cfg.Langs))]
	p.Lang = lang
	lex := lexicon(lang)
	n := max(3, g.cfg.Words/2+g.rnd.Intn(g.cfg.Words+1))
	words := make([]string, 0, n+g.cfg.MaxTagsPerPost+2)
	for range n {
		words = append(words, lex[g.rnd.Intn(len(lex))])
	}
	var tags []string
	if g.rnd.Float64() < g.cfg.TaggedShare {
		k := 1
		for k < g.cfg.MaxTagsPerPost && g.rnd.Float64() < 0.45 {
			k++
		}
		for range k {
			tags = append(tags, g.spell(g.vocab[g.pickTag()]))
		}
		if g.rnd.Float64() < 0.03 {
			// The same tag twice, differently spelled: still one mention.
			tags = append(tags, strings.ToLower(tags[0]))
		}
		for _, t := range tags {
			if g.rnd.Float64() < 0.5 {
				words = append(words, "#"+t) // trailing, as many posts do
				continue
			}
			at := g.rnd.Intn(len(words) + 1)
			words = append(words[:at], append([]string{"#" + t}, words[at:]...)...)
		}
	}
	if g.rnd.Float64() < 0.1 {
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
