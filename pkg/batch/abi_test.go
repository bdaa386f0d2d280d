package batch

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

func TestCheckAcceptsTheLinkedLibrary(t *testing.T) {
	if err := Check(); err != nil {
		t.Fatal(err)
	}
}

func TestCheckRefusesWhatTheQueueCannotUse(t *testing.T) {
	v, s := kafka.LibraryVersion()
	consumer := reflect.TypeFor[kafka.Consumer]()
	// Every unexported field of confluent-kafka-go's Consumer that the
	// queue (the client) and Destroy (the steps of the Consumer's Close:
	// consumer.go and handle.go's cleanup) reach. A Consumer as a
	// confluent-kafka-go that dropped one, or changed its kind, would
	// have it: only check reads these types, by reflection.
	reached := []string{
		"handle.rk", "handle.rkq", "handle.logq", "handle.logs", "handle.closeLogsChan",
		"handle.rktCache", "handle.rktCacheLock", "handle.waitGroup",
		"readerTermChan", "events", "eventsChanEnable", "isClosed", "isClosing",
	}
	type variant struct {
		name     string
		consumer reflect.Type
		version  int
		want     string
	}
	variants := []variant{
		{"no handle at all", altered(consumer, []string{"handle"}, nil), v, "handle.rk"},
		{"librdkafka 1.x", consumer, 0x010903ff, "librdkafka 1.9.3"},
		{"librdkafka 3.x", consumer, 0x030000ff, "librdkafka 3.0.0"},
	}
	integer := reflect.TypeFor[int]()
	for _, path := range reached {
		at := strings.Split(path, ".")
		variants = append(variants,
			variant{"no " + path, altered(consumer, at, nil), v, path},
			variant{path + " an int", altered(consumer, at, integer), v, path})
	}
	for _, tc := range variants {
		name := s
		if tc.version != v {
			name = strings.TrimPrefix(tc.want, "librdkafka ")
		}
		err := check(tc.consumer, tc.version, name)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: want one line with %q, got %v", tc.name, tc.want, err)
		}
	}
}

// altered is the struct type t with the field at path (a field of a
// field of ... t) dropped, when to is nil, or of type to, the structs on
// the way made again around it.
func altered(t reflect.Type, path []string, to reflect.Type) reflect.Type {
	var fields []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name == path[0] {
			switch {
			case len(path) > 1:
				f.Type = altered(f.Type, path[1:], to)
			case to == nil:
				continue
			default:
				f.Type = to
			}
		}
		fields = append(fields, f)
	}
	return reflect.StructOf(fields)
}

// cComment matches C comments, which the comparison ignores.
var cComment = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)

// normal is a C declaration with comments, export macros and spacing
// made uniform ("const char *topic" and "const char* topic" read alike);
// librdkafka's enum types are int-sized and declared here as int.
func normal(decl string) string {
	decl = cComment.ReplaceAllString(decl, " ")
	decl = strings.NewReplacer("RD_EXPORT", " ", "RD_DEPRECATED", " ", "rd_kafka_resp_err_t", "int").Replace(decl)
	decl = strings.ReplaceAll(decl, "*", " * ")
	decl = strings.Join(strings.Fields(decl), " ")
	return strings.NewReplacer(" ,", ",", "( ", "(", " )", ")", " ;", ";").Replace(decl)
}

// structDecl, protoDecl and defineDecl match a typedef'd struct with its
// body, a function prototype and a constant of librdkafka's; name is the
// struct's tag, the function's or the constant's name, filled in by
// declared.
const (
	structDecl = `(?s)typedef struct NAME \{[^}]*\}\s*\w+\s*;`
	protoDecl  = `(?s)\b\w+[\s*]+NAME\s*\([^;]*?\)\s*;`
	defineDecl = `#define NAME[ \t]+\S+`
)

// declared finds the declaration of name in C text, of the kind pattern.
func declared(text, pattern, name string) string {
	return regexp.MustCompile(strings.ReplaceAll(pattern, "NAME", name)).FindString(text)
}

// declarations returns the declarations of librdkafka's API in batch.go's
// preamble, by name: the typedef'd structs with a body, the function
// prototypes and the constants, each with the pattern that finds it.
func declarations(t *testing.T) map[string][2]string {
	t.Helper()
	text := string(mustRead(t, "batch.go"))
	begin := strings.Index(text, "// The part of librdkafka's public API")
	end := strings.Index(text, "// hb_take")
	if begin < 0 || end < begin {
		t.Fatal("batch.go: the block of librdkafka declarations is not where the test looks")
	}
	block := cComment.ReplaceAllString(text[begin:end], "")
	decls := map[string][2]string{}
	for _, m := range regexp.MustCompile(`typedef struct (\w+) \{`).FindAllStringSubmatch(block, -1) {
		decls[m[1]] = [2]string{structDecl, declared(block, structDecl, m[1])}
	}
	for _, m := range regexp.MustCompile(`(rd_kafka_\w+)\s*\(`).FindAllStringSubmatch(block, -1) {
		decls[m[1]] = [2]string{protoDecl, declared(block, protoDecl, m[1])}
	}
	for _, m := range regexp.MustCompile(`#define (RD_KAFKA_\w+)`).FindAllStringSubmatch(block, -1) {
		decls[m[1]] = [2]string{defineDecl, declared(block, defineDecl, m[1])}
	}
	return decls
}

// TestDeclarationsMatchLibrdkafkasHeader holds the hand-written
// declarations of batch.go to the rdkafka.h that confluent-kafka-go ships
// with the librdkafka it links (its librdkafka_vendor folder): a struct
// whose fields moved, a call whose parameters changed, or a flag whose
// value changed fails here and not as wrong memory reads at run time.
func TestDeclarationsMatchLibrdkafkasHeader(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/confluentinc/confluent-kafka-go/v2").Output()
	if err != nil {
		t.Fatalf("go list confluent-kafka-go: %v", err)
	}
	header, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "kafka", "librdkafka_vendor", "rdkafka.h"))
	if err != nil {
		t.Fatal(err)
	}
	h := cComment.ReplaceAllString(string(header), " ")
	decls := declarations(t)
	if len(decls) < 10 {
		t.Fatalf("found only %d declarations in batch.go: %v", len(decls), decls)
	}
	for name, d := range decls {
		pattern, ours := d[0], d[1]
		theirs := declared(h, pattern, name)
		if theirs == "" {
			t.Errorf("rdkafka.h declares no %s", name)
			continue
		}
		if normal(theirs) != normal(ours) && normal(withoutNames(theirs)) != normal(withoutNames(ours)) {
			t.Errorf("%s differs from rdkafka.h:\n here:   %s\n header: %s", name, normal(ours), normal(theirs))
		}
	}
}

// withoutNames drops the parameter names of a prototype, which may differ
// without changing the call.
func withoutNames(proto string) string {
	open, shut := strings.Index(proto, "("), strings.LastIndex(proto, ")")
	if open < 0 || shut < open {
		return proto
	}
	params := strings.Split(normal(proto[open+1:shut]), ",")
	for i, p := range params {
		if f := strings.Fields(p); len(f) > 1 && f[len(f)-1] != "*" {
			params[i] = strings.Join(f[:len(f)-1], " ")
		}
	}
	return proto[:open+1] + strings.Join(params, ",") + proto[shut:]
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
