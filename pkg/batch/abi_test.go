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
	// Consumers as a confluent-kafka-go that moved the client would have:
	// only check reads them, by reflection.
	type noHandle struct{ Other int }
	//lint:ignore U1000 read by reflection only
	type noClient struct{ handle struct{ Name string } }
	for _, tc := range []struct {
		name     string
		consumer reflect.Type
		version  int
		want     string
	}{
		{"no handle field", reflect.TypeFor[noHandle](), v, "no handle field"},
		{"no client pointer", reflect.TypeFor[noClient](), v, "no client pointer rk"},
		{"librdkafka 1.x", reflect.TypeFor[kafka.Consumer](), 0x010903ff, "librdkafka 1.9.3"},
		{"librdkafka 3.x", reflect.TypeFor[kafka.Consumer](), 0x030000ff, "librdkafka 3.0.0"},
	} {
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

// structDecl and protoDecl match a typedef'd struct with its body and a
// function prototype of librdkafka's; name is the struct's tag or the
// function's name, filled in by declared.
const (
	structDecl = `(?s)typedef struct NAME \{[^}]*\}\s*\w+\s*;`
	protoDecl  = `(?s)\b\w+[\s*]+NAME\s*\([^;]*?\)\s*;`
)

// declared finds the declaration of name in C text, of the kind pattern.
func declared(text, pattern, name string) string {
	return regexp.MustCompile(strings.ReplaceAll(pattern, "NAME", name)).FindString(text)
}

// declarations returns the declarations of librdkafka's API in batch.go's
// preamble, by name: the typedef'd structs with a body and the function
// prototypes, each with the pattern that finds it.
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
	return decls
}

// TestDeclarationsMatchLibrdkafkasHeader holds the hand-written
// declarations of batch.go to the rdkafka.h that confluent-kafka-go ships
// with the librdkafka it links (its librdkafka_vendor folder): a struct
// whose fields moved, or a call whose parameters changed, fails here and
// not as wrong memory reads at run time.
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
	if len(decls) < 5 {
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
