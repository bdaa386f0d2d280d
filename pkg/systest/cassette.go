package systest

import (
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// Interaction is one recorded HTTP exchange of a cassette: what was asked
// for and the body of the answer.
type Interaction struct {
	URI, Body string
}

// SharedCassette returns the exchanges recorded in an HTTP cassette of the
// reference data (see SharedData): the YAML of Ruby's vcr, under
// http_interactions, or of Python's vcrpy, under interactions. A cassette
// without any is an error.
func SharedCassette(t testing.TB, rel ...string) []Interaction {
	t.Helper()
	type interaction struct {
		Request struct {
			URI string `yaml:"uri"`
		} `yaml:"request"`
		Response struct {
			Body struct {
				String string `yaml:"string"`
			} `yaml:"body"`
		} `yaml:"response"`
	}
	var cassette struct {
		VCR   []interaction `yaml:"http_interactions"`
		VCRPy []interaction `yaml:"interactions"`
	}
	b, err := os.ReadFile(SharedData(t, rel...))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cassette); err != nil {
		t.Fatalf("cassette %v: %v", rel, err)
	}
	var out []Interaction
	for _, in := range append(cassette.VCR, cassette.VCRPy...) {
		out = append(out, Interaction{URI: in.Request.URI, Body: in.Response.Body.String})
	}
	if len(out) == 0 {
		t.Fatalf("cassette %v: no interactions", rel)
	}
	return out
}
