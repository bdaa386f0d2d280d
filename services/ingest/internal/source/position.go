package source

import "encoding/json"

// Resumable is a source that can start again where an earlier run stopped,
// as Kafka Connect's exactly-once sources do (KIP-618). The service writes
// the position emitted with the last post of each of its transactions to
// the positions topic, under the source's Identity, in the same
// transaction as the posts; on the next start it reads the last committed
// one back and hands it to Resume before Run. So a post is in the tweets
// topic exactly when the committed position is past it, whatever instant
// the process died at.
//
// To make a source resumable:
//   - emit each post with the position just after it: a small value that
//     encoding/json encodes (a struct such as {"time_us": 1725911162329308}),
//     never changed once emitted;
//   - Identity names the input, not the run: the kind and what it reads
//     (the file set; the host and the filter), so that another input
//     starts fresh instead of resuming someone else's position;
//   - Resume decodes what the emitted positions encode to and makes the
//     next Run start just after it. A position it cannot use (an input
//     that changed under it) is an error, which stops the start: the
//     operator then chooses INGEST_FROM=beginning rather than the service
//     guessing.
//
// A source that does not implement it (x, twitter, stdin) emits nil
// positions; its posts are still written in transactions, and duplicates
// across its restarts are left to the counter's dedupe by post id.
type Resumable interface {
	Source
	Identity() string
	Resume(at json.RawMessage) error
}
