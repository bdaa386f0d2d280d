package synthetic

import "strconv"

// The accounts of the stream. Accounts 0 to Authors−1 write the ordinary
// posts and carry the rises; account Authors+j is flooder j. An account's
// network and language are fixed, taken from a hash of the seed and its
// number, so they cost no draw and are the same whatever else the stream
// does.

// Salts of the per-account hashes.
const (
	netSalt  = 0x6e6574776f726b73
	langSalt = 0x6c616e6775616765
	hostSalt = 0x686f737473686f73
)

// mastodonHosts are the instances synthetic Mastodon accounts live on:
// reserved .example names, so nobody mistakes them for real ones.
var mastodonHosts = []string{"mastodon.example", "social.example", "toot.example"}

// netOf is the index in Config.Networks of account k's network (0 when the
// stream has none or one).
func (g *Generator) netOf(k uint64) int {
	switch n := uint64(len(g.cfg.Networks)); {
	case n < 2:
		return 0
	case k >= uint64(g.cfg.Authors): // flooders take the networks in turn
		return int((k - uint64(g.cfg.Authors)) % n)
	}
	return int(splitmix(g.salt^netSalt+k) % uint64(len(g.cfg.Networks)))
}

// langOf is the language account k writes in.
func (g *Generator) langOf(k uint64) string {
	return g.cfg.Langs[splitmix(g.salt^langSalt+k)%uint64(len(g.cfg.Langs))]
}

// source is Post.Source of network index net.
func (g *Generator) source(net int) string {
	if len(g.cfg.Networks) == 0 {
		return g.cfg.Source
	}
	return g.cfg.Networks[net]
}

// drawAuthor draws the account of an ordinary post: by Zipf rank with
// Config.AuthorSkew (account 0 the most active), else uniformly.
func (g *Generator) drawAuthor() uint64 {
	if g.authors != nil {
		return g.authors.Uint64()
	}
	return g.rnd.Uint64() % uint64(g.cfg.Authors)
}

// crowdAuthor draws, uniformly, an account of network net (−1: any) that
// writes in lang ("": any): the many who join a rise. False when none is
// found in a bounded number of tries (a tiny stream of accounts).
func (g *Generator) crowdAuthor(net int, lang string) (uint64, bool) {
	for range 1000 {
		k := g.rnd.Uint64() % uint64(g.cfg.Authors)
		if (net < 0 || g.netOf(k) == net) && (lang == "" || g.langOf(k) == lang) {
			return k, true
		}
	}
	return 0, false
}

// authorName is account k as its network names accounts: a DID on
// Bluesky, user@instance on Mastodon, a number on X, "u<k>" elsewhere.
func (g *Generator) authorName(k uint64) string {
	switch g.network(k) {
	case "bluesky":
		return did(k)
	case "mastodon":
		return "u" + strconv.FormatUint(k, 10) + "@" + g.host(k)
	case "x":
		return strconv.FormatUint(1_000_000_000_000+k, 10)
	}
	return "u" + strconv.FormatUint(k, 10)
}

// postID is the id of post i by account k, in its network's form: an
// at:// URI with a TID record key on Bluesky, a status URI on Mastodon
// (what the mastodon source keeps as the id), a number elsewhere. The
// number is the same in all forms, so ids stay unique across networks.
func (g *Generator) postID(i, k uint64) string {
	n := g.idBase + i
	switch g.network(k) {
	case "bluesky":
		return "at://" + did(k) + "/app.bsky.feed.post/" + tid(n)
	case "mastodon":
		return "https://" + g.host(k) + "/users/u" + strconv.FormatUint(k, 10) + "/statuses/" + strconv.FormatUint(n, 10)
	}
	return strconv.FormatUint(n, 10)
}

func (g *Generator) network(k uint64) string {
	if len(g.cfg.Networks) == 0 {
		return ""
	}
	return g.cfg.Networks[g.netOf(k)]
}

func (g *Generator) host(k uint64) string {
	return mastodonHosts[splitmix(g.salt^hostSalt+k)%uint64(len(mastodonHosts))]
}

// did is account k's decentralised identifier: did:plc: and 24 base32
// characters, the first nine of them spelling "synthetic".
func did(k uint64) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var b [15]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = alphabet[k&31]
		k >>= 5
	}
	return "did:plc:synthetic" + string(b[:])
}

// tid is n as a Bluesky record key: 13 characters of base32-sortable.
func tid(n uint64) string {
	const alphabet = "234567abcdefghijklmnopqrstuvwxyz"
	var b [13]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = alphabet[n&31]
		n >>= 5
	}
	return string(b[:])
}
