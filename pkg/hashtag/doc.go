// Package hashtag decides which hashtags a post has and how they are
// counted, the rules of design.md shared by ingest and counter.
//
// Extract finds hashtags in text by the twitter-text rules (a hash sign # or
// ＃ not preceded by & or a hashtag character, a body of letters, marks,
// decimal digits, _ and a few script-specific joiners, at least one letter
// or mark, not followed by another hash sign or "://", not inside a URL),
// with indices in code points, and one rule of its own: a hashtag that runs
// into the ellipsis (…) ending a text cut short is a fragment, not a tag.
// Of returns a post's hashtags: the source's entities when the post carries
// them, otherwise the extracted ones, each once by Key. Key is the counting
// key; Spellings picks the spelling shown to people for a key, the one seen
// most often.
package hashtag
