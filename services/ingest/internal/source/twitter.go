package source

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dghubble/oauth1"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/wire"
	"github.com/hashtrend/hashtrend/services/ingest/internal/backoff"
)

// TwitterSettings are the twitter source's variables.
type TwitterSettings struct {
	Track          string        `envconfig:"INGEST_TWITTER_TRACK" desc:"twitter: terms to track, comma separated"`
	Follow         string        `envconfig:"INGEST_TWITTER_FOLLOW" desc:"twitter: user ids to follow, comma separated"`
	Locations      string        `envconfig:"INGEST_TWITTER_LOCATIONS" desc:"twitter: bounding boxes, sw-lon,sw-lat,ne-lon,ne-lat[,...]"`
	Language       string        `envconfig:"INGEST_TWITTER_LANGUAGE" desc:"twitter: languages, comma separated BCP 47 codes"`
	BaseURL        string        `envconfig:"INGEST_TWITTER_BASE_URL" default:"https://stream.twitter.com" desc:"twitter: stream API base URL"`
	ConsumerKey    string        `envconfig:"INGEST_TWITTER_CONSUMER_KEY" desc:"twitter: OAuth 1.0a consumer key"`
	ConsumerSecret config.Secret `envconfig:"INGEST_TWITTER_CONSUMER_SECRET" desc:"twitter: OAuth 1.0a consumer secret (never logged)"`
	AccessToken    config.Secret `envconfig:"INGEST_TWITTER_ACCESS_TOKEN" desc:"twitter: OAuth 1.0a access token (never logged)"`
	AccessSecret   config.Secret `envconfig:"INGEST_TWITTER_ACCESS_SECRET" desc:"twitter: OAuth 1.0a access token secret (never logged)"`
	Stall          time.Duration `envconfig:"INGEST_TWITTER_STALL" default:"90s" desc:"twitter: silence after which the stream is reconnected"`
}

// Renames lists the old names still accepted.
func (s *TwitterSettings) Renames() map[string]string {
	return map[string]string{
		"INGEST_TRACK": "INGEST_TWITTER_TRACK", "INGEST_FOLLOW": "INGEST_TWITTER_FOLLOW",
		"INGEST_LOCATIONS": "INGEST_TWITTER_LOCATIONS", "INGEST_LANGUAGE": "INGEST_TWITTER_LANGUAGE",
	}
}

// Validate checks the settings.
func (s *TwitterSettings) Validate() error {
	for _, v := range []struct{ name, value string }{
		{"INGEST_TWITTER_CONSUMER_KEY", s.ConsumerKey},
		{"INGEST_TWITTER_CONSUMER_SECRET", s.ConsumerSecret.Reveal()},
		{"INGEST_TWITTER_ACCESS_TOKEN", s.AccessToken.Reveal()},
		{"INGEST_TWITTER_ACCESS_SECRET", s.AccessSecret.Reveal()},
	} {
		if v.value == "" {
			return config.Invalid(v.name, "required when INGEST_SOURCE is twitter")
		}
	}
	if strings.TrimSpace(s.Track+s.Follow+s.Locations) == "" {
		return config.Invalid("INGEST_TWITTER_TRACK", "twitter needs INGEST_TWITTER_TRACK, INGEST_TWITTER_FOLLOW or INGEST_TWITTER_LOCATIONS")
	}
	return config.First(
		checkURL("INGEST_TWITTER_BASE_URL", s.BaseURL),
		config.Positive("INGEST_TWITTER_STALL", s.Stall),
	)
}

// New builds the source.
func (s *TwitterSettings) New(env Env) (Source, error) {
	return &Twitter{BaseURL: s.BaseURL, ConsumerKey: s.ConsumerKey,
		ConsumerSecret: s.ConsumerSecret, AccessToken: s.AccessToken, AccessSecret: s.AccessSecret,
		Track: s.Track, Follow: s.Follow, Locations: s.Locations, Language: s.Language,
		Stall: s.Stall, Env: env}, nil
}

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
	// Clock times the stall watchdog and the back-off waits (nil: the
	// real clock).
	Clock Clock

	Env
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
	request := func(ctx context.Context) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("stream request: %w", err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		t.Log.Info("connecting", "url", endpoint, "params", body)
		return client.Do(req)
	}
	l := &loop{env: t.Env, name: "twitter", stall: t.Stall, clock: t.Clock, backoff: backoff.New(),
		authHint: "INGEST_TWITTER_CONSUMER_KEY, _CONSUMER_SECRET, _ACCESS_TOKEN and _ACCESS_SECRET",
		dial:     dialLines(t.Env, request, wire.DecodeV1)}
	return l.run(ctx, emit)
}
