package partition

import (
	"context"
	"log/slog"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/hashtrend/hashtrend/pkg/kafkaconn"
	"github.com/hashtrend/hashtrend/pkg/retry"
	"github.com/hashtrend/hashtrend/pkg/topic"
)

// HighWatermark asks for the high watermark of partition p of the topic
// name until it gets an answer (client names the clients). Each attempt
// uses a new admin client: one whose metadata predates a broker restart
// keeps sending a stale leader epoch and is refused for good.
//
// Reading to the high watermark rather than to the last stable offset,
// a transaction still open there (a crashed writer's) holds the read back
// until it is resolved, so that its outcome is never missed.
func HighWatermark(ctx context.Context, kc kafkaconn.Config, client, name string, p int32, log *slog.Logger) (end int64, err error) {
	err = retry.Do(ctx, retry.Policy{Wait: 500 * time.Millisecond, Attempt: 30 * time.Second}, func(err error, _ time.Duration) bool {
		if kafkaconn.Denied(err) {
			return false
		}
		log.Warn("end offset, retrying", "topic", name, "partition", p, "err", err)
		return true
	}, func(ctx context.Context) error {
		admin, err := kc.NewAdmin(client, kafka.ConfigMap{"reconnect.backoff.max.ms": kafkaconn.ReconnectBackoffMax})
		if err != nil {
			return err
		}
		defer admin.Close()
		ends, err := topic.EndOffsets(ctx, admin.AdminClient, name, kafka.IsolationLevelReadUncommitted, p)
		end = ends[p]
		return err
	})
	return end, kc.Refused(err, "DESCRIBE topic "+name)
}

// askTimeout bounds a reader's own question for an end offset before it
// asks with new clients.
const askTimeout = 2 * time.Second

// HighWatermark is the package's HighWatermark asked first on the
// reader's own client, which is connected and knows the leader (a new
// client took up to a second for its first answer), then, when that
// fails, with new clients.
func (r *Reader) HighWatermark(ctx context.Context, p int32) (int64, error) {
	actx, cancel := context.WithTimeout(ctx, askTimeout)
	ends, err := r.Ends(actx, kafka.IsolationLevelReadUncommitted, p)
	cancel()
	if err == nil {
		return ends[p], nil
	}
	r.log.Info("end offset from new clients", "topic", r.cfg.Topic, "partition", p, "err", err)
	return HighWatermark(ctx, r.cfg.Kafka, r.cfg.Client, r.cfg.Topic, p, r.log)
}
