package post

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// decodeFast is Decode's quick path: a single pass over the value that
// understands only the form Encode writes and its harmless variations
// (white space, any order of the fields, escapes in strings, a created_at
// with or without a fraction or another offset). It reports ok only for a
// value it is sure the strict path (decodeStrict) accepts, with the very
// Post that path would give; on anything else (a syntax error, an unknown,
// repeated or differently cased field name, null for anything but the
// hashtags, a "v" that is not the literal 1, a post Validate refuses) it
// gives up, and Decode asks the strict path, which finds the error and
// words it. So the two can differ in speed only; FuzzFastAgreesWithStrict
// holds them to that.
//
// Every string of the Post is cut from one buffer allocated per value:
// decoded strings are never longer than their JSON form, so the buffer
// never grows, and nothing writes to a byte of it once a string covers it.
// With shared set, a string without escapes is cut from b itself and the
// buffer is allocated only for the strings with escapes.
func decodeFast(b []byte, shared bool) (p Post, ok bool) {
	d := fastDecoder{in: b, shared: shared}
	if !shared {
		d.buf = make([]byte, 0, len(b))
	}
	var (
		seen      uint16
		createdAt string
		hashtags  []string
	)
	d.space()
	if !d.byte('{') {
		return Post{}, false
	}
	d.space()
	if !d.byte('}') {
		for {
			f := d.field()
			if f < 0 || seen&(1<<f) != 0 {
				return Post{}, false
			}
			seen |= 1 << f
			d.space()
			if !d.byte(':') {
				return Post{}, false
			}
			d.space()
			var s string
			switch f {
			case fieldV:
				ok = d.one()
			case fieldHashtags:
				hashtags, ok = d.strings()
			default:
				s, ok = d.string()
			}
			if !ok {
				return Post{}, false
			}
			switch f {
			case fieldID:
				p.ID = s
			case fieldSource:
				p.Source = s
			case fieldCreatedAt:
				createdAt = s
			case fieldText:
				p.Text = s
			case fieldLang:
				p.Lang = s
			case fieldAuthor:
				p.Author = s
			case fieldRetweetOf:
				p.RetweetOf = s
			}
			d.space()
			if d.byte('}') {
				break
			}
			if !d.byte(',') {
				return Post{}, false
			}
			d.space()
		}
	}
	d.space()
	if d.i != len(d.in) || seen&(1<<fieldV) == 0 {
		return Post{}, false
	}
	t, ok := parseTime(createdAt)
	if !ok {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, createdAt); err != nil {
			return Post{}, false
		}
	}
	p.CreatedAt = t.UTC()
	p.Hashtags = hashtags
	if p.validate(false) != nil {
		return Post{}, false
	}
	return p, true
}

// The fields of wirePost, as bits of decodeFast's seen set.
const (
	fieldV = iota
	fieldID
	fieldSource
	fieldCreatedAt
	fieldText
	fieldLang
	fieldAuthor
	fieldRetweetOf
	fieldHashtags
)

type fastDecoder struct {
	in     []byte
	i      int
	buf    []byte // where the decoded strings go; never grows
	shared bool   // strings without escapes are cut from in
}

func (d *fastDecoder) space() {
	for d.i < len(d.in) {
		switch d.in[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// byte consumes c if it comes next.
func (d *fastDecoder) byte(c byte) bool {
	if d.i < len(d.in) && d.in[d.i] == c {
		d.i++
		return true
	}
	return false
}

// field reads a field name and returns its field number, or -1 for one
// that is not wirePost's exactly as spelled in its tags (encoding/json
// also takes other cases of a name: the strict path handles those).
func (d *fastDecoder) field() int {
	if !d.byte('"') {
		return -1
	}
	start := d.i
	for d.i < len(d.in) && d.in[d.i] != '"' {
		if d.in[d.i] == '\\' {
			return -1
		}
		d.i++
	}
	if d.i == len(d.in) {
		return -1
	}
	name := d.in[start:d.i]
	d.i++
	switch string(name) {
	case "v":
		return fieldV
	case "id":
		return fieldID
	case "source":
		return fieldSource
	case "created_at":
		return fieldCreatedAt
	case "text":
		return fieldText
	case "lang":
		return fieldLang
	case "author":
		return fieldAuthor
	case "retweet_of":
		return fieldRetweetOf
	case "hashtags":
		return fieldHashtags
	}
	return -1
}

// one consumes the number 1, the only schema version, and nothing else
// (1.0 or 1e0 are errors for an int field, -0 is version 0).
func (d *fastDecoder) one() bool {
	if d.i >= len(d.in) || d.in[d.i] != '1' {
		return false
	}
	d.i++
	return d.delimited()
}

// delimited reports whether the literal before d.i ends there, as JSON
// wants: at white space, the end of a member or the end of the input.
func (d *fastDecoder) delimited() bool {
	if d.i < len(d.in) {
		switch d.in[d.i] {
		case ' ', '\t', '\n', '\r', ',', '}':
		default:
			return false
		}
	}
	return true
}

// strings reads an array of strings or null; an empty array is non-nil.
func (d *fastDecoder) strings() ([]string, bool) {
	if bytes.HasPrefix(d.in[d.i:], []byte("null")) {
		d.i += len("null")
		return nil, d.delimited()
	}
	if !d.byte('[') {
		return nil, false
	}
	d.space()
	if d.byte(']') {
		return []string{}, true
	}
	out := make([]string, 0, 4)
	for {
		s, ok := d.string()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		d.space()
		if d.byte(']') {
			return out, true
		}
		if !d.byte(',') {
			return nil, false
		}
		d.space()
	}
}

// string reads a JSON string (not null) and decodes it as encoding/json
// does. It checks the UTF-8 of the string: outside strings the fast path
// takes only ASCII, so that covers the whole value.
func (d *fastDecoder) string() (string, bool) {
	if !d.byte('"') {
		return "", false
	}
	start := d.i
	for {
		d.i = plainRun(d.in, d.i)
		if d.i == len(d.in) {
			return "", false
		}
		switch c := d.in[d.i]; {
		case c == '"':
			s := d.in[start:d.i]
			d.i++
			if len(s) == 0 {
				return "", true
			}
			if !d.shared {
				at := len(d.buf)
				d.buf = append(d.buf, s...)
				s = d.buf[at:]
			}
			return unsafe.String(&s[0], len(s)), true
		case c == '\\':
			return d.escaped(start)
		case c >= utf8.RuneSelf:
			if !d.rune() {
				return "", false
			}
		default: // a control character
			return "", false
		}
	}
}

// rune steps over the multi-byte UTF-8 sequence at d.i, or reports false
// for one that is not valid.
func (d *fastDecoder) rune() bool {
	r, n := utf8.DecodeRune(d.in[d.i:])
	if r == utf8.RuneError && n == 1 {
		return false
	}
	d.i += n
	return true
}

// escaped goes on with the string that began at start when it holds an
// escape, at d.i: from there on it is decoded into the buffer.
func (d *fastDecoder) escaped(start int) (string, bool) {
	if d.buf == nil {
		d.buf = make([]byte, 0, len(d.in))
	}
	at := len(d.buf)
	d.buf = append(d.buf, d.in[start:d.i]...)
	for {
		switch c := d.in[d.i]; {
		case c == '"':
			d.i++
			s := d.buf[at:]
			return unsafe.String(&s[0], len(s)), true // not empty: it had an escape
		case c == '\\':
			if !d.escape() {
				return "", false
			}
		case c >= utf8.RuneSelf:
			from := d.i
			if !d.rune() {
				return "", false
			}
			d.buf = append(d.buf, d.in[from:d.i]...)
		default:
			return "", false
		}
		run := d.i
		d.i = plainRun(d.in, d.i)
		d.buf = append(d.buf, d.in[run:d.i]...)
		if d.i == len(d.in) {
			return "", false
		}
	}
}

// plainRun returns the end of the run of bytes from i that stand for
// themselves in a JSON string: ASCII but for the quote, the backslash and
// the control characters. It looks at eight bytes at a time.
func plainRun(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		quote, backslash := w^(ones*'"'), w^(ones*'\\')
		// A byte's high bit is set in stop when the byte is zero in quote
		// or backslash, below 0x20 in w, or non-ASCII in w.
		stop := (quote-ones)&^quote | (backslash-ones)&^backslash | (w-ones*0x20)&^w | w
		if stop &= highs; stop != 0 {
			return i + bits.TrailingZeros64(stop)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
	}
	return i
}

// escape decodes the escape sequence at d.i, as encoding/json does: a
// \u surrogate pair is one rune, any other surrogate U+FFFD.
func (d *fastDecoder) escape() bool {
	if d.i+1 >= len(d.in) {
		return false
	}
	c := d.in[d.i+1]
	d.i += 2
	switch c {
	case '"', '\\', '/':
		d.buf = append(d.buf, c)
	case 'b':
		d.buf = append(d.buf, '\b')
	case 'f':
		d.buf = append(d.buf, '\f')
	case 'n':
		d.buf = append(d.buf, '\n')
	case 'r':
		d.buf = append(d.buf, '\r')
	case 't':
		d.buf = append(d.buf, '\t')
	case 'u':
		r, ok := d.hex4(d.i)
		if !ok {
			return false
		}
		d.i += 4
		if utf16.IsSurrogate(r) {
			first := r
			r = utf8.RuneError
			if d.i+1 < len(d.in) && d.in[d.i] == '\\' && d.in[d.i+1] == 'u' {
				if second, ok := d.hex4(d.i + 2); ok {
					if pair := utf16.DecodeRune(first, second); pair != utf8.RuneError {
						r = pair
						d.i += 6
					}
				}
			}
		}
		d.buf = utf8.AppendRune(d.buf, r)
	default:
		return false
	}
	return true
}

// hex4 reads the four hex digits at i.
func (d *fastDecoder) hex4(i int) (rune, bool) {
	if i+4 > len(d.in) {
		return 0, false
	}
	var r rune
	for _, c := range d.in[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// parseTime reads the form Encode writes, 2006-01-02T15:04:05Z with an
// optional fraction of one to nine digits, and reports false for any other
// (time.Parse then decides) or for a field out of its range.
func parseTime(s string) (time.Time, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return time.Time{}, false
	}
	digits := func(from, to int) (n int, ok bool) {
		for i := from; i < to; i++ {
			c := s[i] - '0'
			if c > 9 {
				return 0, false
			}
			n = n*10 + int(c)
		}
		return n, true
	}
	year, ok1 := digits(0, 4)
	month, ok2 := digits(5, 7)
	day, ok3 := digits(8, 10)
	hour, ok4 := digits(11, 13)
	minute, ok5 := digits(14, 16)
	sec, ok6 := digits(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := s[19 : len(s)-1]; frac != "" {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		var ok bool
		if nsec, ok = digits(20, len(s)-1); !ok {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	// Days from 1970-01-01 to the date, proleptic Gregorian (the civil
	// calendar algorithm of Howard Hinnant's date library).
	y := year
	if month <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (month + 9) % 12
	doy := (153*mp+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	days := era*146097 + doe - 719468
	return time.Unix(int64(days)*86400+int64(hour*3600+minute*60+sec), int64(nsec)).UTC(), true
}

// daysIn returns the number of days of month in year.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
