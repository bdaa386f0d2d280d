package positions

import (
	"strings"
	"testing"
	"time"
)

func TestARecordSurvivesItsEncoding(t *testing.T) {
	in := Record{Source: "file", At: []byte(`{"pass":0,"file":"a.jsonl","offset":10,"line":1}`), Posts: 1, Txn: "ab:1",
		CommittedAt: time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)}
	b, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.V != Version || out.Source != in.Source || string(out.At) != string(in.At) || out.Posts != 1 || out.Txn != "ab:1" || !out.CommittedAt.Equal(in.CommittedAt) {
		t.Fatalf("decoded %+v from %s", out, b)
	}
}

func TestDecodeRejectsWhatIsNotAPositionRecord(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"another version", `{"v":2,"source":"file","at":{}}`, "version 2"},
		{"no version", `{"source":"file","at":{}}`, "version 0"},
		{"an unknown field", `{"v":1,"source":"file","at":{},"extra":1}`, "unknown field"},
		{"no position", `{"v":1,"source":"file"}`, "no source or position"},
		{"no source", `{"v":1,"at":{"index":3}}`, "no source or position"},
		{"not JSON", `position 3`, "decode position"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode([]byte(tc.value)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode(%s) = %v, want an error with %q", tc.value, err, tc.want)
			}
		})
	}
}

func TestTheKeyTellsTopicsApart(t *testing.T) {
	if Key("file:/a", "tweets") == Key("file:/a", "tweets-replay") || Key("file:/a", "t") == Key("file:/b", "t") {
		t.Fatal("keys collide")
	}
}
