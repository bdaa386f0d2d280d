package hashtag

import "github.com/hashtrend/hashtrend/pkg/post"

// Tag is one hashtag of a post: its counting key and the spelling the post
// used, without the hash sign.
type Tag struct {
	Key      string
	Spelling string
}

// Of returns the distinct hashtags of p by key, in order of first
// appearance, each with the spelling of its first appearance. They are
// p.Hashtags, the source's own entities, when that is non-nil (an empty
// slice means the source said there are none); otherwise they are extracted
// from p.Text. For a retweet both already hold the original's.
func Of(p post.Post) []Tag {
	return OfAppend(nil, p)
}

// OfAppend appends the hashtags Of returns to dst and returns the extended
// slice. With a dst of enough capacity it allocates only the keys of tags
// that are not already lowercase ASCII.
func OfAppend(dst []Tag, p post.Post) []Tag {
	first := len(dst)
	if p.Hashtags != nil {
		for _, s := range p.Hashtags {
			dst = appendDistinct(dst, first, s)
		}
		return dst
	}
	sc := scanner{text: p.Text, noIndex: true}
	for {
		m, ok := sc.next()
		if !ok {
			return dst
		}
		dst = appendDistinct(dst, first, m.Tag)
	}
}

// appendDistinct appends spelling unless dst[first:] already has its key.
// Posts have few hashtags, so a linear search beats a map.
func appendDistinct(dst []Tag, first int, spelling string) []Tag {
	if spelling == "" {
		return dst
	}
	k := Key(spelling)
	for _, t := range dst[first:] {
		if t.Key == k {
			return dst
		}
	}
	return append(dst, Tag{Key: k, Spelling: spelling})
}
