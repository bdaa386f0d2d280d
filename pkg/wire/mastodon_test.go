package wire

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashtrend/hashtrend/pkg/hashtag"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/systest"
)

// mastodonStatusJSON builds a synthetic Status; extra are more members.
func mastodonStatusJSON(id, content, tags, extra string) string {
	s := `{"id":"` + id + `","created_at":"2026-03-14T09:30:00.000Z","language":"en","uri":"https://social.example/users/bob/statuses/` + id + `",` +
		`"content":` + quote(content) + `,"account":{"id":"1","username":"bob","acct":"bob"},"tags":` + tags
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

var mastodonAt = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

func TestMastodonStatuses(t *testing.T) {
	const uri = "https://social.example/users/bob/statuses/"
	tests := []struct {
		name string
		data string
		want post.Post
	}{
		{"a status takes its uri, time, author, language, text and tags",
			mastodonStatusJSON("11", `<p>Bread <a href="https://social.example/tags/Baking" class="mention hashtag" rel="tag">#<span>Baking</span></a></p>`, `[{"name":"baking","url":"https://social.example/tags/baking"}]`, ""),
			post.Post{ID: uri + "11", Source: "mastodon", CreatedAt: mastodonAt, Text: "Bread #Baking", Lang: "en", Author: "bob", Hashtags: []string{"baking"}}},
		{"paragraphs are a blank line apart and a br is a line break",
			mastodonStatusJSON("12", `<p>one<br>two<br />three</p><p>four</p>`, `[]`, ""),
			post.Post{ID: uri + "12", Source: "mastodon", CreatedAt: mastodonAt, Text: "one\ntwo\nthree\n\nfour", Lang: "en", Author: "bob", Hashtags: []string{}}},
		{"entities are unescaped and a hidden URL part is kept",
			mastodonStatusJSON("13", `<p>Tom &amp; Jerry &lt;3 &#39;hi&#39; <a href="https://example.com/a/long/path"><span class="invisible">https://</span><span class="ellipsis">example.com/a/lo</span><span class="invisible">ng/path</span></a></p>`, `[]`, ""),
			post.Post{ID: uri + "13", Source: "mastodon", CreatedAt: mastodonAt, Text: "Tom & Jerry <3 'hi' https://example.com/a/long/path", Lang: "en", Author: "bob", Hashtags: []string{}}},
		{"a > inside a quoted attribute does not end the tag",
			mastodonStatusJSON("14", `<p><a title="a>b" href="x">link</a></p>`, `[]`, ""),
			post.Post{ID: uri + "14", Source: "mastodon", CreatedAt: mastodonAt, Text: "link", Lang: "en", Author: "bob", Hashtags: []string{}}},
		{"a remote account keeps its host in acct",
			strings.Replace(mastodonStatusJSON("15", "plain", `[]`, ""), `"acct":"bob"`, `"acct":"bob@other.example"`, 1),
			post.Post{ID: uri + "15", Source: "mastodon", CreatedAt: mastodonAt, Text: "plain", Lang: "en", Author: "bob@other.example", Hashtags: []string{}}},
		{"a status without tags leaves them to extraction",
			strings.Replace(mastodonStatusJSON("16", "#plain", `null`, ""), `,"tags":null`, ``, 1),
			post.Post{ID: uri + "16", Source: "mastodon", CreatedAt: mastodonAt, Text: "#plain", Lang: "en", Author: "bob"}},
		{"a reblog is counted as its original: text, tags and language",
			mastodonStatusJSON("17", "", `[]`, `"reblog":{"id":"5","uri":"https://bakers.example/users/alice/statuses/5","created_at":"2026-03-13T00:00:00.000Z","language":"nl","content":"<p>Brood #<span>Zuurdesem</span></p>","account":{"acct":"alice@bakers.example"},"tags":[{"name":"zuurdesem"}]}`),
			post.Post{ID: uri + "17", Source: "mastodon", CreatedAt: mastodonAt, Text: "Brood #Zuurdesem", Lang: "nl", Author: "bob", RetweetOf: "https://bakers.example/users/alice/statuses/5", Hashtags: []string{"zuurdesem"}}},
	}
	decs := map[string]decoder{"DecodeMastodonStatus": DecodeMastodonStatus, "DecodeMastodon (update)": mastodonEvent("update")}
	for _, tt := range tests {
		decodeCase(t, tt.name, decs, tt.data, func(t *testing.T, r Result, err error) {
			isPost(tt.want)(t, r, err)
			if r.LocalID != strings.TrimPrefix(tt.want.ID, uri) {
				t.Errorf("LocalID %q", r.LocalID)
			}
		})
	}
}

func TestMastodonOtherEvents(t *testing.T) {
	tests := []struct {
		name, event, data string
		want              Result
	}{
		{"a delete names the status by its local id", "delete", "117024236332527350",
			Result{Kind: KindDelete, Notice: Notice{Name: "delete", StatusID: "117024236332527350"}}},
		{"an edit names the status by its uri", "status.update", mastodonStatusJSON("18", "edited #x", `[{"name":"x"}]`, ""),
			Result{Kind: KindUpdate, LocalID: "18", Notice: Notice{Name: "update", StatusID: "https://social.example/users/bob/statuses/18"}}},
		{"a notification is another event", "notification", `{"id":"14","type":"mention"}`,
			Result{Kind: KindEvent, Notice: Notice{Name: "notification"}}},
		{"filters_changed carries no data", "filters_changed", "",
			Result{Kind: KindEvent, Notice: Notice{Name: "filters_changed"}}},
	}
	for _, tt := range tests {
		decodeCase(t, tt.name, only("DecodeMastodon", mastodonEvent(tt.event)), tt.data, isResult(tt.want))
	}
}

// mastodonEvent decodes the data of an event of that name.
func mastodonEvent(name string) decoder {
	return func(data []byte) (Result, error) { return DecodeMastodon(name, data) }
}

func TestMastodonBadEvents(t *testing.T) {
	tests := []struct {
		name, event, data, says string
	}{
		{"update data that is not JSON", "update", "hello", "not a JSON object"},
		{"cut-off update data", "update", `{"id":"1","uri":"u`, "cut off"},
		{"an empty update", "update", "", "empty"},
		{"a status without a uri", "update", `{"id":"1","created_at":"2026-03-14T09:30:00Z"}`, "without uri"},
		{"a status without created_at", "update", `{"id":"1","uri":"u"}`, "created_at"},
		{"a reblog without a uri", "update", `{"id":"1","uri":"u","created_at":"2026-03-14T09:30:00Z","reblog":{"content":"x"}}`, "reblog"},
		{"a tags field of the wrong type", "update", `{"id":"1","uri":"u","created_at":"2026-03-14T09:30:00Z","tags":"x"}`, "cannot unmarshal"},
		{"a delete without an id", "delete", " ", "status id"},
		{"a delete carrying JSON", "delete", `{"id":"1"}`, "status id"},
		{"an edit without a uri", "status.update", `{"id":"1"}`, "uri"},
		{"a 10 MB event", "update", `{"content":"` + strings.Repeat("a", 10<<20) + `"}`, "over"},
	}
	for _, tt := range tests {
		decodeCase(t, tt.name, only("DecodeMastodon", mastodonEvent(tt.event)), tt.data, isMalformed(tt.says))
	}
}

// statusTags is the test's own reading of a Status's hashtags through
// untyped JSON: the names of its tags, or of its reblog's.
func statusTags(t *testing.T, data []byte) (uri string, tags []string) {
	t.Helper()
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	uri = s["uri"].(string)
	if r, ok := s["reblog"].(map[string]any); ok {
		s = r
	}
	for _, tag := range s["tags"].([]any) {
		tags = append(tags, tag.(map[string]any)["name"].(string))
	}
	if tags == nil {
		tags = []string{}
	}
	return uri, tags
}

// checkStatuses decodes real statuses, compares their hashtags with the
// test's own reading, and returns how many had tags and how many of those
// the extractor finds again in the reduced text.
func checkStatuses(t *testing.T, statuses [][]byte) (tagged, tags, agree int) {
	t.Helper()
	for i, data := range statuses {
		r, err := DecodeMastodonStatus(data)
		if err != nil {
			t.Fatalf("status %d: %v", i+1, err)
		}
		uri, want := statusTags(t, data)
		p := r.Post
		if r.Kind != KindPost || p.ID != uri || p.Author == "" || p.CreatedAt.IsZero() || r.LocalID == "" {
			t.Errorf("status %d: incomplete post %+v", i+1, p)
		}
		if strings.ContainsAny(p.Text, "<>") && strings.Contains(p.Text, "</") {
			t.Errorf("status %d: HTML left in the text %q", i+1, p.Text)
		}
		if !slices.Equal(p.Hashtags, want) {
			t.Errorf("status %d: hashtags %q, want %q", i+1, p.Hashtags, want)
		}
		if len(want) == 0 {
			continue
		}
		tagged++
		tags += len(want)
		extracted := map[string]bool{}
		for _, m := range hashtag.Extract(p.Text) {
			extracted[hashtag.Key(m.Tag)] = true
		}
		all := true
		for _, w := range want {
			all = all && extracted[hashtag.Key(w)]
		}
		if all {
			agree++
		} else {
			t.Logf("status %d: tags %q, extracted from %q", i+1, want, p.Text)
		}
	}
	return tagged, tags, agree
}

func TestRealMastodonStreamStatuses(t *testing.T) {
	lines := systest.SharedLines(t, "mastodon", "rtoot-mastodonsocial-stream.jsonl")
	tagged, tags, agree := checkStatuses(t, lines)
	t.Logf("%d statuses, %d with %d tags; the extractor finds every tag again in the text of %d", len(lines), tagged, tags, agree)
	// SOURCES.md: 48 statuses, 15 with tags (29 tags).
	if len(lines) != 48 || tagged != 15 || tags != 29 {
		t.Errorf("%d statuses, %d with %d tags; want 48, 15, 29", len(lines), tagged, tags)
	}
	if agree < tagged*9/10 {
		t.Errorf("the reduced text holds every tag of only %d of %d statuses", agree, tagged)
	}
}

func TestRealMastodonTimelinePage(t *testing.T) {
	cassette := systest.SharedCassette(t, "mastodon", "rtoot-timeline-public.yml")
	var page []json.RawMessage
	if err := json.Unmarshal([]byte(cassette[0].Body), &page); err != nil {
		t.Fatal(err)
	}
	statuses := make([][]byte, len(page))
	for i, s := range page {
		statuses[i] = s
	}
	tagged, tags, agree := checkStatuses(t, statuses)
	t.Logf("%d statuses, %d with %d tags; the extractor finds every tag again in the text of %d", len(page), tagged, tags, agree)
	// SOURCES.md: 20 statuses, 5 with tags (21 tags).
	if len(page) != 20 || tagged != 5 || tags != 21 {
		t.Errorf("%d statuses, %d with %d tags; want 20, 5, 21", len(page), tagged, tags)
	}
}
