package synthetic_test

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/synthetic"
)

// demo is the stream of the demo: three networks, Zipf activity, rises and
// flooders, the old-style drift off; posts step by interval.
func demo(seed int64, interval time.Duration) synthetic.Config {
	return synthetic.Config{
		Seed: seed, Interval: interval, Rising: -1,
		Networks: []string{"bluesky", "mastodon", "x"}, AuthorSkew: 1.2,
		RiseEvery: 10 * time.Minute, RiseFor: 40 * time.Minute, Flooders: 3,
	}
}

var allLangs = []string{"en", "de", "es", "fr", "ja", "nl", "pt"}

func keysOf(tags []string) map[string]bool {
	out := map[string]bool{}
	for _, t := range tags {
		out[hashtag.Key(t)] = true
	}
	return out
}

func japanese(s string) bool {
	for _, r := range s {
		if unicode.In(r, unicode.Hiragana, unicode.Katakana, unicode.Han) {
			return true
		}
	}
	return false
}

func TestEveryTagOfTheVocabularyIsOneHashtagWithAKeyOfItsOwn(t *testing.T) {
	g := synthetic.New(synthetic.Config{Seed: 1})
	owner := map[string]string{}
	total := 0
	for _, lang := range append([]string{""}, allLangs...) {
		tags := g.Vocabulary(lang)
		if len(tags) < 200 {
			t.Errorf("list %q has %d tags, want about 2000/8", lang, len(tags))
		}
		total += len(tags)
		for _, tag := range tags {
			if !hashtag.IsValid("#" + tag) {
				t.Errorf("list %q: #%s is not one hashtag", lang, tag)
			}
			k := hashtag.Key(tag)
			if o, ok := owner[k]; ok {
				t.Errorf("key %q is in list %q and in list %q", k, o, lang)
			}
			owner[k] = lang
			if lang == "ja" && !japanese(tag) && tag != "東京" {
				t.Errorf("Japanese tag %q is not in Japanese script", tag)
			}
			if lang != "ja" && japanese(tag) {
				t.Errorf("list %q holds the Japanese-script tag %q", lang, tag)
			}
		}
	}
	if total < 2000 || total > 2000+13 {
		t.Errorf("%d tags in all, want 2000", total)
	}
	for tag, lang := range map[string]string{"Straße": "de", "東京": "ja", "café": "fr", "KafkaSummit": "", "Москва": ""} {
		if !slices.Contains(g.Vocabulary(lang), tag) {
			t.Errorf("tricky tag %q is not in list %q", tag, lang)
		}
	}
	// A language left out of the stream: its tricky tags go neutral.
	en := synthetic.New(synthetic.Config{Seed: 1, Langs: []string{"en"}})
	if !slices.Contains(en.Vocabulary(""), "Straße") || en.Vocabulary("de") != nil {
		t.Error("with English only, Straße is not in the neutral list, or German has a list")
	}
	big := synthetic.New(synthetic.Config{Seed: 1, Vocabulary: 200_000})
	n := len(big.Vocabulary(""))
	for _, l := range allLangs {
		n += len(big.Vocabulary(l))
	}
	if n != 200_000 {
		t.Errorf("Vocabulary 200000 gave %d tags", n)
	}
}

func TestTagsAreInThePostsLanguageOrNeutral(t *testing.T) {
	cfg := demo(2, 50*time.Millisecond)
	g := synthetic.New(cfg)
	posts := g.Take(60_000)
	neutral := keysOf(g.Vocabulary(""))
	floods := map[string]bool{}
	for _, f := range g.Floods() {
		floods[hashtag.Key(f.Tag)] = true
	}
	own := map[string]map[string]bool{}
	for _, l := range allLangs {
		own[l] = keysOf(g.Vocabulary(l))
	}
	ownShare := map[string][2]int{} // lang → own-list mentions, all mentions
	for _, p := range posts {
		for _, tg := range hashtag.Of(p) {
			switch {
			case own[p.Lang][tg.Key]:
				c := ownShare[p.Lang]
				ownShare[p.Lang] = [2]int{c[0] + 1, c[1] + 1}
			case neutral[tg.Key] || floods[tg.Key]:
				c := ownShare[p.Lang]
				ownShare[p.Lang] = [2]int{c[0], c[1] + 1}
			default:
				t.Fatalf("post %s in %s carries #%s, of neither its language nor the neutral list", p.ID, p.Lang, tg.Spelling)
			}
			if p.Lang != "ja" && japanese(tg.Spelling) {
				t.Fatalf("post %s in %s carries the Japanese #%s", p.ID, p.Lang, tg.Spelling)
			}
		}
	}
	for _, l := range allLangs {
		c := ownShare[l]
		if c[1] < 500 || float64(c[0])/float64(c[1]) < 0.6 {
			t.Errorf("%s: %d of %d tag mentions from its own list, want most (about 3 in 4)", l, c[0], c[1])
		}
	}
}

var idForm = map[string]*regexp.Regexp{
	"bluesky":  regexp.MustCompile(`^at://(did:plc:synthetic[a-z2-7]{15})/app\.bsky\.feed\.post/[2-7a-z]{13}$`),
	"mastodon": regexp.MustCompile(`^https://([a-z]+\.example)/users/(u[0-9]+)/statuses/[0-9]{19}$`),
	"x":        regexp.MustCompile(`^[0-9]{19}$`),
}

func TestEachAccountWritesOnOneNetworkInOneLanguageWithThatNetworksIds(t *testing.T) {
	g := synthetic.New(demo(3, 10*time.Millisecond))
	posts := g.Take(50_000)
	byID := map[string]post.Post{}
	type account struct{ source, lang string }
	accounts := map[string]account{}
	perNetwork := map[string]int{}
	for _, p := range posts {
		byID[p.ID] = p
		perNetwork[p.Source]++
		re, ok := idForm[p.Source]
		if !ok {
			t.Fatalf("post %s from %q", p.ID, p.Source)
		}
		m := re.FindStringSubmatch(p.ID)
		switch {
		case m == nil:
			t.Fatalf("%s post id %q is not in its form", p.Source, p.ID)
		case p.Source == "bluesky" && p.Author != m[1]:
			t.Fatalf("bluesky post %s by %s, not the DID of its URI", p.ID, p.Author)
		case p.Source == "mastodon" && p.Author != m[2]+"@"+m[1]:
			t.Fatalf("mastodon post %s by %s, not the account of its URI", p.ID, p.Author)
		case p.Source == "x" && strings.Trim(p.Author, "0123456789") != "":
			t.Fatalf("x post %s by %q, not a numeric id", p.ID, p.Author)
		}
		if p.RetweetOf != "" {
			if o, ok := byID[p.RetweetOf]; !ok || o.Source != p.Source {
				t.Fatalf("%s post %s retweets %s of another network or none", p.Source, p.ID, p.RetweetOf)
			}
			continue // in its original's language
		}
		a, seen := accounts[p.Author]
		if seen && (a.source != p.Source || a.lang != p.Lang) {
			t.Fatalf("account %s wrote on %s in %s and on %s in %s", p.Author, a.source, a.lang, p.Source, p.Lang)
		}
		accounts[p.Author] = account{p.Source, p.Lang}
	}
	for _, n := range []string{"bluesky", "mastodon", "x"} {
		if perNetwork[n] < len(posts)/5 {
			t.Errorf("%d of %d posts on %s, want about a third", perNetwork[n], len(posts), n)
		}
	}
}

func TestALanguageListedTwiceHasTwiceTheAccounts(t *testing.T) {
	langs := []string{"en", "en", "en", "ja", "ja", "de", "nl"}
	g := synthetic.New(synthetic.Config{Seed: 6, Langs: langs, RetweetShare: -1})
	accounts := map[string]map[string]bool{} // language → accounts
	n := 0
	for _, p := range g.Take(60_000) {
		if accounts[p.Lang] == nil {
			accounts[p.Lang] = map[string]bool{}
		}
		if !accounts[p.Lang][p.Author] {
			accounts[p.Lang][p.Author] = true
			n++
		}
	}
	for lang, want := range map[string]float64{"en": 3.0 / 7, "ja": 2.0 / 7, "de": 1.0 / 7, "nl": 1.0 / 7} {
		if got := float64(len(accounts[lang])) / float64(n); got < want-0.02 || got > want+0.02 {
			t.Errorf("%s: %d of %d accounts (%.3f), want %.3f", lang, len(accounts[lang]), n, got, want)
		}
	}
	if len(accounts) != 4 {
		t.Errorf("posts in %d languages, want en, ja, de, nl", len(accounts))
	}
	// The vocabulary is that of each language listed once.
	once := synthetic.New(synthetic.Config{Seed: 6, Langs: []string{"en", "ja", "de", "nl"}})
	for _, l := range []string{"", "en", "ja", "de", "nl"} {
		if !slices.Equal(g.Vocabulary(l), once.Vocabulary(l)) {
			t.Errorf("list %q differs when its language is listed more than once", l)
		}
	}
}

func TestWithoutNetworksPostsKeepTheSourceAndPlainIds(t *testing.T) {
	for _, p := range synthetic.New(synthetic.Config{Seed: 4}).Take(2000) {
		if p.Source != "synthetic" || strings.Trim(p.ID, "0123456789") != "" || !regexp.MustCompile(`^u[0-9]+$`).MatchString(p.Author) {
			t.Fatalf("post %s from %q by %q", p.ID, p.Source, p.Author)
		}
	}
}

// postsPerAuthor counts the posts of each author, most active first.
func postsPerAuthor(posts []post.Post) []int {
	n := map[string]int{}
	for _, p := range posts {
		n[p.Author]++
	}
	out := make([]int, 0, len(n))
	for _, c := range n {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b int) int { return b - a })
	return out
}

func TestWithAuthorSkewAFewAccountsWriteMostPosts(t *testing.T) {
	const n = 200_000
	skewed := postsPerAuthor(synthetic.New(demo(5, 10*time.Millisecond)).Take(n))
	top1 := 0
	for _, c := range skewed[:500] { // 1 % of 50,000 accounts
		top1 += c
	}
	if median := skewed[len(skewed)/2]; skewed[0] < 100*median || float64(top1)/n < 0.4 {
		t.Errorf("skewed: the top account writes %d posts, the median one %d; the top 500 write %d of %d", skewed[0], median, top1, n)
	}
	flat := postsPerAuthor(synthetic.New(synthetic.Config{Seed: 5}).Take(n))
	if median := flat[len(flat)/2]; flat[0] > 5*median {
		t.Errorf("uniform: the top account writes %d posts, the median one %d", flat[0], median)
	}
}

func TestTheSameSeedGivesTheSameDemoStreamAndTruthWhateverTheTimes(t *testing.T) {
	a, b := synthetic.New(demo(7, 50*time.Millisecond)), synthetic.New(demo(7, 50*time.Millisecond))
	pa, pb := a.Take(40_000), b.Take(40_000)
	if !reflect.DeepEqual(pa, pb) || !reflect.DeepEqual(a.Rises(), b.Rises()) || !reflect.DeepEqual(a.Floods(), b.Floods()) {
		t.Fatal("two demo generators with seed 7 differ")
	}
	// Stamped by the caller at other times: the same posts, and the same
	// events at the same posts, stamped with the caller's times.
	c := synthetic.New(demo(7, 50*time.Millisecond))
	at := time.Date(2030, 5, 1, 0, 0, 0, 0, time.UTC)
	times := make([]time.Time, len(pa))
	for i := range pa {
		times[i] = at.Add(time.Duration(i) * 3 * time.Millisecond)
		p := c.NextAt(times[i])
		if !p.CreatedAt.Equal(times[i]) {
			t.Fatalf("post %d created at %s, stamped %s", i, p.CreatedAt, times[i])
		}
		p.CreatedAt = pa[i].CreatedAt
		if !reflect.DeepEqual(p, pa[i]) {
			t.Fatalf("post %d differs when stamped otherwise:\n%+v\n%+v", i, p, pa[i])
		}
	}
	ra, rc := a.Rises(), c.Rises()
	if len(ra) != len(rc) || len(ra) == 0 {
		t.Fatalf("%d and %d rises", len(ra), len(rc))
	}
	for i := range ra {
		if ra[i].Tag != rc[i].Tag || ra[i].First != rc[i].First || !rc[i].From.Equal(times[rc[i].First]) {
			t.Errorf("rise %d: %+v, stamped otherwise %+v", i, ra[i], rc[i])
		}
	}
}

func BenchmarkNextDemo(b *testing.B) {
	g := synthetic.New(demo(1, 5*time.Millisecond))
	b.ReportAllocs()
	for b.Loop() {
		g.Next()
	}
}
