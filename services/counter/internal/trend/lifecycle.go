package trend

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/hashtrend/hashtrend/pkg/strict"
)

// DefaultHalfLife is the half-life of a trending tag's peak score.
//
// Mastodon decays a tag's peak with a half-life of 2 to 4 hours, but its
// score compares a whole day's accounts with the day before, so a burst
// stays in its own score for a day. Here the score looks at the last 10
// minutes, and the half-life alone decides how long a tag stays listed
// after its burst: H·log₂(peak/floor). An hour keeps a tag that peaked at
// 4× the floor in the list, cooling, for 2 hours, and one that peaked at
// 100× (some 55 authors against an expectation of 1) for 6.6 hours, about
// the horizon (6 h 10 min): a strong burst leaves the list about when its
// buckets leave the baseline, never holding a place long after the
// counter has forgotten what made it trend. 2 hours would keep that tag 13
// hours, and a list of the last half-day's peaks would push today's
// risers down. With the chi-square score, halving the score is the excess
// of authors falling by √2, so in authors the half-life is 2 hours.
const DefaultHalfLife = time.Hour

// DefaultPeaking is the fraction of its peak score above which a tag that
// is not at a new peak is peaking. The score is quadratic in the excess
// of authors, so 3/4 of the peak score is 87 % of the peak's excess; a
// plateau of about 100 authors against 10 expected varies by some 22 % in
// score from one minute to the next (√100 authors), so the band holds a
// tag at its plateau as peaking through one standard deviation of noise.
const DefaultPeaking = 0.75

// decayFloor is the lowest floor of a decayed peak: a chi-square of 1 is a
// steady tag's mean, so a peak decayed below it is noise (Mastodon's
// decay_threshold is 1 too).
const decayFloor = 1

// LifecycleConfig is the definition of a trend's lifecycle. Zero fields
// take the defaults.
type LifecycleConfig struct {
	HalfLife time.Duration // of the peak score; DefaultHalfLife
	Peaking  float64       // fraction of the peak, in (0, 1); DefaultPeaking
}

func (c LifecycleConfig) withDefaults() LifecycleConfig {
	if c.HalfLife <= 0 {
		c.HalfLife = DefaultHalfLife
	}
	if c.Peaking <= 0 || c.Peaking >= 1 {
		c.Peaking = DefaultPeaking
	}
	return c
}

// Status is where a trending tag is in its episode.
type Status string

// The statuses; see the package comment for the rules.
const (
	Rising  Status = "rising"
	Peaking Status = "peaking"
	Cooling Status = "cooling"
)

// Entry is one row of the lifecycle's list at a bucket end.
type Entry struct {
	// Trend is the tag's figures at the bucket end; Score is its current
	// score, 0 when it does not score now (a cooling tag).
	Trend
	Value   float64   // max(Score, Decayed): the list's order
	Decayed float64   // Peak decayed from PeakAt to the bucket end
	Peak    float64   // highest score of the episode
	PeakAt  time.Time // the bucket end it was reached at, the first one on a tie
	Since   time.Time // the bucket end the episode began at
	Status  Status
}

// episode is a listed tag's state. Times are bucket ends in Unix ms.
type episode struct {
	since, peakAt int64
	peak          float64
	now           Trend
	status        Status
}

// ended is an episode that ended at until, kept for Recent after it: the
// reasons' candidates of a rebuild ask who was listed at a bucket end
// before the checkpoint (MemberAt).
type ended struct {
	key          string
	since, until int64
}

// Lifecycle is the trending list of one facet with each tag's episode:
// since when it trends, its peak, its status and its decayed score, keyed
// by tag counting key. It is a function of the scores at every closed
// bucket end, in order (Step), so a replay at any speed gives the same
// lifecycles; its state is checkpointed with Encode and restored with
// DecodeLifecycle. A Tracker steps it (Attach); one runs per facet. It is
// not safe for concurrent use.
type Lifecycle struct {
	cfg      LifecycleConfig
	minScore float64
	recent   int64 // ms: how long ended episodes are kept
	at       int64 // the last bucket end stepped, Unix ms; 0: none
	eps      map[string]*episode
	ended    []ended // by until, then key
	list     []Entry // at at, by value
}

// NewLifecycle returns an empty lifecycle for trending definition cfg
// (its MinScore is the floor, its Recent how long ended episodes are
// remembered).
func NewLifecycle(cfg Config, lc LifecycleConfig) *Lifecycle {
	return &Lifecycle{cfg: lc.withDefaults(), minScore: cfg.MinScore, recent: cfg.Recent.Milliseconds(), eps: map[string]*episode{}}
}

// Config returns the definition in use, defaults filled in.
func (l *Lifecycle) Config() LifecycleConfig { return l.cfg }

// At is the last bucket end stepped (zero before the first).
func (l *Lifecycle) At() time.Time {
	if l.at == 0 {
		return time.Time{}
	}
	return time.UnixMilli(l.at).UTC()
}

// Len is the number of tags in the list.
func (l *Lifecycle) Len() int { return len(l.eps) }

// decayed is a peak of score p reached at pAt, decayed to end:
// p · 2^(−(end − pAt)/HalfLife).
func (l *Lifecycle) decayed(p float64, pAt, end int64) float64 {
	return p * math.Exp2(-float64(end-pAt)/float64(l.cfg.HalfLife.Milliseconds()))
}

// enters says whether a tag scoring s is listed on its score alone.
func (l *Lifecycle) enters(s float64) bool { return s > 0 && s >= l.minScore }

// Step moves the lifecycle to bucket end end (Unix ms) with the scores at
// it: every tag with a positive score, and any other listed tag with its
// figures (a listed tag missing from scores scores 0). A bucket end at or
// before the last one stepped is ignored (false): a rebuild that replays
// buckets a restored lifecycle has seen does not count them twice.
func (l *Lifecycle) Step(end int64, scores []Trend) bool {
	if end <= l.at {
		return false
	}
	l.at = end
	seen := make(map[string]bool, len(l.eps))
	for _, tr := range scores {
		e := l.eps[tr.Key]
		if e == nil {
			if !l.enters(tr.Score) {
				continue
			}
			e = &episode{since: end, peak: tr.Score, peakAt: end, status: Rising}
			l.eps[tr.Key] = e
		} else {
			l.move(e, tr.Score, end)
		}
		e.now = tr
		seen[tr.Key] = true
	}
	for key, e := range l.eps {
		if !seen[key] {
			e.now = Trend{Key: key}
			l.move(e, 0, end)
		}
	}
	floor := max(l.minScore, decayFloor)
	for key, e := range l.eps {
		if !l.enters(e.now.Score) && l.decayed(e.peak, e.peakAt, end) < floor {
			l.ended = append(l.ended, ended{key, e.since, end})
			delete(l.eps, key)
		}
	}
	i := 0
	for i < len(l.ended) && l.ended[i].until <= end-l.recent {
		i++
	}
	l.ended = slices.Delete(l.ended, 0, i)
	slices.SortStableFunc(l.ended, func(a, b ended) int {
		return cmp.Or(cmp.Compare(a.until, b.until), cmp.Compare(a.key, b.key))
	})
	l.list = l.entries()
	return true
}

// move updates a listed tag's peak and status with its score s at end.
func (l *Lifecycle) move(e *episode, s float64, end int64) {
	switch {
	case s > e.peak:
		e.peak, e.peakAt, e.status = s, end, Rising
	case s >= l.cfg.Peaking*e.peak:
		e.status = Peaking
	default:
		e.status = Cooling
	}
}

// entries is the list at l.at, by value descending, ties by key.
func (l *Lifecycle) entries() []Entry {
	out := make([]Entry, 0, len(l.eps))
	for key := range l.eps {
		out = append(out, l.entry(key))
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(b.Value, a.Value), cmp.Compare(a.Key, b.Key))
	})
	return out
}

func (l *Lifecycle) entry(key string) Entry {
	e := l.eps[key]
	d := l.decayed(e.peak, e.peakAt, l.at)
	return Entry{Trend: e.now, Value: max(e.now.Score, d), Decayed: d, Peak: e.peak,
		PeakAt: time.UnixMilli(e.peakAt).UTC(), Since: time.UnixMilli(e.since).UTC(), Status: e.status}
}

// List returns the first n rows of the list at the last bucket end
// stepped, value descending, ties by key ascending.
func (l *Lifecycle) List(n int) []Entry { return l.list[:min(max(n, 0), len(l.list))] }

// Get returns key's row, false when it is not listed.
func (l *Lifecycle) Get(key string) (Entry, bool) {
	if l.eps[key] == nil {
		return Entry{}, false
	}
	return l.entry(key), true
}

// MemberAt says whether key was listed at bucket end end, for an end no
// more than Recent before the last one stepped (older episodes are
// forgotten).
func (l *Lifecycle) MemberAt(key string, end int64) bool {
	if e := l.eps[key]; e != nil && e.since <= end && end <= l.at {
		return true
	}
	for _, x := range l.ended {
		if x.key == key && x.since <= end && end < x.until {
			return true
		}
	}
	return false
}

// membersAt is every key MemberAt says was listed at end.
func (l *Lifecycle) membersAt(end int64) []string {
	var out []string
	for key, e := range l.eps {
		if e.since <= end && end <= l.at {
			out = append(out, key)
		}
	}
	for _, x := range l.ended {
		if x.since <= end && end < x.until {
			out = append(out, x.key)
		}
	}
	return out
}

// idle says the lifecycle has nothing to step: nothing listed or
// remembered.
func (l *Lifecycle) idle() bool { return len(l.eps) == 0 && len(l.ended) == 0 }

// Start is when a tag's current episode began in one network's facet.
type Start struct {
	Network string
	Since   time.Time
}

// Starts returns where key started trending first: for each network whose
// facet's lifecycle (byNetwork, by network name) lists it, the since-time
// of its current episode there, earliest first, ties by network.
func Starts(key string, byNetwork map[string]*Lifecycle) []Start {
	var out []Start
	for n, l := range byNetwork {
		if e := l.eps[key]; e != nil {
			out = append(out, Start{Network: n, Since: time.UnixMilli(e.since).UTC()})
		}
	}
	slices.SortFunc(out, func(a, b Start) int { return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.Network, b.Network)) })
	return out
}

// LifecycleVersion is the schema version of an encoded lifecycle.
const LifecycleVersion = 1

// ErrInvalidLifecycle marks bytes that are not an encoded lifecycle.
var ErrInvalidLifecycle = errors.New("invalid lifecycle state")

// lifecycleState is the JSON of a lifecycle. Times are bucket ends in
// Unix ms; floats are written in the shortest form that reads back to the
// same bits, so a restored lifecycle steps on exactly as the one encoded.
type lifecycleState struct {
	V     int            `json:"v"`
	At    int64          `json:"at"`
	Tags  []episodeState `json:"tags"`
	Ended []endedState   `json:"ended,omitempty"`
}

type episodeState struct {
	Key      string  `json:"key"`
	Since    int64   `json:"since"`
	Peak     float64 `json:"peak"`
	PeakAt   int64   `json:"peak_at"`
	Status   Status  `json:"status"`
	Score    float64 `json:"score"`
	Observed float64 `json:"observed"`
	Expected float64 `json:"expected"`
	Posts    int64   `json:"posts"`
}

type endedState struct {
	Key   string `json:"key"`
	Since int64  `json:"since"`
	Until int64  `json:"until"`
}

// Encode returns the lifecycle's state as versioned JSON, tags by key: what
// rank checkpoints with its totals, so that a restart restores since-times
// and peaks older than the deltas it rebuilds the buckets from.
//
//	{"v":1,"at":1795597200000,"tags":[{"key":"go","since":1795596600000,"peak":64,
//	 "peak_at":1795596900000,"status":"cooling","score":9,"observed":4,"expected":1,"posts":5}],
//	 "ended":[{"key":"rust","since":1795590000000,"until":1795596960000}]}
func (l *Lifecycle) Encode() ([]byte, error) {
	s := lifecycleState{V: LifecycleVersion, At: l.at, Tags: make([]episodeState, 0, len(l.eps))}
	for key, e := range l.eps {
		s.Tags = append(s.Tags, episodeState{Key: key, Since: e.since, Peak: e.peak, PeakAt: e.peakAt, Status: e.status,
			Score: e.now.Score, Observed: e.now.Observed, Expected: e.now.Expected, Posts: e.now.Posts})
	}
	slices.SortFunc(s.Tags, func(a, b episodeState) int { return cmp.Compare(a.Key, b.Key) })
	for _, x := range l.ended {
		s.Ended = append(s.Ended, endedState{Key: x.key, Since: x.since, Until: x.until})
	}
	return json.Marshal(s)
}

// DecodeLifecycle restores a lifecycle from what Encode wrote, strictly,
// for the definitions given (which may differ from the encoder's: the
// peaks and since-times stay, the decay and status follow the new ones
// from the next step).
func DecodeLifecycle(b []byte, cfg Config, lc LifecycleConfig) (*Lifecycle, error) {
	var s lifecycleState
	if err := strict.Decode(b, &s, &s.V, LifecycleVersion, LifecycleVersion, ErrInvalidLifecycle); err != nil {
		return nil, err
	}
	l := NewLifecycle(cfg, lc)
	if s.At < 0 || s.At == 0 && (len(s.Tags) > 0 || len(s.Ended) > 0) {
		return nil, fmt.Errorf("%w: at %d with %d tags", ErrInvalidLifecycle, s.At, len(s.Tags))
	}
	l.at = s.At
	for i, t := range s.Tags {
		bad := t.Key == "" || l.eps[t.Key] != nil || t.Since > t.PeakAt || t.PeakAt > s.At ||
			!(t.Peak > 0) || math.IsInf(t.Peak, 0) || t.Score < 0 || t.Score > t.Peak || t.Observed < 0 || t.Expected < 0 || t.Posts < 0 ||
			t.Status != Rising && t.Status != Peaking && t.Status != Cooling
		if bad {
			return nil, fmt.Errorf("%w: tag %d (%q): %+v", ErrInvalidLifecycle, i, t.Key, t)
		}
		l.eps[t.Key] = &episode{since: t.Since, peak: t.Peak, peakAt: t.PeakAt, status: t.Status,
			now: Trend{Key: t.Key, Score: t.Score, Observed: t.Observed, Expected: t.Expected, Posts: t.Posts}}
	}
	for i, x := range s.Ended {
		if x.Key == "" || x.Since >= x.Until || x.Until > s.At || i > 0 && x.Until < s.Ended[i-1].Until {
			return nil, fmt.Errorf("%w: ended episode %d (%q, %d to %d)", ErrInvalidLifecycle, i, x.Key, x.Since, x.Until)
		}
		l.ended = append(l.ended, ended{x.Key, x.Since, x.Until})
	}
	l.list = l.entries()
	return l, nil
}
