package source

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// sseEvent is one server-sent event: its name ("message" when the server
// gave none) and its data lines joined by "\n". A comment line (":thump")
// is an event of its own with comment set, so that a reader can count it
// as life on the connection. An event whose data went over the reader's
// limit comes back with tooBig set and no data.
type sseEvent struct {
	name    string
	data    []byte
	comment bool
	tooBig  bool
}

// sseReader reads the text/event-stream format of the HTML standard
// (https://html.spec.whatwg.org/multipage/server-sent-events.html): lines
// of "field: value" ending in LF or CRLF, an event ended by a blank line.
// It keeps to what Mastodon's streaming API sends: event, data and comment
// lines; id and retry are read and ignored. No well-kept small Go library
// does only this, and this much is short.
type sseReader struct {
	r   *bufio.Reader
	max int // most bytes of data in one event

	name   []byte
	data   []byte
	hasAny bool
	tooBig bool
}

func newSSEReader(r io.Reader, max int) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 1<<16), max: max}
}

// next returns the next event or comment; io.EOF when the stream ended
// cleanly between events.
func (s *sseReader) next() (sseEvent, error) {
	for {
		line, err := s.line()
		if err != nil {
			if errors.Is(err, io.EOF) && s.hasAny {
				return sseEvent{}, io.ErrUnexpectedEOF
			}
			return sseEvent{}, err
		}
		if len(line) == 0 {
			if !s.hasAny {
				continue
			}
			ev := sseEvent{name: string(s.name), data: s.data, tooBig: s.tooBig}
			if ev.name == "" {
				ev.name = "message"
			}
			if ev.tooBig {
				ev.data = nil
			}
			s.name, s.data, s.hasAny, s.tooBig = nil, nil, false, false
			return ev, nil
		}
		if line[0] == ':' {
			return sseEvent{comment: true, data: bytes.TrimSpace(line[1:])}, nil
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			s.name, s.hasAny = append(s.name[:0], value...), true
		case "data":
			s.hasAny = true
			if s.tooBig {
				continue
			}
			if len(s.data)+len(value)+1 > s.max {
				s.tooBig, s.data = true, nil
				continue
			}
			if s.data != nil {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, value...)
		}
	}
}

// line reads one line without its end. A line longer than the data limit
// is read to its end and returned cut to the limit plus one byte, so that
// the event goes over the limit and is dropped whole.
func (s *sseReader) line() ([]byte, error) {
	var long []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long) <= s.max {
				long = append(long, chunk...)
			}
			continue
		}
		if err != nil && (len(chunk) == 0 || !errors.Is(err, io.EOF)) {
			return nil, err
		}
		if long != nil {
			if len(long) <= s.max {
				long = append(long, chunk...)
			}
			chunk = long
		}
		return bytes.TrimSuffix(bytes.TrimSuffix(chunk, []byte("\n")), []byte("\r")), nil
	}
}
