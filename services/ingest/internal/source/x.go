package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/wire"
	"github.com/hashtrend/hashtrend/services/ingest/internal/backoff"
)

// XSettings are the x source's variables.
type XSettings struct {
	Track       string        `envconfig:"INGEST_X_TRACK" desc:"x: terms to track, comma separated, one stream rule each"`
	BaseURL     string        `envconfig:"INGEST_X_BASE_URL" default:"https://api.x.com" desc:"x: API base URL"`
	BearerToken config.Secret `envconfig:"INGEST_X_BEARER_TOKEN" desc:"x: app bearer token (never logged)"`
	RuleTag     string        `envconfig:"INGEST_X_RULE_TAG" default:"hashtrend" desc:"x: tag of the stream rules this service manages"`
	Stall       time.Duration `envconfig:"INGEST_X_STALL" default:"20s" desc:"x: silence after which the stream is reconnected"`
}

// Renames lists the old names still accepted.
func (s *XSettings) Renames() map[string]string {
	return map[string]string{"INGEST_TRACK": "INGEST_X_TRACK"}
}

// Validate checks the settings.
func (s *XSettings) Validate() error {
	if s.BearerToken == "" {
		return config.Invalid("INGEST_X_BEARER_TOKEN", "required when INGEST_SOURCE is x")
	}
	if len(splitList(s.Track)) == 0 {
		return config.Invalid("INGEST_X_TRACK", "x needs at least one term to make a stream rule of")
	}
	return config.First(
		checkURL("INGEST_X_BASE_URL", s.BaseURL),
		config.Positive("INGEST_X_STALL", s.Stall),
	)
}

// New builds the source.
func (s *XSettings) New(env Env) (Source, error) {
	return &X{BaseURL: s.BaseURL, BearerToken: s.BearerToken, Track: splitList(s.Track), RuleTag: s.RuleTag,
		Stall: s.Stall, Env: env}, nil
}

// X reads the X API v2 filtered stream with a bearer token. Before each
// connection it makes the stream's rules match the configured track terms:
// one rule per term, tagged RuleTag; rules with that tag that are no longer
// configured are deleted, other rules are left alone.
type X struct {
	// BaseURL is the API host, https://api.x.com or an API-compatible
	// endpoint.
	BaseURL     string
	BearerToken config.Secret
	// Track are the rule values, one rule each (X's rule syntax, e.g.
	// "#golang lang:en").
	Track []string
	// RuleTag marks the rules this service manages.
	RuleTag string
	// Stall is how long silence lasts before the connection is dropped
	// (the API sends a keep-alive every 20 s).
	Stall time.Duration
	// Clock times the stall watchdog and the back-off waits (nil: the
	// real clock).
	Clock Clock

	Env

	client *http.Client
}

// StreamQuery is the query of the stream request: the fields design.md's
// post needs, and the referenced tweets a retweet's original comes from.
func StreamQuery() url.Values {
	return url.Values{
		"tweet.fields": {"created_at,entities,lang,note_tweet,referenced_tweets,author_id"},
		"expansions":   {"referenced_tweets.id"},
	}
}

// Run streams until ctx ends.
func (x *X) Run(ctx context.Context, emit Emit) error {
	x.client = &http.Client{Transport: transport()}
	endpoint := strings.TrimRight(x.BaseURL, "/") + "/2/tweets/search/stream?" + StreamQuery().Encode()
	request := func(ctx context.Context) (*http.Response, error) {
		req, err := x.newRequest(ctx, http.MethodGet, endpoint, nil)
		if err != nil {
			return nil, err
		}
		x.Log.Info("connecting", "url", endpoint)
		return x.client.Do(req)
	}
	l := &loop{env: x.Env, name: "x", stall: x.Stall, clock: x.Clock, backoff: backoff.New(),
		authHint: "INGEST_X_BEARER_TOKEN", prepare: x.SyncRules, dial: dialLines(x.Env, request, wire.DecodeV2)}
	return l.run(ctx, emit)
}

func (x *X) newRequest(ctx context.Context, method, u string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", u, err)
	}
	req.Header.Set("Authorization", "Bearer "+x.BearerToken.Reveal())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// Rule is one filtered-stream rule.
type Rule struct {
	ID    string `json:"id,omitempty"`
	Value string `json:"value"`
	Tag   string `json:"tag,omitempty"`
}

type rulesResponse struct {
	Data   []Rule             `json:"data"`
	Errors []wire.StreamError `json:"errors"`
}

// SyncRules makes the stream's rules tagged RuleTag equal the track terms.
func (x *X) SyncRules(ctx context.Context) error {
	if x.client == nil {
		x.client = &http.Client{Transport: transport()}
	}
	u := strings.TrimRight(x.BaseURL, "/") + "/2/tweets/search/stream/rules"
	var current rulesResponse
	if err := x.call(ctx, http.MethodGet, u, nil, &current); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, t := range x.Track {
		if t = strings.TrimSpace(t); t != "" {
			want[t] = true
		}
	}
	have := map[string]bool{}
	var stale []string
	for _, r := range current.Data {
		have[r.Value] = true
		if r.Tag == x.RuleTag && !want[r.Value] {
			stale = append(stale, r.ID)
		}
	}
	var add []Rule
	for _, t := range x.Track {
		if t = strings.TrimSpace(t); t != "" && !have[t] {
			add = append(add, Rule{Value: t, Tag: x.RuleTag})
			have[t] = true
		}
	}
	if len(stale) > 0 {
		var res rulesResponse
		if err := x.call(ctx, http.MethodPost, u, map[string]any{"delete": map[string]any{"ids": stale}}, &res); err != nil {
			return err
		}
		x.Log.Info("stream rules deleted", "ids", stale)
	}
	if len(add) > 0 {
		var res rulesResponse
		if err := x.call(ctx, http.MethodPost, u, map[string]any{"add": add}, &res); err != nil {
			return err
		}
		if len(res.Errors) > 0 {
			return &failure{class: backoff.HTTP, err: fmt.Errorf("adding stream rules: %w", res.Errors[0])}
		}
		x.Log.Info("stream rules added", "rules", len(add))
	}
	return nil
}

func (x *X) call(ctx context.Context, method, u string, body, out any) error {
	req, err := x.newRequest(ctx, method, u, body)
	if err != nil {
		return err
	}
	resp, err := x.client.Do(req)
	if err != nil {
		return fmt.Errorf("stream rules: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return httpFailure("stream rules", resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("stream rules: decode response: %w", err)
	}
	return nil
}
