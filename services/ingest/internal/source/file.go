package source

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashtrend/hashtrend/pkg/config"
	"github.com/hashtrend/hashtrend/pkg/post"
	"github.com/hashtrend/hashtrend/pkg/retry"
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
	return config.First(
		config.NotNegative("INGEST_FILE_RATE", s.Rate),
		config.NotNegative("INGEST_FILE_SPEED", s.Speed),
	)
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

	from *FilePosition // set by Resume
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

// FilePosition is where a replay is: the pass (counted from 0, for Loop),
// the file (its name as the paths expand) and how far into it, in bytes of
// its content (decompressed, for .gz and .bz2) and in lines.
type FilePosition struct {
	Pass   int    `json:"pass"`
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Line   int64  `json:"line"`
}

// Identity names the replayed file set, by absolute paths in replay order.
func (f *File) Identity() string {
	names, err := Files(f.Paths)
	if err != nil {
		names = slices.Clone(f.Paths) // Validate reports the error; the name still differs
	}
	for i, n := range names {
		if abs, err := filepath.Abs(n); err == nil {
			names[i] = abs
		}
	}
	return "file:" + strings.Join(names, ",")
}

// Resume makes the next Run start just after at, a FilePosition of one of
// the files. A plain file shorter than the offset is an error: it is not
// the file the position was taken in.
func (f *File) Resume(at json.RawMessage) error {
	var pos FilePosition
	dec := json.NewDecoder(bytes.NewReader(at))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pos); err != nil {
		return fmt.Errorf("file position %s: %w", at, err)
	}
	names, err := Files(f.Paths)
	if err != nil {
		return err
	}
	if !slices.Contains(names, pos.File) || pos.Offset < 0 || pos.Line < 0 || pos.Pass < 0 {
		return fmt.Errorf("file position %s: not in the files %s", at, strings.Join(names, ","))
	}
	if !compressed(pos.File) {
		st, err := os.Stat(pos.File)
		if err != nil {
			return err
		}
		if st.Size() < pos.Offset {
			return fmt.Errorf("file position %s: %s has only %d bytes", at, pos.File, st.Size())
		}
	}
	f.from = &pos
	return nil
}

// Run replays the files, from the position given to Resume if any.
func (f *File) Run(ctx context.Context, emit Emit) error {
	names, err := Files(f.Paths)
	if err != nil {
		return err
	}
	f.connected(true)
	defer f.connected(false)
	pace := &replayPacer{rate: newPacer(f.Rate), speed: f.Speed}
	from := FilePosition{}
	if f.from != nil {
		from = *f.from
		f.Log.Info("resuming replay", "file", from.File, "offset", from.Offset, "line", from.Line, "pass", from.Pass)
	}
	for pass := from.Pass; ; pass++ {
		pace.t0 = time.Time{} // a new pass keeps the original pace again
		for _, name := range names {
			at := FilePosition{Pass: pass, File: name}
			if from.File != "" {
				if name != from.File {
					continue // before the resume position
				}
				at, from = from, FilePosition{}
			}
			f.Log.Info("replaying file", "file", name)
			if err := f.replay(ctx, at, emit, pace); err != nil {
				return stopped(ctx, err)
			}
		}
		if !f.Loop || ctx.Err() != nil {
			return nil
		}
	}
}

// replay reads one file from position at and emits its posts, each with
// the position after its line.
func (f *File) replay(ctx context.Context, at FilePosition, emit Emit, pace *replayPacer) error {
	r, closeFn, err := open(at.File, at.Offset)
	if err != nil {
		return err
	}
	defer closeFn()
	l := lines{decode: wire.Decode, m: f.Metrics, log: f.Log.With("file", at.File)}
	emitPaced := func(ctx context.Context, p post.Post, at Position) error {
		if err := pace.wait(ctx, p.CreatedAt); err != nil {
			return err
		}
		return emit(ctx, p, at)
	}
	if err := scanLines(ctx, r, func(line []byte, n int) error {
		at.Offset += int64(n)
		at.Line++
		_, err := l.handle(ctx, emitPaced, line, at)
		return err
	}); err != nil {
		return fmt.Errorf("%s: %w", at.File, err)
	}
	return nil
}

func compressed(name string) bool {
	return strings.HasSuffix(name, ".gz") || strings.HasSuffix(name, ".bz2")
}

// open opens name, decompressing by extension, and skips its first offset
// bytes (of the decompressed content): a plain file by seeking, a
// compressed one by reading them again.
func open(name string, offset int64) (io.Reader, func(), error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	closeFn := func() { fh.Close() }
	fail := func(err error) (io.Reader, func(), error) {
		fh.Close()
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if !compressed(name) {
		if _, err := fh.Seek(offset, io.SeekStart); err != nil {
			return fail(err)
		}
		return bufio.NewReaderSize(fh, 1<<16), closeFn, nil
	}
	var r io.Reader
	br := bufio.NewReaderSize(fh, 1<<16)
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fail(err)
		}
		r = zr
	} else {
		r = bzip2.NewReader(br)
	}
	if n, err := io.CopyN(io.Discard, r, offset); err != nil {
		return fail(fmt.Errorf("resume position %d is past the end (%d bytes): %w", offset, n, err))
	}
	return r, closeFn, nil
}

// scanLines calls fn for each line of r (without its line ending, with the
// number of bytes it took, line ending included) until r ends, fn fails or
// ctx ends.
func scanLines(ctx context.Context, r io.Reader, fn func(line []byte, n int) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var n int
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		adv, tok, err := bufio.ScanLines(data, atEOF)
		n = adv
		return adv, tok, err
	})
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(sc.Bytes(), n); err != nil {
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
	return retry.Sleep(ctx, time.Until(due))
}
