package wire

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hashtrend/hashtrend/pkg/post"
)

// The decoders' table tests share one way of running a case: each decoder
// a case applies to decodes its input in a subtest of its own, and one of
// the checks below judges what it made of it.

// decoder decodes one line or one event's data.
type decoder = func([]byte) (Result, error)

// decoders returns a source's own decoder and the auto-detecting one, which
// must agree on every line of that source.
func decoders(own decoder) map[string]decoder {
	return map[string]decoder{"own decoder": own, "Decode": Decode}
}

// only is a case's one decoder.
func only(name string, d decoder) map[string]decoder { return map[string]decoder{name: d} }

// check judges what a decoder made of a case's input.
type check func(t *testing.T, r Result, err error)

// decodeCase runs the case named name: each of decs decodes input, and
// check judges the result.
func decodeCase(t *testing.T, name string, decs map[string]decoder, input string, c check) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		for dname, decode := range decs {
			t.Run(dname, func(t *testing.T) {
				r, err := decode([]byte(input))
				c(t, r, err)
			})
		}
	})
}

// postCase is a line that must decode to a post, resultCase one that must
// decode to a result in full, malformedCase one that must be an error that
// says says.
type (
	postCase struct {
		name, line string
		want       post.Post
	}
	resultCase struct {
		name, line string
		want       Result
	}
	malformedCase struct{ name, line, says string }
)

// decodePosts, decodeResults and decodeMalformed run such cases with decs.
func decodePosts(t *testing.T, decs map[string]decoder, cases []postCase) {
	for _, tc := range cases {
		decodeCase(t, tc.name, decs, tc.line, isPost(tc.want))
	}
}

func decodeResults(t *testing.T, decs map[string]decoder, cases []resultCase) {
	for _, tc := range cases {
		decodeCase(t, tc.name, decs, tc.line, isResult(tc.want))
	}
}

func decodeMalformed(t *testing.T, decs map[string]decoder, cases []malformedCase) {
	for _, tc := range cases {
		decodeCase(t, tc.name, decs, tc.line, isMalformed(tc.says))
	}
}

// isPost: the input is the post want.
func isPost(want post.Post) check {
	return func(t *testing.T, r Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind != KindPost || !reflect.DeepEqual(r.Post, want) {
			t.Errorf("got %v %+v\nwant post %+v", r.Kind, r.Post, want)
		}
	}
}

// isResult: the input decodes to want, in full.
func isResult(want Result) check {
	return func(t *testing.T, r Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("got %+v\nwant %+v", r, want)
		}
	}
}

// isMalformed: the input is an ErrMalformed error saying says.
func isMalformed(says string) check {
	return func(t *testing.T, r Result, err error) {
		t.Helper()
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), says) {
			t.Errorf("got %+v, %v; want an ErrMalformed error saying %q", r, err, says)
		}
	}
}
