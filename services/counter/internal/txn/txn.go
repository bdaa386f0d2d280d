// Package txn is what is left of the counter's former grab-bag of
// transactions, offsets, events and client settings, all of which moved
// to package kafkaio: the reconnect back-off that the state readers still
// take from here.
package txn

import "github.com/hashtrend/hashtrend/services/counter/internal/kafkaio"

// ReconnectBackoffMax is kafkaio.ReconnectBackoffMax, for the state
// readers and the trending follower until they move to a reader of their
// own; new code takes it from kafkaio.
const ReconnectBackoffMax = kafkaio.ReconnectBackoffMax
