// Command images tells compose-test.sh which image each stand-in is built
// as, after checking that every image docker-compose.yml (with
// docker-compose.secured.yml on top, which compose-test.sh runs too) and
// deploy/docker/Dockerfile name has one, or is on the list of exclusions
// (standins/images). No container registry can be reached here, so an
// image without a stand-in would otherwise surface as a failed registry
// look-up in the middle of a build.
//
//	go run ./compose-test/images        (from deploy/)
//
// prints one line per stand-in, "<folder> <image>", and exits 0; or prints
// one line naming the first image without a stand-in and exits 1.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// Listed is one line of standins/images: an image and the folder of its
// stand-in, or the reason there is none.
type Listed struct {
	Image  string
	Folder string // "" when excluded
	Why    string // why it is excluded
}

// Named is an image and the file that names it.
type Named struct {
	Image string
	In    string
}

// Paths of the files, relative to the repository root.
const (
	composeFile = "docker-compose.yml"
	overlayFile = "docker-compose.secured.yml" // optional
	dockerfile  = "deploy/docker/Dockerfile"
	listFile    = "deploy/compose-test/standins/images"
)

func main() {
	root, err := repoRoot()
	if err == nil {
		var out []string
		out, err = check(root)
		for _, l := range out {
			fmt.Println(l)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose-test: "+err.Error())
		os.Exit(1)
	}
}

// check returns "<folder> <image>" for each stand-in, or an error naming
// the first image that docker-compose.yml or the Dockerfile names and the
// list lacks.
func check(root string) ([]string, error) {
	list, err := ReadList(filepath.Join(root, listFile))
	if err != nil {
		return nil, err
	}
	named, err := NamedImages(root)
	if err != nil {
		return nil, err
	}
	for _, n := range named {
		if !slices.ContainsFunc(list, func(l Listed) bool { return l.Image == n.Image }) {
			return nil, fmt.Errorf("%s names image %s, which has no stand-in: add one to %s (or an exclusion, with why)",
				n.In, n.Image, listFile)
		}
	}
	var out []string
	for _, l := range list {
		if l.Folder != "" {
			out = append(out, l.Folder+" "+l.Image)
		}
	}
	return out, nil
}

// repoRoot is the nearest folder above the working directory that holds
// docker-compose.yml.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, composeFile)); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no " + composeFile + " above the working directory")
		}
		dir = up
	}
}

// ReadList reads standins/images: "<image> <folder>", or "<image> - <why>";
// # starts a comment.
func ReadList(path string) ([]Listed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var list []Listed
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
			continue
		case len(fields) == 2 && fields[1] != "-":
			list = append(list, Listed{Image: fields[0], Folder: fields[1]})
		case len(fields) > 2 && fields[1] == "-":
			list = append(list, Listed{Image: fields[0], Why: strings.Join(fields[2:], " ")})
		default:
			return nil, fmt.Errorf("%s:%d: want \"<image> <stand-in folder>\" or \"<image> - <why not>\"", path, n)
		}
	}
	return list, sc.Err()
}

// NamedImages lists the images docker-compose.yml, the secured overlay
// on top of it and the Dockerfile pull: the compose services' images
// (those built from the Dockerfile have none), the Dockerfile's syntax
// frontend and its FROM and COPY --from images, with ARG defaults filled
// in.
func NamedImages(root string) ([]Named, error) {
	p, err := loadCompose(root, composeFile)
	if err != nil {
		return nil, err
	}
	var named []Named
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		if s := p.Services[name]; s.Build == nil && s.Image != "" {
			named = append(named, Named{s.Image, composeFile})
		}
	}
	if _, err := os.Stat(filepath.Join(root, overlayFile)); err == nil {
		secured, err := loadCompose(root, composeFile, overlayFile)
		if err != nil {
			return nil, err
		}
		for _, name := range slices.Sorted(maps.Keys(secured.Services)) {
			s := secured.Services[name]
			if s.Build == nil && s.Image != "" && !slices.Contains(named, Named{s.Image, composeFile}) {
				named = append(named, Named{s.Image, overlayFile})
			}
		}
	}
	text, err := os.ReadFile(filepath.Join(root, dockerfile))
	if err != nil {
		return nil, err
	}
	for _, img := range DockerfileImages(string(text)) {
		named = append(named, Named{img, dockerfile})
	}
	return named, nil
}

// loadCompose loads the Compose files, uninterpolated: the overlay's
// required passwords need no values to say which images it runs.
func loadCompose(root string, files ...string) (*types.Project, error) {
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = filepath.Join(root, f)
	}
	opts, err := cli.NewProjectOptions(paths, cli.WithWorkingDirectory(root), cli.WithDiscardEnvFile, cli.WithInterpolation(false))
	if err != nil {
		return nil, err
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		return nil, fmt.Errorf("%s does not load: %w", strings.Join(files, " with "), err)
	}
	return p, nil
}

var (
	syntaxLine = regexp.MustCompile(`(?i)^#\s*syntax\s*=\s*(\S+)`)
	argLine    = regexp.MustCompile(`(?i)^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?`)
	fromLine   = regexp.MustCompile(`(?i)^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?`)
	copyFrom   = regexp.MustCompile(`(?i)^(?:COPY|ADD)\s.*--from=(\S+)`)
	argUse     = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
)

// DockerfileImages returns the images a Dockerfile pulls, in order: the
// frontend of its "# syntax=" directive, each FROM that is not an earlier
// stage, and each COPY --from that is neither a stage nor a stage's index.
// Variables are the ARGs declared before the first FROM, at their defaults.
func DockerfileImages(text string) []string {
	args := map[string]string{}
	stages := map[string]bool{}
	var images []string
	add := func(ref string) {
		ref = argUse.ReplaceAllStringFunc(ref, func(m string) string {
			return args[argUse.FindStringSubmatch(m)[1]]
		})
		if !stages[strings.ToLower(ref)] && !slices.Contains(images, ref) && ref != "scratch" {
			images = append(images, ref)
		}
	}
	first, fromSeen := true, false
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if m := syntaxLine.FindStringSubmatch(line); m != nil && first {
			add(m[1])
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		first = false
		if m := argLine.FindStringSubmatch(line); m != nil && !fromSeen {
			args[m[1]] = m[2]
		}
		if m := fromLine.FindStringSubmatch(line); m != nil {
			fromSeen = true
			add(m[1])
			if m[2] != "" {
				stages[strings.ToLower(m[2])] = true
			}
		}
		if m := copyFrom.FindStringSubmatch(line); m != nil && !isIndex(m[1]) {
			add(m[1])
		}
	}
	return images
}

func isIndex(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
