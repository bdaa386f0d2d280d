package source

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dghubble/oauth1"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/wire"
	"github.com/hashtrend/hashtrend/services/ingest/internal/backoff"
)

// Twitter reads the Twitter API v1.1 statuses/filter stream, signed with
// OAuth 1.0a, with the parameters of the original tutorial (track, follow,
// locations, language) and stall warnings on.
type Twitter struct {
	// BaseURL is the stream host, https://stream.twitter.com or an
	// API-compatible endpoint.
	BaseURL        string
	ConsumerKey    string
	ConsumerSecret config.Secret
	AccessToken    config.Secret
	AccessSecret   config.Secret
	// Track, Follow, Locations and Language are the filter's parameters,
	// comma-separated as the API takes them; at least one of Track,
	// Follow and Locations is required by the API.
	Track, Follow, Locations, Language string
	// Stall is how long silence lasts before the connection is dropped
	// (the API sends a keep-alive every 30 s; 90 s is its advice).
	Stall time.Duration
	// Clock times the back-off waits (nil: the real clock).
	Clock backoff.Clock

	Metrics *Metrics
	Log     *slog.Logger
}

// Params returns the form parameters of the filter request.
func (t *Twitter) Params() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s = strings.TrimSpace(s); s != "" {
			v.Set(k, s)
		}
	}
	set("track", t.Track)
	set("follow", t.Follow)
	set("locations", t.Locations)
	set("language", t.Language)
	v.Set("stall_warnings", "true")
	return v
}

// Run streams until ctx ends.
func (t *Twitter) Run(ctx context.Context, emit Emit) error {
	endpoint := strings.TrimRight(t.BaseURL, "/") + "/1.1/statuses/filter.json"
	base := &http.Client{Transport: transport()}
	client := oauth1.NewConfig(t.ConsumerKey, t.ConsumerSecret.Reveal()).
		Client(context.WithValue(ctx, oauth1.HTTPClient, base), oauth1.NewToken(t.AccessToken.Reveal(), t.AccessSecret.Reveal()))
	body := t.Params().Encode()
	s := &stream{
		name:     "twitter",
		stall:    t.Stall,
		clock:    clockOr(t.Clock),
		m:        t.Metrics,
		log:      t.Log,
		decode:   wire.DecodeV1,
		authHint: "INGEST_TWITTER_CONSUMER_KEY, _CONSUMER_SECRET, _ACCESS_TOKEN and _ACCESS_SECRET",
		request: func(ctx context.Context) (*http.Response, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
			if err != nil {
				return nil, fmt.Errorf("stream request: %w", err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			t.Log.Info("connecting", "url", endpoint, "params", body)
			return client.Do(req)
		},
	}
	return s.run(ctx, emit)
}

func clockOr(c backoff.Clock) backoff.Clock {
	if c == nil {
		return backoff.System{}
	}
	return c
}
