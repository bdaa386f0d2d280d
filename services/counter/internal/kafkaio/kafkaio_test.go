package kafkaio

import (
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// An offset's metadata travels to the commit and back from a committed
// offset as it is; an offset without any commits none, rather than "".
func TestOffsetsKeepTheirMetadataAcrossTheBoundary(t *testing.T) {
	topic := "tweets"
	in := []Offset{{Partition: 0, Offset: 10, Metadata: `{"trend_newest_ms":5}`}, {Partition: 3, Offset: Beginning}}
	tps := toKafka(&topic, in)
	if *tps[0].Topic != topic || tps[0].Offset != 10 || tps[0].Metadata == nil || *tps[0].Metadata != in[0].Metadata {
		t.Fatalf("toKafka(%v)[0] = %v", in[0], tps[0])
	}
	if tps[1].Metadata != nil || tps[1].Offset != kafka.OffsetBeginning {
		t.Fatalf("toKafka(%v)[1] = %v, want the beginning without metadata", in[1], tps[1])
	}
	if out := fromKafka(tps); len(out) != 2 || out[0] != in[0] || out[1] != in[1] {
		t.Fatalf("fromKafka(toKafka(%v)) = %v", in, out)
	}
}
