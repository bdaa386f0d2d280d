package wire

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/systest"
	"github.com/hashtrend/hashtrend/pkg/systest/expect"
)

// bskyEvent builds a synthetic Jetstream event that creates a post with
// the given record fields (JSON object members, without braces).
func bskyEvent(record string) string {
	return `{"did":"did:plc:testauthor","time_us":1767225600000000,"kind":"commit","commit":{"rev":"3lzz","operation":"create","collection":"app.bsky.feed.post","rkey":"3lzzrkey","record":{"$type":"app.bsky.feed.post",` + record + `},"cid":"bafytest"}}`
}

// tagFacet is the JSON of one #tag facet.
func tagFacet(start, end int, tag string) string {
	return `{"index":{"byteStart":` + itoa(start) + `,"byteEnd":` + itoa(end) + `},"features":[{"$type":"app.bsky.richtext.facet#tag","tag":` + quote(tag) + `}]}`
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

const bskyID = "at://did:plc:testauthor/app.bsky.feed.post/3lzzrkey"

// bskyAt is the time_us of bskyEvent, 2026-01-01 00:00:00 UTC.
var bskyAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestJetstreamPosts(t *testing.T) {
	created := time.Date(2025, 12, 31, 23, 59, 58, 123e6, time.UTC)
	base := post.Post{ID: bskyID, Source: "bluesky", CreatedAt: created, Author: "did:plc:testauthor", Lang: "en"}
	with := func(text string, tags ...string) post.Post {
		p := base
		p.Text, p.Hashtags = text, append([]string{}, tags...)
		return p
	}
	tests := []struct {
		name     string
		event    string
		cashtags bool
		want     post.Post
	}{
		{"a post takes its text, first language, author and tag facets",
			bskyEvent(`"createdAt":"2025-12-31T23:59:58.123Z","langs":["en","nl"],"text":"hi #Go and #rust","facets":[` + tagFacet(3, 6, "Go") + `,` + tagFacet(11, 16, "rust") + `]`),
			false, with("hi #Go and #rust", "Go", "rust")},
		{"the tags field follows the facets",
			bskyEvent(`"createdAt":"2025-12-31T23:59:58.123Z","langs":["en"],"text":"hi #Go","tags":["outline","#hashed"],"facets":[` + tagFacet(3, 6, "Go") + `]`),
			false, with("hi #Go", "Go", "outline", "hashed")},
		{"a post without facets has no hashtags, whatever its text says",
			bskyEvent(`"createdAt":"2025-12-31T23:59:58.123Z","langs":["en"],"text":"#notafacet"`),
			false, with("#notafacet")},
		{"link and mention facets are not hashtags",
			bskyEvent(`"createdAt":"2025-12-31T23:59:58.123Z","langs":["en"],"text":"see x.com","facets":[{"index":{"byteStart":4,"byteEnd":9},"features":[{"$type":"app.bsky.richtext.facet#link","uri":"https://x.com"}]}]`),
			false, with("see x.com")},
		{"facet byte ranges are UTF-8 offsets, not characters",
			bskyEvent(`"createdAt":"2025-12-31T23:59:58.123Z","langs":["en"],"text":"🦋 #ブルー","facets":[` + tagFacet(5, 15, "ブルー") + `]`),
			false, with("🦋 #ブルー", "ブルー")},
		{"a cashtag facet is left out by default",
			bskyEvent(`"createdAt":"2025-12-31T23:59:58.123Z","langs":["en"],"text":"$AAPL up #stocks","facets":[` + tagFacet(0, 5, "AAPL") + `,` + tagFacet(9, 16, "stocks") + `]`),
			false, with("$AAPL up #stocks", "stocks")},
		{"a cashtag facet counts, with its dollar sign, when cashtags are on",
			bskyEvent(`"createdAt":"2025-12-31T23:59:58.123Z","langs":["en"],"text":"$AAPL up #stocks","facets":[` + tagFacet(0, 5, "AAPL") + `,` + tagFacet(9, 16, "stocks") + `]`),
			true, with("$AAPL up #stocks", "$AAPL", "stocks")},
		{"a tag spelled with a dollar sign is a cashtag too",
			bskyEvent(`"createdAt":"2025-12-31T23:59:58.123Z","langs":["en"],"text":"$TSLA","tags":["$NVDA"],"facets":[` + tagFacet(0, 5, "$TSLA") + `]`),
			false, with("$TSLA")},
		{"a post with no langs has no language",
			bskyEvent(`"createdAt":"2025-12-31T23:59:58.123Z","text":"x"`),
			false, post.Post{ID: bskyID, Source: "bluesky", CreatedAt: created, Author: "did:plc:testauthor", Text: "x", Hashtags: []string{}}},
		{"a createdAt with an offset is converted to UTC",
			bskyEvent(`"createdAt":"2026-01-01T00:59:58.123+01:00","langs":["en"],"text":""`),
			false, with("")},
		{"a createdAt that is not RFC 3339 gives way to time_us",
			bskyEvent(`"createdAt":"yesterday","langs":["en"],"text":"x"`),
			false, func() post.Post { p := with("x"); p.CreatedAt = bskyAt; return p }()},
		{"a missing createdAt gives way to time_us",
			bskyEvent(`"langs":["en"],"text":"x"`),
			false, func() post.Post { p := with("x"); p.CreatedAt = bskyAt; return p }()},
	}
	for _, tt := range tests {
		decodeCase(t, tt.name, only("Jetstream", Jetstream{Cashtags: tt.cashtags}.Decode), tt.event, func(t *testing.T, r Result, err error) {
			isPost(tt.want)(t, r, err)
			if r.TimeUS != 1767225600000000 {
				t.Errorf("TimeUS %d, want the event's time_us", r.TimeUS)
			}
		})
	}
}

func TestJetstreamOtherEvents(t *testing.T) {
	const did = "did:plc:testauthor"
	tests := []struct {
		name  string
		event string
		want  Result
	}{
		{"a post delete names the post",
			`{"did":"did:plc:testauthor","time_us":7,"kind":"commit","commit":{"rev":"r","operation":"delete","collection":"app.bsky.feed.post","rkey":"3lzzrkey"}}`,
			Result{Kind: KindDelete, TimeUS: 7, Notice: Notice{Name: "delete", StatusID: bskyID, UserID: did}}},
		{"a post update names the post",
			`{"did":"did:plc:testauthor","time_us":7,"kind":"commit","commit":{"rev":"r","operation":"update","collection":"app.bsky.feed.post","rkey":"3lzzrkey","record":{"text":"edited #x"}}}`,
			Result{Kind: KindUpdate, TimeUS: 7, Notice: Notice{Name: "update", StatusID: bskyID, UserID: did}}},
		{"a like is a record of its collection",
			`{"did":"did:plc:testauthor","time_us":7,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"app.bsky.feed.like","rkey":"k","record":{"subject":{}}}}`,
			Result{Kind: KindRecord, TimeUS: 7, Notice: Notice{Name: "app.bsky.feed.like", StatusID: "at://did:plc:testauthor/app.bsky.feed.like/k", UserID: did}}},
		{"a repost is a record, not a post: it carries no text",
			`{"did":"did:plc:testauthor","time_us":7,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"app.bsky.feed.repost","rkey":"k","record":{"subject":{}}}}`,
			Result{Kind: KindRecord, TimeUS: 7, Notice: Notice{Name: "app.bsky.feed.repost", StatusID: "at://did:plc:testauthor/app.bsky.feed.repost/k", UserID: did}}},
		{"an identity event names the account",
			`{"did":"did:plc:testauthor","time_us":7,"kind":"identity","identity":{"did":"did:plc:testauthor","handle":"a.test","seq":1,"time":"2026-01-01T00:00:00Z"}}`,
			Result{Kind: KindIdentity, TimeUS: 7, Notice: Notice{Name: "identity", UserID: did}}},
		{"an account event names the account",
			`{"did":"did:plc:testauthor","time_us":7,"kind":"account","account":{"active":false,"did":"did:plc:testauthor","seq":1,"status":"deactivated","time":"2026-01-01T00:00:00Z"}}`,
			Result{Kind: KindAccount, TimeUS: 7, Notice: Notice{Name: "account", UserID: did}}},
	}
	for _, tt := range tests {
		decodeCase(t, tt.name, only("Jetstream", Jetstream{}.Decode), tt.event, isResult(tt.want))
	}
}

func TestJetstreamBadEvents(t *testing.T) {
	tests := []struct {
		name  string
		event string
		says  string
	}{
		{"a frame that is not JSON", `hello`, "not a JSON object"},
		{"cut-off JSON", `{"did":"did:plc:a","time_us":1,"kind":"comm`, "cut off"},
		{"an empty frame", ``, "empty"},
		{"an unknown kind", `{"did":"did:plc:a","time_us":1,"kind":"label"}`, "unknown kind"},
		{"an event without a did", `{"time_us":1,"kind":"identity"}`, "without did"},
		{"an event without time_us", `{"did":"did:plc:a","kind":"identity"}`, "time_us"},
		{"a commit without a commit", `{"did":"did:plc:a","time_us":1,"kind":"commit"}`, "without collection"},
		{"an unknown operation", `{"did":"did:plc:a","time_us":1,"kind":"commit","commit":{"operation":"merge","collection":"app.bsky.feed.post","rkey":"k"}}`, "unknown operation"},
		{"a post create without a record", `{"did":"did:plc:a","time_us":1,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"k"}}`, "no record"},
		{"a record without text", bskyEvent(`"createdAt":"2025-12-31T23:59:58Z","langs":["en"]`), "without text"},
		{"a text that is not a string", bskyEvent(`"text":7`), "record"},
		{"a facet past the end of the text", bskyEvent(`"text":"#go","facets":[` + tagFacet(0, 4, "go") + `]`), "outside"},
		{"a facet with a negative start", bskyEvent(`"text":"#go","facets":[` + tagFacet(-1, 3, "go") + `]`), "outside"},
		{"a facet that ends before it starts", bskyEvent(`"text":"#go","facets":[` + tagFacet(3, 1, "go") + `]`), "outside"},
		{"a facet that splits a UTF-8 sequence", bskyEvent(`"text":"#é","facets":[` + tagFacet(0, 2, "e") + `]`), "splits"},
		{"a link facet that splits a UTF-8 sequence", bskyEvent(`"text":"é.com","facets":[{"index":{"byteStart":1,"byteEnd":6},"features":[{"$type":"app.bsky.richtext.facet#link"}]}]`), "splits"},
		{"a 10 MB frame", bskyEvent(`"text":"` + strings.Repeat("a", 10<<20) + `"`), "over"},
	}
	for _, tt := range tests {
		decodeCase(t, tt.name, only("Jetstream", Jetstream{}.Decode), tt.event, isMalformed(tt.says))
	}
}

func TestRealJetstreamEventsDecodeToTheirTagFacets(t *testing.T) {
	for _, file := range []string{"jetstream-v1-expected_v1.jsonl", "jetstream-golden_v1.jsonl"} {
		t.Run(file, func(t *testing.T) {
			lines := systest.SharedLines(t, "bluesky", file)
			want, err := expect.JetstreamPosts(lines)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[Kind]int{}
			var got []expect.JetstreamPost
			var tags int
			for i, line := range lines {
				r, err := Jetstream{}.Decode(line)
				if err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
				kinds[r.Kind]++
				if r.Kind != KindPost {
					continue
				}
				if r.Post.CreatedAt.IsZero() || r.Post.Source != "bluesky" || !strings.HasPrefix(r.Post.Author, "did:") || !strings.HasPrefix(r.Post.ID, "at://"+r.Post.Author+"/") {
					t.Errorf("line %d: incomplete post %+v", i+1, r.Post)
				}
				got = append(got, expect.JetstreamPost{ID: r.Post.ID, TimeUS: r.TimeUS, Hashtags: r.Post.Hashtags})
				tags += len(r.Post.Hashtags)
			}
			t.Logf("%d events: %v; %d hashtags", len(lines), kinds, tags)
			if len(want) == 0 || !reflect.DeepEqual(got, want) {
				t.Errorf("posts\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestRealJetstreamCountsMatchTheReferenceDescription(t *testing.T) {
	lines := systest.SharedLines(t, "bluesky", "jetstream-v1-expected_v1.jsonl")
	var posts, tagged int
	for _, line := range lines {
		r, err := Jetstream{}.Decode(line)
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind == KindPost {
			posts++
			if len(r.Post.Hashtags) > 0 {
				tagged++
			}
		}
	}
	// SOURCES.md: 152 events, 17 post creates, 2 with tag facets.
	if len(lines) != 152 || posts != 17 || tagged != 2 {
		t.Errorf("%d events, %d posts, %d with hashtags; want 152, 17, 2", len(lines), posts, tagged)
	}
}
