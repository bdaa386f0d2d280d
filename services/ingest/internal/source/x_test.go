package source

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hashtrend/hashtrend/pkg/systest"
)

const xToken = "AAAAAAAAAAAAAAAAAAAAAtest-bearer-token-d00d"

// fakeX behaves like the X API v2 filtered stream: bearer-token auth, rule
// state behind GET/POST /2/tweets/search/stream/rules, and a scripted stream.
type fakeX struct {
	*httptest.Server
	script script

	mu        sync.Mutex
	rules     map[string]Rule
	nextID    int
	rulePosts int
	query     string
}

func newFakeX(t *testing.T, rules ...Rule) *fakeX {
	f := &fakeX{rules: map[string]Rule{}, nextID: 100}
	for _, r := range rules {
		f.rules[r.ID] = r
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/2/tweets/search/stream/rules", f.handleRules)
	mux.HandleFunc("GET /2/tweets/search/stream", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.query = r.URL.RawQuery
		f.mu.Unlock()
		f.script.next()(w, r)
	})
	f.Server = httptest.NewServer(f.auth(mux))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeX) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+xToken {
			status(http.StatusUnauthorized, `{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`)(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (f *fakeX) handleRules(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.Method {
	case http.MethodGet:
		var data []Rule
		for _, rule := range f.rules {
			data = append(data, rule)
		}
		sort.Slice(data, func(i, j int) bool { return data[i].ID < data[j].ID })
		_ = json.NewEncoder(w).Encode(map[string]any{"data": data, "meta": map[string]any{"result_count": len(data)}})
	case http.MethodPost:
		f.rulePosts++
		var req struct {
			Add    []Rule `json:"add"`
			Delete *struct {
				IDs []string `json:"ids"`
			} `json:"delete"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || (req.Add == nil) == (req.Delete == nil) {
			status(http.StatusBadRequest, `{"title":"Invalid Request"}`)(w, r)
			return
		}
		var created []Rule
		for _, a := range req.Add {
			for _, have := range f.rules {
				if have.Value == a.Value {
					_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"title": "DuplicateRule", "value": a.Value}}})
					return
				}
			}
			f.nextID++
			a.ID = strconv.Itoa(f.nextID)
			f.rules[a.ID] = a
			created = append(created, a)
		}
		if req.Delete != nil {
			for _, id := range req.Delete.IDs {
				delete(f.rules, id)
			}
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusCreated)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": created})
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (f *fakeX) ruleSet() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for _, r := range f.rules {
		out[r.Value] = r.Tag
	}
	return out
}

func xPost(id int, text string) string {
	return fmt.Sprintf(`{"data":{"id":"%d","text":%q,"created_at":"2024-05-01T10:00:%02d.000Z","author_id":"42","lang":"en","edit_history_tweet_ids":["%d"]},"matching_rules":[{"id":"101","tag":"hashtrend"}]}`, id, text, id%60, id)
}

func newX(f *fakeX, clock Clock, m *Metrics) (*X, *systest.Buffer) {
	log, buf := testLog()
	return &X{BaseURL: f.URL, BearerToken: xToken, Track: []string{"#golang", "kafka lang:en"}, RuleTag: "hashtrend",
		Stall: testStall, Clock: clock, Env: Env{Metrics: m, State: &State{}, Log: log}}, buf
}

// startX is an x source on a new fake, for checkBackoff.
func startX(t *testing.T, clock *testClock, m *Metrics) (Source, *script, *systest.Buffer) {
	f := newFakeX(t)
	x, logs := newX(f, clock, m)
	return x, &f.script, logs
}

func TestXRulesSyncAddsMissingDeletesOursThatAreStaleAndKeepsOthers(t *testing.T) {
	f := newFakeX(t,
		Rule{ID: "1", Value: "#golang", Tag: "hashtrend"},
		Rule{ID: "2", Value: "old term", Tag: "hashtrend"},
		Rule{ID: "3", Value: "someone else's", Tag: "other-app"},
	)
	x, _ := newX(f, nil, testMetrics("x"))
	if err := x.SyncRules(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"#golang": "hashtrend", "kafka lang:en": "hashtrend", "someone else's": "other-app"}
	if got := f.ruleSet(); !reflect.DeepEqual(got, want) {
		t.Fatalf("rules after sync %v\nwant %v", got, want)
	}
	posts := f.rulePosts
	if err := x.SyncRules(t.Context()); err != nil {
		t.Fatal(err)
	}
	if f.rulePosts != posts {
		t.Fatalf("a second sync changed rules again (%d POSTs, want %d)", f.rulePosts, posts)
	}
}

func TestXStreamsPostsSkipsKeepAlivesAndReconnectsAfterADrop(t *testing.T) {
	f := newFakeX(t)
	f.script.conns = []conn{
		streamLines(false, "", xPost(1, "hello #Go"), "", xPost(2, "second")), // then the server drops it
		streamLines(true, xPost(3, "after the reconnect")),
	}
	m := testMetrics("x")
	clock := newTestClock()
	w := waitOut(t, clock, m)
	x, _ := newX(f, clock, m)
	posts := collect(t, x, 3)

	if got := ids(posts); !reflect.DeepEqual(got, []string{"1", "2", "3"}) {
		t.Fatalf("posts %v, want 1 2 3", got)
	}
	if posts[0].Source != "x" || posts[0].Text != "hello #Go" {
		t.Fatalf("first post decoded as %+v", posts[0])
	}
	if got := w.Waits(); !reflect.DeepEqual(got, []time.Duration{250 * time.Millisecond}) {
		t.Fatalf("waits %v, want one network back-off of 250ms", got)
	}
	if n := testutil.ToFloat64(m.messages.WithLabelValues("keep-alive")); n != 2 {
		t.Fatalf("%v keep-alives counted, want 2", n)
	}
	if n := testutil.ToFloat64(m.reconnects.WithLabelValues("network")); n != 1 {
		t.Fatalf("%v network reconnects, want 1", n)
	}
	q := f.query
	for _, want := range []string{"tweet.fields=created_at%2Centities%2Clang%2Cnote_tweet%2Creferenced_tweets%2Cauthor_id", "expansions=referenced_tweets.id"} {
		if !strings.Contains(q, want) {
			t.Errorf("stream query %q lacks %q", q, want)
		}
	}
	if got := f.ruleSet(); len(got) != 2 {
		t.Errorf("rules were not synced before connecting: %v", got)
	}
}

// TestXBacksOffPerErrorClass: the error objects of the v2 stream (the
// back-off of plain HTTP errors is in the contract suite).
func TestXBacksOffPerErrorClass(t *testing.T) {
	s := time.Second
	checkBackoff(t, []backoffCase{
		{"a connection limit is a rate limit", status(429, `{"title":"ConnectionException","detail":"This stream is currently at the maximum allowed connection limit.","connection_issue":"TooManyConnections","type":"https://api.twitter.com/2/problems/streaming-connection"}`), []time.Duration{60 * s, 120 * s}},
		{"an operational disconnect is a network error", streamLines(false, `{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect","detail":"This stream has been disconnected upstream for operational reasons.","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}`), []time.Duration{250 * time.Millisecond, 250 * time.Millisecond}},
	}, startX)
}
