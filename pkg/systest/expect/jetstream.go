package expect

import (
	"encoding/json"
	"fmt"
)

// JetstreamPost is a post create found in Jetstream events, read here
// through untyped JSON rather than by the decoder under test.
type JetstreamPost struct {
	ID     string // at://<did>/app.bsky.feed.post/<rkey>
	TimeUS int64
	// Hashtags are the tags of the record's #tag facets, each checked to
	// cover "#" and the tag in the text, then its tags field; cashtag
	// facets (covering "$...") are left out.
	Hashtags []string
}

// JetstreamPosts returns the post creates among Jetstream events (one
// JSON object each), in their order. A facet that does not cover its
// hashtag is an error: the expectation would be wrong.
func JetstreamPosts(events [][]byte) ([]JetstreamPost, error) {
	var out []JetstreamPost
	for i, line := range events {
		var e struct {
			Did    string
			TimeUS int64 `json:"time_us"`
			Kind   string
			Commit struct {
				Operation, Collection, RKey string
				Record                      map[string]any
			}
		}
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("event %d: %v", i+1, err)
		}
		if e.Kind != "commit" || e.Commit.Collection != "app.bsky.feed.post" || e.Commit.Operation != "create" {
			continue
		}
		p := JetstreamPost{ID: "at://" + e.Did + "/app.bsky.feed.post/" + e.Commit.RKey, TimeUS: e.TimeUS, Hashtags: []string{}}
		text, _ := e.Commit.Record["text"].(string)
		facets, _ := e.Commit.Record["facets"].([]any)
		for _, f := range facets {
			f, _ := f.(map[string]any)
			idx, _ := f["index"].(map[string]any)
			start, _ := idx["byteStart"].(float64)
			end, _ := idx["byteEnd"].(float64)
			features, _ := f["features"].([]any)
			for _, ft := range features {
				ft, _ := ft.(map[string]any)
				tag, _ := ft["tag"].(string)
				if ft["$type"] != "app.bsky.richtext.facet#tag" {
					continue
				}
				if int(start) < 0 || int(end) > len(text) || start >= end {
					return nil, fmt.Errorf("event %d: facet [%v,%v) outside the text", i+1, start, end)
				}
				switch covered := text[int(start):int(end)]; {
				case covered[0] == '$':
				case covered == "#"+tag:
					p.Hashtags = append(p.Hashtags, tag)
				default:
					return nil, fmt.Errorf("event %d: facet [%v,%v) covers %q, not the hashtag %q", i+1, start, end, covered, tag)
				}
			}
		}
		extra, _ := e.Commit.Record["tags"].([]any)
		for _, s := range extra {
			if s, _ := s.(string); s != "" {
				p.Hashtags = append(p.Hashtags, s)
			}
		}
		out = append(out, p)
	}
	return out, nil
}
