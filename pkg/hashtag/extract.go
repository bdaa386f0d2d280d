package hashtag

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Match is one hashtag found in a text. Tag is the hashtag without its
// hash sign, a substring of the text; Start and End are code-point offsets
// of the hash sign and of the first code point after the tag, as in
// twitter-text's indices.
type Match struct {
	Tag        string
	Start, End int
}

// Extract returns the hashtags of text in order, by the twitter-text rules
// with one exception: in a text that ends in an ellipsis (…, U+2026), a
// hashtag that runs into that final ellipsis is not one. That is how a
// platform marks a text it cut short, and the tag before it is a fragment
// ("#Stre…" of "#Streaming") that the platform's own entities leave out.
func Extract(text string) []Match {
	return ExtractAppend(nil, text)
}

// ExtractAppend appends the hashtags of text to dst and returns the extended
// slice; with a dst of enough capacity it does not allocate.
func ExtractAppend(dst []Match, text string) []Match {
	s := scanner{text: text}
	for {
		m, ok := s.next()
		if !ok {
			return dst
		}
		dst = append(dst, m)
	}
}

// IsValid reports whether s is exactly one hashtag, hash sign included, as
// twitter-text's isValidHashtag does: "#tag" is, "#123" and "tag" are not.
func IsValid(s string) bool {
	sc := scanner{text: s}
	m, ok := sc.next()
	return ok && m.Start == 0 && m.End == utf8.RuneCountInString(s)
}

// The runes that matter around a hash sign.
const (
	fullwidthHash = '\uFF03' // ＃
	textStyle     = '\uFE0E' // VARIATION SELECTOR-15
	emojiStyle    = '\uFE0F' // VARIATION SELECTOR-16
	keycap        = '\u20E3' // COMBINING ENCLOSING KEYCAP
	ellipsis      = "\u2026" // HORIZONTAL ELLIPSIS, the end of a text cut short
)

// scanner walks a text from hash sign to hash sign. It keeps the byte
// offset and the code-point offset of the same position so that indices
// cost one pass over the text, and caches the URL verdict of the current
// whitespace-delimited token so that many hash signs in one long token stay
// linear.
type scanner struct {
	text    string
	pos, cp int  // byte offset and code-point offset of the same position
	noIndex bool // leave cp and the matches' Start and End at 0
	tok     token
}

// next returns the next hashtag, or false at the end of the text.
func (s *scanner) next() (Match, bool) {
	for {
		h, size := indexHash(s.text, s.pos)
		if h < 0 {
			if !s.noIndex {
				s.cp += utf8.RuneCountInString(s.text[s.pos:])
			}
			s.pos = len(s.text)
			return Match{}, false
		}
		start := s.cp
		if !s.noIndex {
			start += utf8.RuneCountInString(s.text[s.pos:h])
		}
		body := h + size
		s.pos, s.cp = body, start+1

		if h > 0 {
			prev, _ := utf8.DecodeLastRuneInString(s.text[:h])
			if prev == '&' || isTagRune(prev) && prev != textStyle && prev != emojiStyle {
				continue
			}
		}
		if r, _ := utf8.DecodeRuneInString(s.text[body:]); r == emojiStyle || r == keycap {
			continue
		}

		end, n, letter := body, 0, false
		for end < len(s.text) {
			r, w := utf8.DecodeRuneInString(s.text[end:])
			if !isTagRune(r) {
				break
			}
			letter = letter || isLetterOrMark(r)
			end += w
			n++
		}
		s.pos, s.cp = end, start+1+n
		if !letter || invalidAfter(s.text[end:]) || s.text[end:] == ellipsis || s.inURL(h) {
			continue
		}
		return Match{Tag: s.text[body:end], Start: start, End: start + 1 + n}, true
	}
}

// indexHash returns the byte offset and size of the first # or ＃ in text at
// or after from, or -1.
func indexHash(text string, from int) (int, int) {
	rest := text[from:]
	h := strings.IndexByte(rest, '#')
	if h < 0 {
		h = len(rest)
	}
	if f := strings.Index(rest[:h], "＃"); f >= 0 {
		return from + f, len("＃")
	}
	if h == len(rest) {
		return -1, 0
	}
	return from + h, 1
}

// invalidAfter reports whether what follows a tag disqualifies it: another
// hash sign (#foo#bar) or a URL scheme separator (#http://).
func invalidAfter(rest string) bool {
	if len(rest) == 0 {
		return false
	}
	switch rest[0] {
	case '#':
		return true
	case ':':
		return len(rest) >= 3 && rest[1] == '/' && rest[2] == '/'
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return r == fullwidthHash
}

// hashtagSpecials are the non-letter, non-digit runes twitter-text allows in
// a hashtag body (its HASHTAG_SPECIAL_CHARS).
var hashtagSpecials = [...]rune{
	'_',
	'\u200C', // ZERO WIDTH NON-JOINER
	'\u200D', // ZERO WIDTH JOINER
	'\uA67E', // CYRILLIC KAVYKA
	'\u05BE', // HEBREW PUNCTUATION MAQAF
	'\u05F3', // HEBREW PUNCTUATION GERESH
	'\u05F4', // HEBREW PUNCTUATION GERSHAYIM
	'\uFF5E', // FULLWIDTH TILDE
	'\u301C', // WAVE DASH
	'\u309B', // KATAKANA-HIRAGANA VOICED SOUND MARK
	'\u309C', // KATAKANA-HIRAGANA SEMI-VOICED SOUND MARK
	'\u30A0', // KATAKANA-HIRAGANA DOUBLE HYPHEN
	'\u30FB', // KATAKANA MIDDLE DOT
	'\u3003', // DITTO MARK
	'\u0F0B', // TIBETAN MARK INTERSYLLABIC TSHEG
	'\u0F0C', // TIBETAN MARK DELIMITER TSHEG BSTAR
	'\u00B7', // MIDDLE DOT
}

// isTagRune reports whether r may appear in a hashtag body: a letter, a
// mark, a decimal digit or one of the specials.
func isTagRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_'
	}
	if isLetterOrMark(r) || unicode.IsDigit(r) {
		return true
	}
	for _, c := range hashtagSpecials {
		if r == c {
			return true
		}
	}
	return false
}

// isLetterOrMark reports whether r counts as the letter a hashtag needs.
func isLetterOrMark(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsMark(r)
}

// token is the whitespace-delimited run of text around a hash sign and the
// byte offset where a URL starts in it, or -1.
type token struct {
	start, end int
	url        int
}

// inURL reports whether the hash sign at byte offset h lies inside a URL.
func (s *scanner) inURL(h int) bool {
	if h < s.tok.start || h >= s.tok.end {
		s.tok = tokenAt(s.text, h)
	}
	return s.tok.url >= 0 && h > s.tok.url
}

// tokenAt finds the token around byte offset h and whether it holds a URL.
// twitter-text extracts URLs with a large grammar and a TLD list and drops
// hashtags that overlap one; this approximates it closely enough for
// hashtags: a token holds a URL from a scheme separator "://" that follows a
// letter, or from its start when it starts (after leading punctuation) with
// a host name such as example.com followed by a slash.
func tokenAt(text string, h int) token {
	t := token{start: h, end: h, url: -1}
	for t.start > 0 {
		r, w := utf8.DecodeLastRuneInString(text[:t.start])
		if unicode.IsSpace(r) {
			break
		}
		t.start -= w
	}
	for t.end < len(text) {
		r, w := utf8.DecodeRuneInString(text[t.end:])
		if unicode.IsSpace(r) {
			break
		}
		t.end += w
	}
	tok := text[t.start:t.end]
	if i := strings.Index(tok, "://"); i > 0 && isASCIILetter(tok[i-1]) {
		t.url = t.start + i
		return t
	}
	p := 0
	for p < len(tok) && !isASCIIAlnum(tok[p]) && !strings.ContainsRune("#@$", rune(tok[p])) {
		p++
	}
	if hostThenSlash(tok[p:]) {
		t.url = t.start + p
	}
	return t
}

// hostThenSlash reports whether s starts with a host name of two or more
// labels, the last of at least two ASCII letters, followed by a slash.
func hostThenSlash(s string) bool {
	labels, last, letters := 0, 0, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isASCIIAlnum(c) || c == '-':
			last++
			letters = letters && isASCIILetter(c)
		case c == '.' && last > 0:
			labels++
			last, letters = 0, true
		case c == '/':
			return labels >= 1 && last >= 2 && letters
		default:
			return false
		}
	}
	return false
}

func isASCIILetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

func isASCIIAlnum(c byte) bool { return isASCIILetter(c) || '0' <= c && c <= '9' }
