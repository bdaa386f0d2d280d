package hashtag

import (
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hashtrend/hashtrend/pkg/systest"
)

// conformance reads the named sections of a twitter-text conformance file.
func conformance[T any](t *testing.T, file string, sections ...string) map[string][]T {
	t.Helper()
	b, err := os.ReadFile(systest.SharedData(t, "twitter-text", file))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests map[string]yaml.Node `yaml:"tests"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	out := make(map[string][]T)
	for _, s := range sections {
		node := doc.Tests[s]
		var cases []T
		if err := node.Decode(&cases); err != nil || len(cases) == 0 {
			t.Fatalf("%s: section %q is missing, empty or malformed: %v", file, s, err)
		}
		out[s] = cases
	}
	return out
}

func TestTwitterTextConformanceExtract(t *testing.T) {
	type tagsCase struct {
		Description string   `yaml:"description"`
		Text        string   `yaml:"text"`
		Expected    []string `yaml:"expected"`
	}
	for section, cases := range conformance[tagsCase](t, "extract.yml", "hashtags", "hashtags_from_astral") {
		t.Run(section, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.Description, func(t *testing.T) {
					got := []string{}
					for _, m := range Extract(c.Text) {
						got = append(got, m.Tag)
					}
					want := c.Expected
					if want == nil {
						want = []string{}
					}
					if !slices.Equal(got, want) {
						t.Errorf("Extract(%q) = %q, want %q", c.Text, got, want)
					}
				})
			}
		})
	}
}

func TestTwitterTextConformanceExtractWithIndices(t *testing.T) {
	type indexed struct {
		Hashtag string `yaml:"hashtag"`
		Indices [2]int `yaml:"indices"`
	}
	type indicesCase struct {
		Description string    `yaml:"description"`
		Text        string    `yaml:"text"`
		Expected    []indexed `yaml:"expected"`
	}
	cases := conformance[indicesCase](t, "extract.yml", "hashtags_with_indices")["hashtags_with_indices"]
	for _, c := range cases {
		t.Run(c.Description, func(t *testing.T) {
			var want []Match
			for _, e := range c.Expected {
				want = append(want, Match{Tag: e.Hashtag, Start: e.Indices[0], End: e.Indices[1]})
			}
			if got := Extract(c.Text); !slices.Equal(got, want) {
				t.Errorf("Extract(%q) = %+v, want %+v", c.Text, got, want)
			}
		})
	}
}

func TestTwitterTextConformanceValidate(t *testing.T) {
	type validCase struct {
		Description string `yaml:"description"`
		Text        string `yaml:"text"`
		Expected    bool   `yaml:"expected"`
	}
	for _, c := range conformance[validCase](t, "validate.yml", "hashtags")["hashtags"] {
		t.Run(c.Description, func(t *testing.T) {
			if got := IsValid(c.Text); got != c.Expected {
				t.Errorf("IsValid(%q) = %v, want %v", c.Text, got, c.Expected)
			}
		})
	}
}
