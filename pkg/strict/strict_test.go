package strict_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashtrend/hashtrend/pkg/strict"
)

var errBad = errors.New("bad record")

type rec struct {
	V    int    `json:"v"`
	Name string `json:"name"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in       string
		oldest, newest int
		want           string // "" for success
	}{
		{"a known version decodes", `{"v":2,"name":"a"}`, 2, 2, ""},
		{"any version of the accepted range decodes", `{"v":1,"name":"a"}`, 1, 2, ""},
		{"white space after the object is fine", "{\"v\":2}\n  ", 2, 2, ""},
		{"an unknown field is refused", `{"v":2,"nam":"a"}`, 2, 2, `unknown field "nam"`},
		{"a second object is refused", `{"v":2}{"v":2}`, 2, 2, "trailing data after the object"},
		{"a stray closing bracket is refused", `{"v":2}]`, 2, 2, "trailing data after the object"},
		{"an empty value is refused", ``, 2, 2, "EOF"},
		{"not an object is refused", `[1]`, 2, 2, "cannot unmarshal array"},
		{"a missing version is version 0", `{"name":"a"}`, 1, 1, "schema version 0, want 1"},
		{"a newer version is refused", `{"v":3}`, 1, 2, "schema version 3, want 1 to 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r rec
			err := strict.Decode([]byte(tt.in), &r, &r.V, tt.oldest, tt.newest, errBad)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Decode(%q) = %v, want success", tt.in, err)
			case tt.want != "" && (!errors.Is(err, errBad) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Decode(%q) = %v, want an error wrapping errBad saying %q", tt.in, err, tt.want)
			}
		})
	}
}
