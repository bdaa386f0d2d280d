package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEveryImageTheComposeFileAndDockerfileNameIsListed(t *testing.T) {
	if _, err := check(root(t)); err != nil {
		t.Fatal(err)
	}
}

func TestTheListNamesOnlyImagesInUse(t *testing.T) {
	r := root(t)
	list, err := ReadList(filepath.Join(r, listFile))
	if err != nil {
		t.Fatal(err)
	}
	named, err := NamedImages(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if !slices.ContainsFunc(named, func(n Named) bool { return n.Image == l.Image }) {
			t.Errorf("%s lists %s, which neither %s nor %s names", listFile, l.Image, composeFile, dockerfile)
		}
	}
	// The Dockerfile's builder and runtime and the frontend are among them:
	// a parser that found nothing would pass the test above.
	for _, want := range []string{"golang:1.26-bookworm", "gcr.io/distroless/base-debian12:nonroot", "docker/dockerfile:1"} {
		if !slices.ContainsFunc(named, func(n Named) bool { return n.Image == want && n.In == dockerfile }) {
			t.Errorf("%s names %s, not found among %v", dockerfile, want, named)
		}
	}
}

func TestEveryStandinHasARecipe(t *testing.T) {
	r := root(t)
	list, err := ReadList(filepath.Join(r, listFile))
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(r, "deploy/compose-test/compose-test.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if l.Folder == "" {
			if l.Why == "" {
				t.Errorf("%s is excluded without a reason", l.Image)
			}
			continue
		}
		if _, err := os.Stat(filepath.Join(r, "deploy/compose-test/standins", l.Folder, "Dockerfile")); err != nil {
			t.Errorf("stand-in of %s: %v", l.Image, err)
		}
		if !strings.Contains(string(script), "\n  "+l.Folder+")") {
			t.Errorf("compose-test.sh has no recipe (case %s) for the stand-in of %s", l.Folder, l.Image)
		}
	}
}

func TestDockerfileImages(t *testing.T) {
	got := DockerfileImages(`# syntax=docker/dockerfile:1.7
# a comment
ARG BASE=debian
ARG TAG=12
FROM --platform=linux/amd64 ${BASE}:$TAG AS build
ARG TAG=13
FROM build AS test
COPY --from=build /a /b
COPY --from=0 /a /b
COPY --from=busybox:1 /bin/sh /bin/sh
FROM scratch
FROM debian:12
`)
	want := []string{"docker/dockerfile:1.7", "debian:12", "busybox:1"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAMissingStandinIsNamedInOneLine(t *testing.T) {
	r := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(r, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(composeFile, "services:\n  db:\n    image: postgres:17\n  app:\n    build: .\n")
	write(dockerfile, "FROM golang:1.26-bookworm AS b\nFROM gcr.io/distroless/static\n")
	write(listFile, "golang:1.26-bookworm golang\ngcr.io/distroless/static distroless\n")
	_, err := check(r)
	if err == nil || strings.Contains(err.Error(), "\n") ||
		!strings.Contains(err.Error(), "postgres:17") || !strings.Contains(err.Error(), composeFile) {
		t.Fatalf("want one line naming postgres:17 and %s, got %v", composeFile, err)
	}
	write(listFile, "golang:1.26-bookworm golang\ngcr.io/distroless/static distroless\npostgres:17 - not run here\n")
	out, err := check(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"golang golang:1.26-bookworm", "distroless gcr.io/distroless/static"}; !slices.Equal(out, want) {
		t.Errorf("got %q, want %q", out, want)
	}
	write(listFile, "postgres:17\n")
	if _, err := check(r); err == nil || !strings.Contains(err.Error(), listFile+":1") {
		t.Errorf("a malformed line: want an error naming %s:1, got %v", listFile, err)
	}
}

func TestTheOverlaysImagesAreChecked(t *testing.T) {
	r := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(r, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(r, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(composeFile, "services:\n  db:\n    image: postgres:17\n")
	write(overlayFile, "services:\n  init:\n    image: busybox:1\n    environment:\n      P: ${P:?set P}\n  db:\n    environment:\n      P: ${P:?set P}\n")
	write(dockerfile, "FROM golang:1.26-bookworm\n")
	write(listFile, "golang:1.26-bookworm golang\npostgres:17 - not run here\n")
	_, err := check(r)
	if err == nil || !strings.Contains(err.Error(), "busybox:1") || !strings.Contains(err.Error(), overlayFile) {
		t.Fatalf("want one line naming busybox:1 and %s (the overlay's required variables unset), got %v", overlayFile, err)
	}
	write(listFile, "golang:1.26-bookworm golang\npostgres:17 - not run here\nbusybox:1 - not run here\n")
	if _, err := check(r); err != nil {
		t.Fatal(err)
	}
}
