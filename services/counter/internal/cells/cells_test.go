package cells_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"testing"

	"github.com/hashtrend/hashtrend/services/counter/internal/cells"
)

func TestCountsRoundTripInCellOrder(t *testing.T) {
	c := cells.Of(map[string]int64{"x/und": 9, "bluesky/en": 30, "bluesky/ja": 2})
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"bluesky/en":30,"bluesky/ja":2,"x/und":9}` {
		t.Fatalf("Marshal = %s", b)
	}
	var back cells.Counts
	if err := json.Unmarshal(b, &back); err != nil || !maps.Equal(back.Map(), c.Map()) || back.Sum() != 41 {
		t.Fatalf("Unmarshal(%s) = %v, %v", b, back, err)
	}
	if cells.Of(nil) != nil || cells.Counts(nil).Map() != nil {
		t.Fatal("no cells are not nil")
	}
}

func TestCountsReadAnyFormOfTheObject(t *testing.T) {
	for in, want := range map[string]map[string]int64{
		`{"x/und":9,"bluesky/en":30}`:      {"x/und": 9, "bluesky/en": 30}, // out of order
		`{ "x/und" : 9 }`:                  {"x/und": 9},                   // spaces
		`{"x\/und":9}`:                     {"x/und": 9},                   // an escape
		`{}`:                               {},
		`{"x/und":0}`:                      {"x/und": 0}, // read; the records' checks refuse it
		`{"x/und":-1}`:                     {"x/und": -1},
		`{"a/b":1,"c/d":2,"e/f":3}`:        {"a/b": 1, "c/d": 2, "e/f": 3},
		`{"bluesky/pt":12345678901234567}`: {"bluesky/pt": 12345678901234567},
	} {
		var c cells.Counts
		if err := json.Unmarshal([]byte(in), &c); err != nil || !maps.Equal(c.Map(), want) {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", in, c, err, want)
		}
		for i := 1; i < len(c); i++ {
			if c[i-1].Cell >= c[i].Cell {
				t.Errorf("Unmarshal(%s) = %v: not in cell order", in, c)
			}
		}
	}
	for _, bad := range []string{`{"x/und":9,"x/und":1}`, `{"x/und":9,"a/b":1,"x/und":1}`, `{"x/und":"9"}`, `[1]`, `{"x/und":9`, `{"x/und":1.5}`} {
		var c cells.Counts
		if err := json.Unmarshal([]byte(bad), &c); err == nil {
			t.Errorf("Unmarshal(%s) = %v without an error", bad, c)
		}
	}
}

// FuzzCountsReadAsEncodingJSONReadsAMap holds the reader to encoding/json's
// verdict on an object of counts, but for a key given twice, which it
// refuses.
func FuzzCountsReadAsEncodingJSONReadsAMap(f *testing.F) {
	for _, s := range []string{`{"bluesky/en":30,"x/und":9}`, `{"x/und":9,"bluesky/en":30}`, `{}`, `{"a":01}`, `{"a":1,"a":2}`, `{"é/x":1}`, `{"a/b":9223372036854775807}`, `{"a/b":1} `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c cells.Counts
		err := json.Unmarshal(b, &c)
		var m map[string]int64
		merr := json.Unmarshal(b, &m)
		if merr != nil && err == nil && string(b) != "null" {
			t.Fatalf("Unmarshal(%q) = %v; encoding/json refuses it: %v", b, c, merr)
		}
		if err == nil && merr == nil && m != nil && !maps.Equal(c.Map(), m) {
			t.Fatalf("Unmarshal(%q) = %v; encoding/json reads %v", b, c, m)
		}
		if err != nil && merr == nil && m != nil && !repeated(b, len(m)) {
			t.Fatalf("Unmarshal(%q): %v; encoding/json reads %v and no key is given twice", b, err, m)
		}
	})
}

// repeated tells whether the object b has more members than its n
// distinct keys.
func repeated(b []byte, n int) bool {
	d := json.NewDecoder(bytes.NewReader(b))
	if _, err := d.Token(); err != nil {
		return false
	}
	members := 0
	for d.More() {
		if _, err := d.Token(); err != nil {
			return false
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return false
		}
		members++
	}
	return members > n
}
