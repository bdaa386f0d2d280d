package state_test

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/facet"
	"github.com/hashtrend/hashtrend/services/counter/internal/cells"
	"github.com/hashtrend/hashtrend/services/counter/internal/state"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

func TestTotalAndMetaRoundTrip(t *testing.T) {
	b, err := state.EncodeTotal(state.Total{Count: 5, Spelling: "TikTok", Others: map[string]int64{"tiktok": 2}})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"v":1,"count":5,"spelling":"TikTok","others":{"tiktok":2}}` {
		t.Fatalf("EncodeTotal = %s", b)
	}
	got, err := state.DecodeTotal(b)
	if err != nil || got.Count != 5 || got.Others["tiktok"] != 2 {
		t.Fatalf("DecodeTotal = %+v, %v", got, err)
	}
	m, _ := state.EncodeMeta(state.Meta{Batch: 7, Posts: 10, PostsWithHashtags: 4})
	if mm, err := state.DecodeMeta(m); err != nil || mm.Batch != 7 || mm.Posts != 10 || mm.NextDelta != nil {
		t.Fatalf("DecodeMeta = %+v, %v", mm, err)
	}
	next := int64(17)
	m, _ = state.EncodeMeta(state.Meta{Batch: 7, Posts: 10, PostsWithHashtags: 4, NextDelta: &next})
	if string(m) != `{"v":1,"batch":7,"posts":10,"posts_with_hashtags":4,"next_delta":17}` {
		t.Fatalf("EncodeMeta = %s", m)
	}
	if mm, err := state.DecodeMeta(m); err != nil || mm.NextDelta == nil || *mm.NextDelta != 17 {
		t.Fatalf("DecodeMeta = %+v, %v", mm, err)
	}
}

func TestTotalsWithCellsAreVersion2(t *testing.T) {
	for _, tot := range []state.Total{
		{Count: 5, Spelling: "Go", Cells: cells.Of(map[string]int64{"bluesky/ja": 5})},
		{Count: 5, Spelling: "Go", Others: map[string]int64{"GO": 1}, Cells: cells.Of(map[string]int64{"bluesky/ja": 2, "x/und": 1})},
	} {
		b, err := state.EncodeTotal(tot)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), `{"v":2,`) {
			t.Fatalf("EncodeTotal(%+v) = %s, want version 2", tot, b)
		}
		got, err := state.DecodeTotal(b)
		if err != nil || got.V != 2 || got.Count != tot.Count || !maps.Equal(got.Cells.Map(), tot.Cells.Map()) || !maps.Equal(got.Others, tot.Others) {
			t.Fatalf("DecodeTotal(%s) = %+v, %v", b, got, err)
		}
	}
	// Posts counted before facets were on are in no cell.
	if _, err := state.DecodeTotal([]byte(`{"v":2,"count":9,"spelling":"a","cells":{"x/en":1}}`)); err != nil {
		t.Fatalf("cells below the count: %v", err)
	}
}

// TestEncodeTotalWritesWhatEncodingJSONWrites: the totals written without
// reflection are byte for byte encoding/json's.
func TestEncodeTotalWritesWhatEncodingJSONWrites(t *testing.T) {
	for _, sp := range []string{"Go", "TikTok2026", "a b", "<script>", "a&b", `q"uote`, `back\slash`, "Straße", "雪", "tab\there", "\u2028", "~!@#$%^*()"} {
		for _, tot := range []state.Total{
			{Count: 3, Spelling: sp},
			{Count: 9, Spelling: sp, Cells: cells.Of(map[string]int64{"bluesky/ja": 2, "x/und": 7})},
			{Count: 9, Spelling: sp, Others: map[string]int64{"GO": 1}, Cells: cells.Of(map[string]int64{"x/en": 9})},
			{Count: 9, Spelling: sp, Others: map[string]int64{"go": 1, sp + "x": 2, "<b>": 1, "É": 3}},
		} {
			got, err := state.EncodeTotal(tot)
			if err != nil {
				t.Fatal(err)
			}
			tot.V = state.Version
			if len(tot.Cells) > 0 {
				tot.V = state.CellsVersion
			}
			want, _ := json.Marshal(tot)
			if string(got) != string(want) {
				t.Errorf("EncodeTotal(%+v) = %s, encoding/json writes %s", tot, got, want)
			}
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name, value string
		meta        bool
	}{
		{"a total of another version", `{"v":3,"count":1,"spelling":"a"}`, false},
		{"a total with cells in version 1", `{"v":1,"count":1,"spelling":"a","cells":{"x/en":1}}`, false},
		{"a total whose cells outnumber it", `{"v":2,"count":1,"spelling":"a","cells":{"x/en":1,"x/de":1}}`, false},
		{"a total with a cell that is not one", `{"v":2,"count":1,"spelling":"a","cells":{"x/qme":1}}`, false},
		{"a total with a cell of an unknown network", `{"v":2,"count":1,"spelling":"a","cells":{"synthetic/en":1}}`, false},
		{"a total with an empty cell", `{"v":2,"count":2,"spelling":"a","cells":{"x/en":0}}`, false},
		{"a total without a spelling", `{"v":1,"count":1}`, false},
		{"a total whose other spellings outnumber it", `{"v":1,"count":2,"spelling":"a","others":{"A":2}}`, false},
		{"a total with an unknown field", `{"v":1,"count":1,"spelling":"a","x":1}`, false},
		{"a total that is not JSON", `count=1`, false},
		{"a meta record with a negative batch", `{"v":1,"batch":-1,"posts":0,"posts_with_hashtags":0}`, true},
		{"a meta record with a negative delta offset", `{"v":1,"batch":1,"posts":0,"posts_with_hashtags":0,"next_delta":-1}`, true},
		{"a meta record with trailing data", `{"v":1,"batch":1,"posts":0,"posts_with_hashtags":0} {}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.meta {
				_, err = state.DecodeMeta([]byte(tt.value))
			} else {
				_, err = state.DecodeTotal([]byte(tt.value))
			}
			if !errors.Is(err, state.ErrInvalid) {
				t.Fatalf("decode %s: %v, want ErrInvalid", tt.value, err)
			}
		})
	}
}

// FuzzDecodeTotal holds DecodeTotal to the strict decoder's verdict on any
// input: the form read without encoding/json must give what encoding/json
// gives.
func FuzzDecodeTotal(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"count":5,"spelling":"TikTok"}`,
		`{"v":1,"count":5,"spelling":"TikTok","others":{"tiktok":2}}`,
		`{"v":1,"count":05,"spelling":"a"}`,
		`{"v":1,"count":9223372036854775807,"spelling":"a"}`,
		`{"v":1,"count":1,"spelling":"a\u00e9"}`,
		`{"v":1,"count":1,"spelling":"\xff"}`,
		`{"v":1,"count":1,"spelling":""}`,
		`{"v":1,"count":1,"spelling":"a"} `,
		`{"v":1,"count":0,"spelling":"a"}`,
		`{"v":1, "count":1,"spelling":"a"}`,
		`{"v":2,"count":5,"spelling":"Go","cells":{"bluesky/ja":5}}`,
		`{"v":2,"count":5,"spelling":"Go","cells":{"bluesky/ja":6}}`,
		`{"v":2,"count":5,"spelling":"Go","cells":{"bluesky/ja":0}}`,
		`{"v":2,"count":5,"spelling":"Go","cells":{"bluesky/qme":1}}`,
		`{"v":2,"count":5,"spelling":"Go","cells":{"bluesky/ja":1,"x/en":1}}`,
		`{"v":2,"count":5,"spelling":"Go","cells":{"bluesky\/ja":1}}`,
		`{"v":2,"count":5,"spelling":"Go"}`,
		`{"v":1,"count":5,"spelling":"Go","cells":{"bluesky/ja":5}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := state.DecodeTotal(b)
		want, werr := state.DecodeTotalStrict(b)
		if (err == nil) != (werr == nil) {
			t.Fatalf("DecodeTotal(%q) = %v, the strict decoder says %v", b, err, werr)
		}
		if err == nil && (got.V != want.V || got.Count != want.Count || got.Spelling != want.Spelling || len(got.Others) != len(want.Others) || !maps.Equal(got.Cells.Map(), want.Cells.Map())) {
			t.Fatalf("DecodeTotal(%q) = %+v, the strict decoder reads %+v", b, got, want)
		}
	})
}

func BenchmarkDecodeTotal(b *testing.B) {
	v, _ := state.EncodeTotal(state.Total{Count: 123456, Spelling: "TikTok2026"})
	b.Run("canonical", func(b *testing.B) {
		for b.Loop() {
			if _, err := state.DecodeTotal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	cell, _ := state.EncodeTotal(state.Total{Count: 123456, Spelling: "TikTok2026", Cells: cells.Counts{{Cell: "bluesky/ja", N: 123456}}})
	b.Run("canonical with one cell", func(b *testing.B) {
		for b.Loop() {
			if _, err := state.DecodeTotal(cell); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("strict decoder (the baseline)", func(b *testing.B) {
		for b.Loop() {
			if _, err := state.DecodeTotalStrict(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestDecodeRecordTellsTotalsMetaAndTombstones(t *testing.T) {
	total, _ := state.EncodeTotal(state.Total{Count: 3, Spelling: "Go"})
	meta, _ := state.EncodeMeta(state.Meta{Batch: 9})
	tests := []struct {
		name       string
		key, value []byte
		check      func(state.Record) bool
	}{
		{"a total is a hashtag's count", []byte("go"), total, func(r state.Record) bool { return r.Total.Count == 3 && r.Meta == nil && !r.Deleted }},
		{"the meta key is the meta record", []byte(state.MetaKey), meta, func(r state.Record) bool { return r.Meta != nil && r.Meta.Batch == 9 }},
		{"a null value is a tombstone", []byte("go"), nil, func(r state.Record) bool { return r.Deleted && string(r.Key) == "go" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := state.DecodeRecord(tt.key, tt.value)
			if err != nil || !tt.check(r) {
				t.Fatalf("DecodeRecord(%q, %q) = %+v, %v", tt.key, tt.value, r, err)
			}
		})
	}
	if _, err := state.DecodeRecord([]byte(state.MetaKey), total); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("a total under the meta key: %v, want ErrInvalid", err)
	}
}

// TestALifecycleRecordRoundTrips: a facet's lifecycle, encoded as rank
// writes it under its facet's key, reads back as the same facet and the
// same lifecycle (encoded again, byte for byte), a copy of the record's
// bytes; a tombstone reads as none; a key that names no facet as
// facet.Name writes it, or a value that is not a lifecycle, is invalid.
func TestALifecycleRecordRoundTrips(t *testing.T) {
	cfg := trend.Config{Bucket: time.Minute, Recent: 10 * time.Minute, Baseline: time.Hour, Min: 5, MinScore: 25}
	l := trend.NewLifecycle(cfg, trend.LifecycleConfig{})
	e := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixMilli()
	l.Step(e, []trend.Trend{{Key: "go", Score: 64, Observed: 9, Expected: 1, Posts: 12}, {Key: "雪", Score: 30, Observed: 7, Expected: 1.5, Posts: 7}})
	l.Step(e+60_000, []trend.Trend{{Key: "go", Score: 36, Observed: 7, Expected: 1, Posts: 9}})
	value, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []facet.Name{{}, {Network: "bluesky"}, {Language: "ja"}, {Network: "other", Language: "und"}} {
		key := []byte(state.LifecycleKey(n))
		if !state.Reserved(key) {
			t.Fatalf("%s is not a reserved key", key)
		}
		buf := slices.Clone(value)
		r, err := state.DecodeRecord(key, buf)
		if err != nil || r.Lifecycle == nil || r.Lifecycle.Facet != n || r.Meta != nil || r.Deleted {
			t.Fatalf("DecodeRecord(%s) = %+v, %v", key, r, err)
		}
		clear(buf) // the record's bytes are reused by the reader
		back, err := trend.DecodeLifecycle(r.Lifecycle.State, cfg, trend.LifecycleConfig{})
		if err != nil {
			t.Fatal(err)
		}
		again, _ := back.Encode()
		if string(again) != string(value) {
			t.Fatalf("%s: %s read back as %s", key, value, again)
		}
		if got, ok := back.Get("go"); !ok || got.Status != trend.Cooling || got.Peak != 64 || !got.Since.Equal(time.UnixMilli(e).UTC()) {
			t.Fatalf("%s: go reads back as %+v", key, got)
		}
	}
	if r, err := state.DecodeRecord([]byte(state.LifecycleKey(facet.Name{Language: "ja"})), nil); err != nil || r.Lifecycle == nil || r.Lifecycle.State != nil || r.Deleted {
		t.Fatalf("a tombstone: %+v, %v", r, err)
	}
	for key, v := range map[string][]byte{
		"#lifecycle/lang:JA":        value,
		"#lifecycle/":               value,
		"#lifecycle/source:myspace": value,
		"#lifecycle/lang:ja":        []byte(`{"v":1,"at":0,"tags":[{"key":"go","since":1,"peak":1,"peak_at":1,"status":"rising","score":1,"observed":1,"expected":1,"posts":1}]}`),
		"#lifecycle/all":            []byte(`{"v":2,"at":0,"tags":[]}`),
		"#lifecycle/source:x":       total(t),
	} {
		if _, err := state.DecodeRecord([]byte(key), v); !errors.Is(err, state.ErrInvalid) {
			t.Errorf("DecodeRecord(%s, %.40s) = %v, want ErrInvalid", key, v, err)
		}
	}
}

func total(t *testing.T) []byte {
	b, err := state.EncodeTotal(state.Total{Count: 3, Spelling: "Go"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
