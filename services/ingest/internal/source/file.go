package source

import (
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/wire"
)

// maxLine bounds one stream line; posts are a few kilobytes.
const maxLine = 16 << 20

// FileSettings are the file source's variables.
type FileSettings struct {
	Paths []string `envconfig:"INGEST_FILE_PATHS" desc:"file: recorded streams to replay, comma separated paths or globs (.json, .jsonl, .gz, .bz2)"`
	Rate  float64  `envconfig:"INGEST_FILE_RATE" default:"0" desc:"file: posts per second (0: as fast as Kafka takes them)"`
	Speed float64  `envconfig:"INGEST_FILE_SPEED" default:"0" desc:"file: replay at this many times the original pace by created_at (0: use INGEST_FILE_RATE)"`
	Loop  bool     `envconfig:"INGEST_FILE_LOOP" default:"false" desc:"file: start again after the last file"`
}

// Renames lists the old names still accepted.
func (s *FileSettings) Renames() map[string]string {
	return map[string]string{
		"INGEST_FILES": "INGEST_FILE_PATHS", "INGEST_RATE": "INGEST_FILE_RATE",
		"INGEST_SPEED": "INGEST_FILE_SPEED", "INGEST_LOOP": "INGEST_FILE_LOOP",
	}
}

// Validate checks the settings.
func (s *FileSettings) Validate() error {
	if len(s.Paths) == 0 {
		return config.Invalid("INGEST_FILE_PATHS", "required when INGEST_SOURCE is file")
	}
	if _, err := Files(s.Paths); err != nil {
		return config.Invalid("INGEST_FILE_PATHS", "%v", err)
	}
	if s.Rate < 0 {
		return config.Invalid("INGEST_FILE_RATE", "must not be negative, got %g", s.Rate)
	}
	if s.Speed < 0 {
		return config.Invalid("INGEST_FILE_SPEED", "must not be negative, got %g", s.Speed)
	}
	return nil
}

// New builds the source.
func (s *FileSettings) New(env Env) (Source, error) {
	return &File{Paths: s.Paths, Rate: s.Rate, Speed: s.Speed, Loop: s.Loop, Env: env}, nil
}

// File replays recorded stream files: one JSON object per line, Twitter
// v1.1 or X v2 (told apart per line), plain or compressed by extension
// (.gz, .bz2).
type File struct {
	// Paths are file names or globs, replayed in order (a glob's matches in
	// lexical order).
	Paths []string
	// Rate paces the replay to a fixed number of posts per second; Speed
	// replays at Speed times the original pace, by created_at. With
	// neither the replay runs as fast as the producer takes posts.
	Rate  float64
	Speed float64
	// Loop starts again at the first file after the last one, until ctx
	// ends. The same posts (same ids) are then produced again.
	Loop bool

	Env
}

// Files expands the globs of paths; a path that matches nothing is an error.
func Files(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		m, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("%s: no such file", p)
		}
		sort.Strings(m)
		out = append(out, m...)
	}
	return out, nil
}

// Run replays the files.
func (f *File) Run(ctx context.Context, emit Emit) error {
	names, err := Files(f.Paths)
	if err != nil {
		return err
	}
	f.connected(true)
	defer f.connected(false)
	pace := &replayPacer{rate: newPacer(f.Rate), speed: f.Speed}
	for {
		pace.t0 = time.Time{} // a new pass keeps the original pace again
		for _, name := range names {
			f.Log.Info("replaying file", "file", name)
			if err := f.replay(ctx, name, emit, pace); err != nil {
				return stopped(ctx, err)
			}
		}
		if !f.Loop || ctx.Err() != nil {
			return nil
		}
	}
}

func (f *File) replay(ctx context.Context, name string, emit Emit, pace *replayPacer) error {
	r, closeFn, err := open(name)
	if err != nil {
		return err
	}
	defer closeFn()
	l := lines{decode: wire.Decode, m: f.Metrics, log: f.Log.With("file", name)}
	emitPaced := func(ctx context.Context, p post.Post, at Position) error {
		if err := pace.wait(ctx, p.CreatedAt); err != nil {
			return err
		}
		return emit(ctx, p, at)
	}
	if err := scanLines(ctx, r, func(line []byte) error {
		_, err := l.handle(ctx, emitPaced, line, nil)
		return err
	}); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// open opens name, decompressing by extension.
func open(name string) (io.Reader, func(), error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	closeFn := func() { fh.Close() }
	br := bufio.NewReaderSize(fh, 1<<16)
	switch {
	case strings.HasSuffix(name, ".gz"):
		zr, err := gzip.NewReader(br)
		if err != nil {
			fh.Close()
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		return zr, closeFn, nil
	case strings.HasSuffix(name, ".bz2"):
		return bzip2.NewReader(br), closeFn, nil
	}
	return br, closeFn, nil
}

// scanLines calls fn for each line of r (without its line ending) until r
// ends, fn fails or ctx ends.
func scanLines(ctx context.Context, r io.Reader, fn func([]byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(sc.Bytes()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// replayPacer paces a replay by rate or by the posts' own timestamps.
type replayPacer struct {
	rate  *pacer
	speed float64
	// The first post's created_at and when it was emitted.
	t0, w0 time.Time
}

func (p *replayPacer) wait(ctx context.Context, created time.Time) error {
	if p.speed <= 0 {
		return p.rate.wait(ctx)
	}
	if p.t0.IsZero() {
		p.t0, p.w0 = created, time.Now()
		return ctx.Err()
	}
	due := p.w0.Add(time.Duration(float64(created.Sub(p.t0)) / p.speed))
	return sleep(ctx, time.Until(due))
}
