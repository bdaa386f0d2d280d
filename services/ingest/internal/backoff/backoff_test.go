package backoff_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/services/ingest/internal/backoff"
)

func seq(b *backoff.Backoff, c backoff.Class, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = b.Next(c)
	}
	return out
}

func TestEachClassFollowsItsDocumentedSchedule(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name  string
		class backoff.Class
		want  []time.Duration
	}{
		{"network errors add 250 ms up to 16 s", backoff.Network, append(
			func() []time.Duration {
				var d []time.Duration
				for i := 1; i <= 64; i++ {
					d = append(d, time.Duration(i)*250*time.Millisecond)
				}
				return d
			}(), 16*s, 16*s)},
		{"HTTP errors double from 5 s up to 320 s", backoff.HTTP, []time.Duration{5 * s, 10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 320 * s, 320 * s}},
		{"rate limits double from 60 s", backoff.RateLimit, []time.Duration{60 * s, 120 * s, 240 * s, 480 * s, 960 * s, 960 * s}},
		{"auth failures start at a minute and double", backoff.Auth, []time.Duration{60 * s, 120 * s, 240 * s, 480 * s, 960 * s, 960 * s}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := seq(backoff.New(), tc.class, len(tc.want))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("waits %v\nwant  %v", got, tc.want)
			}
		})
	}
}

func TestResetAfterAHealthyConnectionStartsOver(t *testing.T) {
	b := backoff.New()
	seq(b, backoff.HTTP, 4)
	seq(b, backoff.Network, 4)
	b.Reset()
	if d := b.Next(backoff.Network); d != 250*time.Millisecond {
		t.Fatalf("first network wait after reset %s, want 250ms", d)
	}
	if d := b.Next(backoff.HTTP); d != 5*time.Second {
		t.Fatalf("first HTTP wait after reset %s, want 5s", d)
	}
}

func TestANetworkErrorDoesNotShortenARateLimitInProgress(t *testing.T) {
	b := backoff.New()
	b.Next(backoff.RateLimit)
	b.Next(backoff.RateLimit)
	if d := b.Next(backoff.Network); d != 120*time.Second {
		t.Fatalf("network error during a rate limit waits %s, want the rate limit's 120s", d)
	}
	if d := b.Next(backoff.RateLimit); d != 240*time.Second {
		t.Fatalf("next rate limit waits %s, want 240s", d)
	}
}

func TestSleepEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := backoff.Sleep(ctx, backoff.System{}, time.Hour); err != context.Canceled {
		t.Fatalf("Sleep on a cancelled context: %v", err)
	}
}

func TestTheLiveScheduleDoublesFrom250msTo30sAndStartsOverAfterProgress(t *testing.T) {
	ms := time.Millisecond
	b := backoff.NewLive()
	want := []time.Duration{250 * ms, 500 * ms, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	if got := seq(b, backoff.Network, len(want)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("network waits %v, want %v", got, want)
	}
	b.Reset()
	if got := b.Next(backoff.HTTP); got != 250*ms {
		t.Fatalf("after a reset the first HTTP wait is %v, want 250ms", got)
	}
	if got := b.Next(backoff.Auth); got != time.Minute {
		t.Fatalf("auth failures keep the slow schedule: %v", got)
	}
}
