package trend

import (
	"bytes"
	"errors"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lcfg is the trending definition of the lifecycle tests: a floor of 25.
var lcfg = Config{Bucket: time.Minute, Lateness: time.Minute, Recent: 10 * time.Minute, Baseline: time.Hour, Min: 5, MinScore: 25}

// end is the bucket end i minutes after t0, Unix ms.
func end(i int) int64 { return t0.Add(time.Duration(i) * time.Minute).UnixMilli() }

// minutesTo is how many whole minutes a peak p takes to decay to floor
// with half-life h: the tag is still listed that many minutes after its
// peak (at exactly the floor it stays) and leaves the minute after.
func minutesTo(p, floor float64, h time.Duration) int {
	return int(math.Floor(h.Minutes() * math.Log2(p/floor)))
}

// series of scores: the value for minutes [0, n), then zeros for z minutes.
func scoresThen(vals []float64, zeros int) []float64 {
	return append(slices.Clone(vals), make([]float64, zeros)...)
}

func TestALifecycleFollowsTheScores(t *testing.T) {
	h := time.Hour
	cases := []struct {
		name     string
		minScore float64
		scores   []float64 // one tag's score at minutes 1, 2, ...
		// want is its status at each minute: r(ising), p(eaking),
		// c(ooling), or - (not listed).
		want string
	}{
		{"a tag that rises, peaks, cools and leaves", 25,
			scoresThen([]float64{10, 30, 60, 100, 90, 50}, minutesTo(100, 25, h)-1),
			"-rrrpc" + strings.Repeat("c", minutesTo(100, 25, h)-2) + "-"},
		{"a tag that rises twice has two episodes", 25,
			slices.Concat(scoresThen([]float64{40}, minutesTo(40, 25, h)+1), []float64{30, 50}),
			"r" + strings.Repeat("c", minutesTo(40, 25, h)) + "-rr"},
		{"a tag below the floor never enters", 25, []float64{10, 20, 24.9, 0, 20}, "-----"},
		{"a tag back in the band is peaking again, past its peak rising again", 25,
			[]float64{100, 50, 80, 120, 119}, "rcprp"},
		{"a tag scoring at least the floor stays however old its peak", 25,
			scoresThen([]float64{100}, 0), "r"},
		{"a tag whose score falls below the floor stays while its peak decays", 25,
			[]float64{100, 10, 10, 10}, "rccc"},
		{"without a floor a peak decays to a score of 1", 0,
			scoresThen([]float64{4}, minutesTo(4, 1, h)+1), "r" + strings.Repeat("c", minutesTo(4, 1, h)) + "-"},
		{"without a floor a tiny positive score is listed", 0, []float64{0.5, 0.2, 0}, "rc-"},
	}
	long := slices.Repeat([]float64{30}, 5*60) // five hours above the floor
	cases[4].scores = append(cases[4].scores, long...)
	cases[4].want += strings.Repeat("c", len(long))

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(c.want) != len(c.scores) {
				t.Fatalf("the case has %d scores and %d statuses", len(c.scores), len(c.want))
			}
			cfg := lcfg
			cfg.MinScore = c.minScore
			l := NewLifecycle(cfg, LifecycleConfig{HalfLife: h, Peaking: 0.75})
			// The episode as the statuses and scores say it is.
			var since, peakAt int
			var peak float64
			for i, s := range c.scores {
				m := i + 1
				l.Step(end(m), []Trend{{Key: "tag", Score: s}})
				e, ok := l.Get("tag")
				wantIn := c.want[i] != '-'
				if ok != wantIn {
					t.Fatalf("minute %d (score %g): listed %v, want %v", m, s, ok, wantIn)
				}
				if !ok {
					continue
				}
				if i == 0 || c.want[i-1] == '-' {
					since, peak, peakAt = m, s, m
				} else if s > peak {
					peak, peakAt = s, m
				}
				decayed := peak * math.Pow(0.5, float64(m-peakAt)/h.Minutes())
				got := string(e.Status[0])
				if got != c.want[i:i+1] || !e.Since.Equal(t0.Add(time.Duration(since)*time.Minute)) ||
					e.Peak != peak || !e.PeakAt.Equal(t0.Add(time.Duration(peakAt)*time.Minute)) || e.Score != s {
					t.Fatalf("minute %d (score %g): %s since %s, peak %g at %s; want %s since minute %d, peak %g at minute %d",
						m, s, e.Status, e.Since.Format(time.TimeOnly), e.Peak, e.PeakAt.Format(time.TimeOnly), c.want[i:i+1], since, peak, peakAt)
				}
				if math.Abs(e.Decayed-decayed) > 1e-9*peak || e.Value != max(s, e.Decayed) {
					t.Fatalf("minute %d: decayed %g, value %g; want %g = %g·2^(−%d min/%s), value max(%g, decayed)",
						m, e.Decayed, e.Value, decayed, peak, m-peakAt, h, s)
				}
			}
		})
	}
}

func TestTheListIsOrderedByDecayedScore(t *testing.T) {
	h := 30 * time.Minute
	l := NewLifecycle(lcfg, LifecycleConfig{HalfLife: h})
	// old peaks at 400 at minute 1, then scores nothing; mid peaks at
	// 200 at minute 20; new scores 90 from minute 40 on; steady scores
	// 150 from minute 1 on, its peak.
	for m := 1; m <= 70; m++ {
		var in []Trend
		if m == 1 {
			in = append(in, Trend{Key: "old", Score: 400})
		}
		if m == 20 {
			in = append(in, Trend{Key: "mid", Score: 200})
		}
		if m >= 40 {
			in = append(in, Trend{Key: "new", Score: 90})
		}
		in = append(in, Trend{Key: "steady", Score: 150})
		l.Step(end(m), in)

		// The order the formula gives.
		type row struct {
			key   string
			value float64
		}
		var want []row
		add := func(key string, peak float64, peakAt int, now float64) {
			if m < peakAt {
				return
			}
			v := max(now, peak*math.Pow(2, -float64(m-peakAt)/h.Minutes()))
			if v >= lcfg.MinScore {
				want = append(want, row{key, v})
			}
		}
		add("old", 400, 1, 0)
		add("mid", 200, 20, 0)
		if m >= 40 {
			add("new", 90, 40, 90)
		}
		add("steady", 150, 1, 150)
		slices.SortFunc(want, func(a, b row) int {
			if a.value != b.value {
				if a.value > b.value {
					return -1
				}
				return 1
			}
			return strings.Compare(a.key, b.key)
		})
		got := l.List(10)
		if len(got) != len(want) {
			t.Fatalf("minute %d: %d listed, want %v", m, len(got), want)
		}
		for i := range want {
			if got[i].Key != want[i].key || math.Abs(got[i].Value-want[i].value) > 1e-9*want[i].value {
				t.Fatalf("minute %d, row %d: %s %g, want %s %g", m, i+1, got[i].Key, got[i].Value, want[i].key, want[i].value)
			}
		}
	}
	// By then old has decayed below new, the order changed at least once.
	if got := l.List(10); len(got) < 3 || got[0].Key != "steady" {
		t.Fatalf("at the end: %+v", got)
	}
}

func TestAStepAtOrBeforeTheLastIsIgnored(t *testing.T) {
	l := NewLifecycle(lcfg, LifecycleConfig{})
	if !l.Step(end(5), []Trend{{Key: "a", Score: 100}}) {
		t.Fatal("the first step was refused")
	}
	for _, m := range []int{5, 4} {
		if l.Step(end(m), []Trend{{Key: "a", Score: 500}, {Key: "b", Score: 500}}) {
			t.Fatalf("a step at minute %d after minute 5 was taken", m)
		}
	}
	if e, _ := l.Get("a"); e.Peak != 100 || l.Len() != 1 {
		t.Fatalf("after refused steps: %+v, %d listed", e, l.Len())
	}
}

func TestMemberAtKnowsTheEpisodesOfTheLastRecentWindow(t *testing.T) {
	// a: listed at minute 3 only (a peak of 30 halves to 15 in a minute),
	// left at 4; b: listed from minute 4 on.
	run := func(upto int) *Lifecycle {
		l := NewLifecycle(lcfg, LifecycleConfig{HalfLife: time.Minute})
		for m := 1; m <= upto; m++ {
			var in []Trend
			if m == 3 {
				in = append(in, Trend{Key: "a", Score: 30})
			}
			if m >= 4 {
				in = append(in, Trend{Key: "b", Score: 30})
			}
			l.Step(end(m), in)
		}
		return l
	}
	for _, c := range []struct {
		name string
		upto int
		key  string
		m    int
		want bool
	}{
		{"a tag listed now was a member since its episode began", 20, "b", 4, true},
		{"a tag listed now was a member now", 20, "b", 20, true},
		{"a tag listed now was no member before its episode", 20, "b", 3, false},
		{"an ended episode within the recent window is known", 12, "a", 3, true},
		{"an ended episode is no member before it began", 12, "a", 2, false},
		{"an ended episode is no member from its end on", 12, "a", 4, false},
		{"an episode that ended a recent window ago is forgotten", 14, "a", 3, false},
	} {
		if got := run(c.upto).MemberAt(c.key, end(c.m)); got != c.want {
			t.Errorf("%s: at minute %d, %s a member at minute %d: %v, want %v", c.name, c.upto, c.key, c.m, got, c.want)
		}
	}
}

// stepped is a lifecycle through scores that make every status and an
// ended episode.
func stepped(t *testing.T, upto int) *Lifecycle {
	t.Helper()
	l := NewLifecycle(lcfg, LifecycleConfig{HalfLife: 10 * time.Minute})
	for m := 1; m <= upto; m++ {
		in := []Trend{
			{Key: "rising", Score: float64(30 * m), Observed: float64(6 + m), Expected: 1.5, Posts: int64(10 * m)},
			{Key: "plateau", Score: 100 - float64(m%3), Observed: 11, Expected: 1, Posts: 40},
		}
		if m <= 3 {
			in = append(in, Trend{Key: "brief", Score: 1.0 / 3 * 100, Observed: 7, Expected: 1.2, Posts: 9})
		}
		l.Step(end(m), in)
	}
	return l
}

func TestALifecycleSurvivesEncoding(t *testing.T) {
	l := stepped(t, 8)
	b, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeLifecycle(b, lcfg, LifecycleConfig{HalfLife: 10 * time.Minute})
	if err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if len(l.ended) == 0 || l.Len() != 2 {
		t.Fatalf("the state shows too little: %s", b)
	}
	if !slices.Equal(got.List(10), l.List(10)) || !got.At().Equal(l.At()) {
		t.Fatalf("decoded list %+v\nwant %+v", got.List(10), l.List(10))
	}
	again, _ := got.Encode()
	if !bytes.Equal(again, b) {
		t.Fatalf("encoded again:\n%s\nwant\n%s", again, b)
	}
	// Both go on alike: the restored one is the one encoded.
	for m := 9; m <= 14; m++ {
		in := []Trend{{Key: "plateau", Score: 100.0 / 7 * float64(m)}}
		l.Step(end(m), in)
		got.Step(end(m), in)
		x, _ := l.Encode()
		y, _ := got.Encode()
		if !bytes.Equal(x, y) {
			t.Fatalf("minute %d: restored\n%s\nuninterrupted\n%s", m, y, x)
		}
	}
	if empty, err := DecodeLifecycle([]byte(`{"v":1,"at":0,"tags":[]}`), lcfg, LifecycleConfig{}); err != nil || empty.Len() != 0 || !empty.At().IsZero() {
		t.Fatalf("an empty state: %v", err)
	}
}

func TestDecodeLifecycleRejects(t *testing.T) {
	good, _ := stepped(t, 8).Encode()
	if _, err := DecodeLifecycle(good, lcfg, LifecycleConfig{}); err != nil {
		t.Fatalf("the good state %s: %v", good, err)
	}
	s := string(good)
	tag := s[strings.Index(s, `{"key":"plateau"`):]
	tag = tag[:strings.Index(tag, "}")+1]
	with := func(old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("%q not in %s", old, s)
		}
		return strings.Replace(s, old, new, 1)
	}
	for _, c := range []struct{ name, value string }{
		{"another version", with(`"v":1`, `"v":2`)},
		{"an unknown field", with(`"at":`, `"x":1,"at":`)},
		{"trailing data", s + "{}"},
		{"a tag twice", with(tag, tag+","+tag)},
		{"a tag without a key", with(`"key":"plateau"`, `"key":""`)},
		{"a peak after the state's time", with(`"at":`+itoa(end(8)), `"at":`+itoa(end(7)))},
		{"an unknown status", with(`"status":"peaking"`, `"status":"falling"`)},
		{"a peak of zero", with(`"peak":100`, `"peak":0`)},
		{"a score above the peak", with(`"score":98`, `"score":101`)},
		{"tags without a time", `{"v":1,"at":0,"tags":[` + tag + `]}`},
		{"an ended episode that ends when it begins", regexp.MustCompile(`"until":\d+`).ReplaceAllString(s, `"until":`+itoa(end(1)))},
	} {
		if _, err := DecodeLifecycle([]byte(c.value), lcfg, LifecycleConfig{}); !errors.Is(err, ErrInvalidLifecycle) {
			t.Errorf("%s: %v, want ErrInvalidLifecycle", c.name, err)
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestStartsSaysWhereATagStartedFirst(t *testing.T) {
	nets := map[string]*Lifecycle{}
	for _, n := range []string{"bluesky", "mastodon", "x", "twitter"} {
		nets[n] = NewLifecycle(lcfg, LifecycleConfig{})
	}
	// go enters on mastodon at minute 2, on bluesky and x at minute 17
	// (ties by name), never on twitter; other enters on twitter only.
	start := map[string]int{"mastodon": 2, "bluesky": 17, "x": 17}
	for m := 1; m <= 20; m++ {
		for n, l := range nets {
			var in []Trend
			if s, ok := start[n]; ok && m >= s {
				in = append(in, Trend{Key: "go", Score: 50})
			}
			if n == "twitter" {
				in = append(in, Trend{Key: "other", Score: 50})
			}
			l.Step(end(m), in)
		}
	}
	got := Starts("go", nets)
	want := []Start{{"mastodon", t0.Add(2 * time.Minute)}, {"bluesky", t0.Add(17 * time.Minute)}, {"x", t0.Add(17 * time.Minute)}}
	if len(got) != len(want) {
		t.Fatalf("Starts = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Network != want[i].Network || !got[i].Since.Equal(want[i].Since) {
			t.Fatalf("Starts = %+v, want %+v", got, want)
		}
	}
	if got := Starts("nowhere", nets); len(got) != 0 {
		t.Fatalf("a tag listed nowhere starts at %+v", got)
	}
}
