package app

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/services/counter/internal/trend"
)

func TestValidateNamesTheBadVariable(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"a grace as long as the window", func(c *Config) { c.Grace = c.Window }, "COUNTER_GRACE"},
		{"a negative grace", func(c *Config) { c.Grace = -time.Millisecond }, "COUNTER_GRACE"},
		{"a tiny window", func(c *Config) { c.Window = time.Millisecond }, "COUNTER_WINDOW"},
		{"a transaction timeout shorter than two windows", func(c *Config) { c.TxnTimeout = 3 * time.Second }, "COUNTER_TRANSACTION_TIMEOUT"},
		{"a restore stall bound no longer than the transaction timeout", func(c *Config) { c.RestoreStall = c.TxnTimeout }, "COUNTER_RESTORE_STALL"},
		{"an empty top list", func(c *Config) { c.TopN = 0 }, "COUNTER_TOP_N"},
		{"one group for both stages", func(c *Config) { c.RankGroup = c.TallyGroup }, "COUNTER_GROUP_RANK"},
		{"a record limit below 1 MiB", func(c *Config) { c.MaxRecordBytes = 1000 }, "COUNTER_MAX_RECORD_BYTES"},
		{"a negative dedupe horizon", func(c *Config) { c.DedupeRecords = -1 }, "COUNTER_DEDUPE_RECORDS"},
		{"a dedupe horizon past the bound", func(c *Config) { c.DedupeRecords = maxDedupeRecords + 1 }, "COUNTER_DEDUPE_RECORDS"},
		{"an instance id the broker refuses as a group member id", func(c *Config) { c.Instance = "host/1" }, "COUNTER_INSTANCE_ID"},
		{"an instance id too long for a group member id", func(c *Config) { c.Instance = strings.Repeat("a", 244) }, "COUNTER_INSTANCE_ID"},
		{"an empty deltas topic", func(c *Config) { c.Topics.Deltas = "" }, "TOPIC_DELTAS"},
		{"a trending bucket below a second", func(c *Config) { c.TrendingBucket = 500 * time.Millisecond }, "COUNTER_TRENDING_BUCKET"},
		{"a trending bucket of fractional seconds", func(c *Config) { c.TrendingBucket = 1500 * time.Millisecond }, "COUNTER_TRENDING_BUCKET"},
		{"a negative lateness", func(c *Config) { c.TrendingLateness = -time.Second }, "COUNTER_TRENDING_LATENESS"},
		{"a recent window of part of a bucket", func(c *Config) { c.TrendingRecent = 90 * time.Second }, "COUNTER_TRENDING_RECENT"},
		{"a baseline not made of recent windows", func(c *Config) { c.TrendingBaseline = 15 * time.Minute }, "COUNTER_TRENDING_BASELINE"},
		{"a minimum of no authors", func(c *Config) { c.TrendingMin = 0 }, "COUNTER_TRENDING_MIN"},
		{"a negative score floor", func(c *Config) { c.TrendingMinScore = -1 }, "COUNTER_TRENDING_MIN_SCORE"},
		{"no half-life", func(c *Config) { c.TrendingHalfLife = 0 }, "COUNTER_TRENDING_HALF_LIFE"},
		{"a half-life shorter than a bucket", func(c *Config) { c.TrendingHalfLife = 30 * time.Second }, "COUNTER_TRENDING_HALF_LIFE"},
		{"a half-life over a day", func(c *Config) { c.TrendingHalfLife = 25 * time.Hour }, "COUNTER_TRENDING_HALF_LIFE"},
		{"facets neither on nor off", func(c *Config) { c.Facets = "true" }, "COUNTER_FACETS"},
		{"trending per facet neither on nor off", func(c *Config) { c.FacetTrending = "yes" }, "COUNTER_FACET_TRENDING"},
		{"trending reasons neither on nor off", func(c *Config) { c.TrendingReasons = "yes" }, "COUNTER_TRENDING_REASONS"},
		{"a negative number of languages", func(c *Config) { c.FacetLanguages = -1 }, "COUNTER_FACET_LANGUAGES"},
		{"more languages than the bound", func(c *Config) { c.FacetLanguages = maxFacetLanguages + 1 }, "COUNTER_FACET_LANGUAGES"},
		{"a budget below a snapshot's size", func(c *Config) { c.FacetBudget = 1000 }, "COUNTER_FACET_BUDGET"},
		{"an empty facets topic", func(c *Config) { c.Topics.Facets = "" }, "TOPIC_FACETS"},
		{"a bad bucket with trending off but facets on, whose fold keeps post time by it", func(c *Config) {
			c.Trending, c.TrendingBucket = false, 1500*time.Millisecond
		}, "COUNTER_TRENDING_BUCKET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := config.Load(&c); err != nil {
				t.Fatalf("defaults do not validate: %v", err)
			}
			tt.change(&c)
			var ce *config.Error
			if err := c.Validate(); !errors.As(err, &ce) || ce.Var != tt.want {
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

func TestPostTimeSettingsAreIgnoredWithTrendingAndFacetsOff(t *testing.T) {
	var c Config
	if err := config.Load(&c); err != nil {
		t.Fatal(err)
	}
	c.Trending, c.Facets, c.TrendingBucket = false, "off", 1500*time.Millisecond
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate = %v", err)
	}
	if c.trend() != nil || c.facets() != nil {
		t.Fatal("trending or facets on")
	}
}

func TestTheInstanceDefaultsToTheHostname(t *testing.T) {
	var c Config
	if err := config.Load(&c); err != nil {
		t.Fatal(err)
	}
	if c.Instance == "" {
		t.Fatal("COUNTER_INSTANCE_ID has no default")
	}
}

func TestAnInstanceIDOfEveryAllowedCharacterValidates(t *testing.T) {
	var c Config
	if err := config.Load(&c); err != nil {
		t.Fatal(err)
	}
	c.Instance = "counter-0.eu_west." + strings.Repeat("x", maxInstance-18)
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate(%q) = %v", c.Instance, err)
	}
}

func TestTheHalfLifeDefaultsToTheTrendPackages(t *testing.T) {
	var c Config
	if err := config.Load(&c); err != nil {
		t.Fatal(err)
	}
	if c.TrendingHalfLife != trend.DefaultHalfLife {
		t.Fatalf("COUNTER_TRENDING_HALF_LIFE defaults to %s, trend.DefaultHalfLife is %s", c.TrendingHalfLife, trend.DefaultHalfLife)
	}
	// With trending off it is not looked at.
	c.Trending, c.TrendingHalfLife = false, 0
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate with trending off = %v", err)
	}
}
