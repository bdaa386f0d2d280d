package source

import (
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/services/ingest/internal/backoff"
)

// The stream (stream.go) is what twitter and x share; what it does alike
// for both is tested here once, for each of the two APIs on its fake.

// streamAPI is one of the two APIs on its fake.
type streamAPI struct {
	name string
	// start makes the source on a new fake with clock and m; it returns
	// the fake's script and the source's log.
	start func(t *testing.T, clock backoff.Clock, m *Metrics) (Source, *script, *systest.Buffer)
	// refuse gives the source credentials the fake refuses.
	refuse func(Source)
	// post is a post as the API streams it.
	post func(id int, text string) string
	// says is what the log must say of refused credentials, and secrets
	// what it must never show.
	says, secrets []string
}

var (
	twitterAPI = streamAPI{
		name:    "twitter",
		start:   startTwitter,
		refuse:  func(s Source) { s.(*Twitter).ConsumerSecret = "not-" + consumerSecret },
		post:    func(id int, text string) string { return v1Tweet(id, text) },
		says:    []string{"authentication failed: check INGEST_TWITTER_CONSUMER_KEY"},
		secrets: []string{consumerSecret, accessToken, accessSecret},
	}
	xAPI = streamAPI{
		name:    "x",
		start:   startX,
		refuse:  func(s Source) { s.(*X).BearerToken = "wrong-" + xToken },
		post:    xPost,
		says:    []string{"authentication failed: check INGEST_X_BEARER_TOKEN", "401"},
		secrets: []string{"test-bearer-token"},
	}
)

// source is the API's source with its usual settings, for checkBackoff.
func (a streamAPI) source(t *testing.T, clock backoff.Clock) (Source, *script) {
	src, s, _ := a.start(t, clock, testMetrics(a.name))
	return src, s
}

// withStall sets the stall time of a twitter or x source.
func withStall(src Source, d time.Duration) {
	switch s := src.(type) {
	case *Twitter:
		s.Stall = d
	case *X:
		s.Stall = d
	}
}

// TestAStreamSilentPastItsStallTimeIsDroppedAndReconnected: one post and
// then silence on the first connection, one more post on the second. With
// a stall time of 300 ms the source must count one stall, reconnect after
// the network back-off (250 ms) and emit both posts.
func TestAStreamSilentPastItsStallTimeIsDroppedAndReconnected(t *testing.T) {
	for _, api := range []streamAPI{twitterAPI, xAPI} {
		t.Run(api.name, func(t *testing.T) {
			clock := &fakeClock{}
			m := testMetrics(api.name)
			src, s, _ := api.start(t, clock, m)
			withStall(src, 300*time.Millisecond)
			s.conns = []conn{
				streamLines(true, "", api.post(1, "then silence")),
				streamLines(true, api.post(2, "back")),
			}
			posts := collect(t, src, 2)
			if got := ids(posts); !reflect.DeepEqual(got, []string{"1", "2"}) {
				t.Fatalf("posts %v, want 1 2", got)
			}
			if n := testutil.ToFloat64(m.stalls); n != 1 {
				t.Fatalf("%v stalls counted, want 1", n)
			}
			if got := clock.Waits(); !reflect.DeepEqual(got, []time.Duration{250 * time.Millisecond}) {
				t.Fatalf("waits %v, want one network back-off", got)
			}
		})
	}
}

// TestRefusedCredentialsBackOffByTheMinuteSayWhatToCheckAndStayOutOfTheLog
// runs each source with credentials its fake refuses for three waits: they
// must be the back-off of an auth failure (a minute, doubling), no refused
// request may reach the stream, and the log must say what to check and
// show none of the secrets.
func TestRefusedCredentialsBackOffByTheMinuteSayWhatToCheckAndStayOutOfTheLog(t *testing.T) {
	for _, api := range []streamAPI{twitterAPI, xAPI} {
		t.Run(api.name, func(t *testing.T) {
			var s *script
			checkAuthFailure(t, 3, func(clock backoff.Clock) (src Source, logs *systest.Buffer) {
				src, s, logs = api.start(t, clock, testMetrics(api.name))
				api.refuse(src)
				return src, logs
			}, api.says, api.secrets...)
			if n := s.connections(); n != 0 {
				t.Errorf("%d refused requests reached the stream", n)
			}
		})
	}
}
