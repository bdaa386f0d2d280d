package source

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hashtrend/hashtrend/pkg/systest"
)

const (
	consumerKey    = "ck-test"
	consumerSecret = "cs-secret-7f3a"
	accessToken    = "at-token-91b2"
	accessSecret   = "as-secret-c0de"
)

// fakeTwitter behaves like the v1.1 statuses/filter endpoint: it checks the
// OAuth 1.0a HMAC-SHA1 signature (RFC 5849, computed here independently of
// the client library), records the filter parameters and streams a script.
type fakeTwitter struct {
	*httptest.Server
	script script

	mu     sync.Mutex
	params url.Values
}

func newFakeTwitter(t *testing.T) *fakeTwitter {
	f := &fakeTwitter{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/1.1/statuses/filter.json" {
			status(http.StatusNotFound, `{"errors":[{"code":34,"message":"Sorry, that page does not exist."}]}`)(w, r)
			return
		}
		if err := r.ParseForm(); err != nil {
			status(http.StatusBadRequest, "")(w, r)
			return
		}
		if err := verifyOAuth1(r, "http://"+r.Host+r.URL.Path); err != nil {
			status(http.StatusUnauthorized, `{"errors":[{"code":32,"message":"Could not authenticate you."}]}`)(w, r)
			return
		}
		f.mu.Lock()
		f.params = r.PostForm
		f.mu.Unlock()
		f.script.next()(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func pct(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// verifyOAuth1 checks the request's OAuth 1.0a signature.
func verifyOAuth1(r *http.Request, baseURL string) error {
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(h, "OAuth ") {
		return fmt.Errorf("no OAuth header")
	}
	oauth := map[string]string{}
	for _, kv := range strings.Split(strings.TrimPrefix(h, "OAuth "), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return fmt.Errorf("bad header part %q", kv)
		}
		v, err := url.QueryUnescape(strings.Trim(v, `"`))
		if err != nil {
			return err
		}
		oauth[k] = v
	}
	if oauth["oauth_consumer_key"] != consumerKey || oauth["oauth_token"] != accessToken ||
		oauth["oauth_signature_method"] != "HMAC-SHA1" || oauth["oauth_nonce"] == "" || oauth["oauth_timestamp"] == "" {
		return fmt.Errorf("bad oauth parameters %v", oauth)
	}
	var pairs []string
	for k, v := range oauth {
		if k != "oauth_signature" && k != "realm" {
			pairs = append(pairs, pct(k)+"="+pct(v))
		}
	}
	for k, vs := range r.Form {
		for _, v := range vs {
			pairs = append(pairs, pct(k)+"="+pct(v))
		}
	}
	sort.Strings(pairs)
	base := r.Method + "&" + pct(baseURL) + "&" + pct(strings.Join(pairs, "&"))
	mac := hmac.New(sha1.New, []byte(pct(consumerSecret)+"&"+pct(accessSecret)))
	mac.Write([]byte(base))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(oauth["oauth_signature"])) {
		return fmt.Errorf("signature mismatch")
	}
	return nil
}

func v1Tweet(id int, text string, tags ...string) string {
	var ents []string
	for _, t := range tags {
		ents = append(ents, fmt.Sprintf(`{"text":%q,"indices":[0,1]}`, t))
	}
	return fmt.Sprintf(`{"created_at":"Fri Jan 22 05:00:%02d +0000 2016","id":%d,"id_str":"%d","text":%q,"lang":"en","user":{"id":7,"id_str":"7","screen_name":"someone"},"entities":{"hashtags":[%s],"urls":[],"user_mentions":[]},"timestamp_ms":"1453438806509"}`,
		id%60, id, id, text, strings.Join(ents, ","))
}

// newTwitter is a twitter source with the tutorial's filter on a new
// fake, whose script the test sets before it runs the source.
func newTwitter(t *testing.T, clock Clock, m *Metrics) (*Twitter, *fakeTwitter, *systest.Buffer) {
	f := newFakeTwitter(t)
	log, buf := testLog()
	return &Twitter{BaseURL: f.URL, ConsumerKey: consumerKey, ConsumerSecret: consumerSecret,
		AccessToken: accessToken, AccessSecret: accessSecret,
		Track: "iphone", Locations: "-130,-20,100,50", Language: "en",
		Stall: testStall, Clock: clock, Env: Env{Metrics: m, State: &State{}, Log: log}}, f, buf
}

// startTwitter is newTwitter for checkBackoff.
func startTwitter(t *testing.T, clock *testClock, m *Metrics) (Source, *script, *systest.Buffer) {
	tw, f, logs := newTwitter(t, clock, m)
	return tw, &f.script, logs
}

func TestTwitterSignsWithOAuth1SendsTheTutorialFilterAndCountsNotices(t *testing.T) {
	m := testMetrics("twitter")
	tw, f, logs := newTwitter(t, newTestClock(), m)
	f.script.conns = []conn{streamLines(true,
		v1Tweet(1, "new #iPhone", "iPhone"),
		"",
		`{"limit":{"track":12,"timestamp_ms":"1453438806600"}}`,
		`{"warning":{"code":"FALLING_BEHIND","message":"Your connection is falling behind and messages are being queued for delivery to you.","percent_full":60}}`,
		`{"delete":{"status":{"id":5,"id_str":"5","user_id":7,"user_id_str":"7"},"timestamp_ms":"1453438806700"}}`,
		v1Tweet(2, "no tags here"),
	)}
	posts := collect(t, tw, 2)

	if got := ids(posts); !reflect.DeepEqual(got, []string{"1", "2"}) {
		t.Fatalf("posts %v, want 1 2", got)
	}
	if p := posts[0]; p.Source != "twitter" || !reflect.DeepEqual(p.Hashtags, []string{"iPhone"}) {
		t.Fatalf("first post %+v", p)
	}
	f.mu.Lock()
	params := f.params
	f.mu.Unlock()
	for k, v := range map[string]string{"track": "iphone", "locations": "-130,-20,100,50", "language": "en", "stall_warnings": "true"} {
		if params.Get(k) != v {
			t.Errorf("filter parameter %s = %q, want %q", k, params.Get(k), v)
		}
	}
	for kind, want := range map[string]float64{"keep-alive": 1, "limit": 1, "warning": 1, "delete": 1} {
		if n := testutil.ToFloat64(m.messages.WithLabelValues(kind)); n != want {
			t.Errorf("%v %s messages counted, want %v", n, kind, want)
		}
	}
	out := logs.String()
	if !strings.Contains(out, "FALLING_BEHIND") {
		t.Errorf("the stall warning was not logged:\n%s", out)
	}
	for _, secret := range []string{consumerSecret, accessToken, accessSecret} {
		if strings.Contains(out, secret) {
			t.Fatalf("secret %q is in the log:\n%s", secret, out)
		}
	}
}

func TestTwitterDisconnectMessagesAndRateLimitsBackOffByMeaning(t *testing.T) {
	s := time.Second
	checkBackoff(t, []backoffCase{
		{"420 doubles from a minute", status(420, `{"errors":[{"code":420,"message":"Enhance Your Calm"}]}`), []time.Duration{60 * s, 120 * s}},
		{"a revoked token is an auth failure", streamLines(false, `{"disconnect":{"code":6,"stream_name":"hashtrend-statuses","reason":"token revoked"}}`), []time.Duration{60 * s, 60 * s}},
		{"a duplicate stream backs off as an HTTP error", streamLines(false, `{"disconnect":{"code":2,"stream_name":"hashtrend-statuses","reason":"duplicate stream"}}`), []time.Duration{5 * s, 5 * s}},
		{"a server shutdown reconnects at once, almost", streamLines(false, `{"disconnect":{"code":1,"stream_name":"hashtrend-statuses","reason":"shutdown"}}`), []time.Duration{250 * time.Millisecond}},
	}, startTwitter)
}
