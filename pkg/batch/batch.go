// Package batch reads a group consumer's records through librdkafka's
// batch interface: one cgo call copies thousands of records into a buffer
// of the caller's, where confluent-kafka-go's Poll takes several cgo calls
// and allocations per record. Tally reads millions of small posts; Poll's
// cost per record was most of what its polling goroutine did. The
// partition readers (package partition) read through it too.
//
// The consumer stays a confluent-kafka-go Consumer: its group membership,
// rebalance callback, assignment, seeks, committed offsets and group
// metadata are used as they are. Only where its records go changes: Route
// points each partition's fetch queue at a Queue of this package before
// the partition is assigned, so its records never reach the consumer queue
// that Poll serves, and Poll returns only events (rebalances, errors,
// statistics). librdkafka keeps a forward set by the application across
// the fetch start of an assignment (RD_KAFKA_Q_F_FWD_APP), and the version
// barrier of a seek or an unassign drops the records fetched before it,
// from this queue as from the consumer queue. An unassign clears the
// forward but not that flag, so a partition assigned again without a new
// Route would be forwarded nowhere: route it before every assignment.
//
// The same hold on the client frees a consumer that librdkafka refuses to
// close after a fatal error (Destroy). Everything that goes past
// confluent-kafka-go's API, the unexported fields reached and the
// declarations of rdkafka.h, is in this file, and Check says at start
// whether it still fits the library linked in.
package batch

/*
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

// The part of librdkafka's public API (rdkafka.h) that the queue uses,
// declared here: the library is the one confluent-kafka-go links into the
// binary, and these declarations are its stable ABI. Check refuses a
// library outside the versions they were checked against, and
// TestDeclarationsMatchLibrdkafkasHeader holds them to the rdkafka.h that
// confluent-kafka-go ships with the library.
typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_queue_s rd_kafka_queue_t;
typedef struct rd_kafka_topic_s rd_kafka_topic_t;
typedef struct rd_kafka_message_s {
	int err;
	rd_kafka_topic_t *rkt;
	int32_t partition;
	void *payload;
	size_t len;
	void *key;
	size_t key_len;
	int64_t offset;
	void *_private;
} rd_kafka_message_t;

rd_kafka_queue_t *rd_kafka_queue_new(rd_kafka_t *rk);
rd_kafka_queue_t *rd_kafka_queue_get_partition(rd_kafka_t *rk, const char *topic, int32_t partition);
void rd_kafka_queue_forward(rd_kafka_queue_t *src, rd_kafka_queue_t *dst);
void rd_kafka_queue_destroy(rd_kafka_queue_t *rkqu);
ssize_t rd_kafka_consume_batch_queue(rd_kafka_queue_t *rkqu, int timeout_ms, rd_kafka_message_t **rkmessages, size_t rkmessages_size);
void rd_kafka_message_destroy(rd_kafka_message_t *rkmessage);

// What Destroy uses besides.
void rd_kafka_topic_destroy(rd_kafka_topic_t *rkt);
void rd_kafka_destroy_flags(rd_kafka_t *rk, int flags);
#define RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE 0x8

// hb_take is the most messages taken from the queue at once: what a
// buffer may have to grow for past its size.
enum { hb_take = 256 };

// hb_queue is a queue and the messages taken from it but not yet copied
// out (only while hb_read waits for a larger buffer).
typedef struct {
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	rd_kafka_message_t *msgs[hb_take];
	ssize_t have, next;
} hb_queue;

// hb_rec describes one message copied out: its key and value follow the
// previous message's in the buffer; a length of -1 is a null key or
// value. A message with err set carries the error's text as its value.
typedef struct {
	int64_t offset;
	int32_t partition;
	int32_t err;
	int32_t key_len;
	int32_t value_len;
} hb_rec;

static hb_queue *hb_new(void *rk) {
	hb_queue *q = calloc(1, sizeof(*q));
	q->rk = rk;
	q->q = rd_kafka_queue_new(rk);
	return q;
}

// hb_trim gives the memory a closed client freed back to the system, as
// the Go heap is given back after a restore.
static void hb_trim(void) {
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

static int hb_route(hb_queue *q, const char *topic, int32_t partition) {
	rd_kafka_queue_t *pq = rd_kafka_queue_get_partition(q->rk, topic, partition);
	if (!pq)
		return -1;
	rd_kafka_queue_forward(pq, q->q);
	rd_kafka_queue_destroy(pq);
	return 0;
}

static void hb_close(hb_queue *q) {
	for (; q->next < q->have; q->next++)
		rd_kafka_message_destroy(q->msgs[q->next]);
	rd_kafka_queue_destroy(q->q);
	free(q);
}

// hb_read copies messages into recs[n..nrecs) and their keys and values
// into buf from at on (cap bytes in all), waiting up to timeout_ms for the
// first when none is at hand and n is 0. It takes from the queue only as
// many messages as recs has room for, and returns how many recs now hold,
// setting *used to the bytes of buf they take. When the next message does
// not fit in buf, it stops and sets *need to the bytes buf must have for
// it; that message stays taken until the next call, which the caller makes
// at once with a larger buf.
static int hb_read(hb_queue *q, int timeout_ms, hb_rec *recs, int n, int nrecs, char *buf, size_t at, size_t cap, size_t *used, size_t *need) {
	*need = 0;
	while (n < nrecs) {
		if (q->next == q->have) {
			if (at >= cap)
				break; // full: take no more, so that the buffer grows only for what is taken
			size_t want = nrecs - n < hb_take ? nrecs - n : hb_take;
			q->next = 0;
			q->have = rd_kafka_consume_batch_queue(q->q, 0, q->msgs, want);
			if (q->have <= 0 && n == 0 && timeout_ms > 0) {
				// Waits for one: with more asked for, librdkafka
				// waits for all of them.
				q->have = rd_kafka_consume_batch_queue(q->q, timeout_ms, q->msgs, 1);
			}
			if (q->have <= 0) {
				q->have = 0;
				break;
			}
		}
		rd_kafka_message_t *m = q->msgs[q->next];
		size_t klen = m->key && !m->err ? m->key_len : 0, vlen = m->payload ? m->len : 0;
		if (at + klen + vlen > cap) {
			*need = at + klen + vlen;
			break;
		}
		hb_rec *o = &recs[n++];
		o->offset = m->offset;
		o->partition = m->partition;
		o->err = m->err;
		o->key_len = m->key && !m->err ? (int32_t)klen : -1;
		o->value_len = m->payload ? (int32_t)vlen : -1;
		memcpy(buf + at, m->key, klen);
		at += klen;
		memcpy(buf + at, m->payload, vlen);
		at += vlen;
		rd_kafka_message_destroy(m);
		q->next++;
	}
	*used = at;
	return n;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Queue is a librdkafka queue on a consumer's client that assigned
// partitions are routed to.
type Queue struct {
	q     *C.hb_queue
	topic string
}

// New makes a queue for c's records of topic. c must outlive it.
func New(c *kafka.Consumer, topic string) (*Queue, error) {
	rk, err := clientRK.at(c)
	if err != nil {
		return nil, err
	}
	if rk.IsNil() {
		return nil, errors.New("batch: the consumer has no librdkafka client")
	}
	return &Queue{q: C.hb_new(rk.UnsafePointer()), topic: topic}, nil
}

// The librdkafka versions the declarations above were checked against, in
// RD_KAFKA_VERSION's form (0xMMmmrrxx): 2.x, whose rdkafka.h has kept
// rd_kafka_message_t and the queue calls as declared.
const (
	minVersion = 0x02000000
	maxVersion = 0x03000000
)

// Check says, without a broker, whether this package can work in this
// build: confluent-kafka-go's Consumer still has every unexported field
// the package reaches (reached), each of the type or kind it is used as,
// and the librdkafka linked in is of a version the declarations above
// were checked against. Every service calls it at start and stops with
// its error, rather than read wrong memory later.
func Check() error {
	v, s := kafka.LibraryVersion()
	return check(reflect.TypeFor[kafka.Consumer](), v, s)
}

func check(consumer reflect.Type, version int, name string) error {
	for _, f := range reached {
		if err := f.in(consumer); err != nil {
			return err
		}
	}
	if version < minVersion || version >= maxVersion {
		return fmt.Errorf("batch: librdkafka %s is not a 2.x version, against whose rdkafka.h this package's declarations were checked", name)
	}
	return nil
}

// field is an unexported field of confluent-kafka-go's Consumer that this
// package reaches: the queue reads the librdkafka client, and Destroy
// takes the steps of the Consumer's Close on the client's own fields.
type field struct {
	path string // from the Consumer, as handle.rk
	want string // what it must be, for the error
	fits func(reflect.Type) bool
	use  string // what reaches it, for the error
}

// The fields reached, as confluent-kafka-go v2 has them (consumer.go: the
// Consumer; handle.go: the handle struct it holds).
var (
	clientRK    = field{"handle.rk", "a pointer", isPointer, "where the batch queue and Destroy find the librdkafka client"}
	consumerRKQ = field{"handle.rkq", "a pointer", isPointer, "the consumer queue, which Destroy destroys"}
	logQueue    = field{"handle.logq", "a pointer", isPointer, "the log queue, which Destroy destroys"}
	logChan     = field{"handle.logs", "a chan kafka.LogEvent", is[chan kafka.LogEvent], "the log channel, which Destroy closes when the client made it"}
	ownLogChan  = field{"handle.closeLogsChan", "a bool", is[bool], "which says whether Destroy closes the log channel"}
	topics      = field{"handle.rktCache", "a map of pointers", isMapOfPointers, "the cached topic handles, which Destroy destroys"}
	topicsLock  = field{"handle.rktCacheLock", "a sync.Mutex", is[sync.Mutex], "which Destroy holds while it destroys the topic handles"}
	goroutines  = field{"handle.waitGroup", "a sync.WaitGroup", is[sync.WaitGroup], "which Destroy waits on for the client's goroutines"}
	readerTerm  = field{"readerTermChan", "a chan bool", is[chan bool], "which Destroy closes to stop the client's goroutines"}
	eventsChan  = field{"events", "a chan kafka.Event", is[chan kafka.Event], "the events channel, which Destroy closes when the client has one"}
	eventsOn    = field{"eventsChanEnable", "a bool", is[bool], "which says whether Destroy closes the events channel"}
	closedFlag  = field{"isClosed", "a uint32", is[uint32], "which Destroy sets so that later calls fail"}
	closingFlag = field{"isClosing", "a uint32", is[uint32], "which Destroy sets as the Consumer's Close does"}
	reached     = []field{clientRK, consumerRKQ, logQueue, logChan, ownLogChan, topics, topicsLock, goroutines, readerTerm, eventsChan, eventsOn, closedFlag, closingFlag}
)

func isPointer(t reflect.Type) bool { return t.Kind() == reflect.Pointer }

func isMapOfPointers(t reflect.Type) bool {
	return t.Kind() == reflect.Map && t.Elem().Kind() == reflect.Pointer
}

func is[T any](t reflect.Type) bool { return t == reflect.TypeFor[T]() }

func (f field) missing() error {
	return fmt.Errorf("batch: confluent-kafka-go's Consumer has no field %s that is %s, %s", f.path, f.want, f.use)
}

// in says whether the struct type consumer has f.
func (f field) in(consumer reflect.Type) error {
	t := consumer
	for name := range strings.SplitSeq(f.path, ".") {
		if t.Kind() != reflect.Struct {
			return f.missing()
		}
		sf, ok := t.FieldByName(name)
		if !ok {
			return f.missing()
		}
		t = sf.Type
	}
	if !f.fits(t) {
		return f.missing()
	}
	return nil
}

// at is f in c, as a value that may be read and set: reflect refuses both
// on a value reached through unexported fields, so it is made again at
// the field's address. A version of confluent-kafka-go without f makes
// it fail, not misbehave (Check says so at start).
func (f field) at(c *kafka.Consumer) (reflect.Value, error) {
	v := reflect.ValueOf(c).Elem()
	for name := range strings.SplitSeq(f.path, ".") {
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, f.missing()
		}
		if v = v.FieldByName(name); !v.IsValid() {
			return reflect.Value{}, f.missing()
		}
	}
	if !f.fits(v.Type()) {
		return reflect.Value{}, f.missing()
	}
	return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem(), nil
}

// Destroy frees the consumer c without closing it as a group member: a
// consumer that raised a fatal error (a static member fenced by another
// under its group.instance.id), which librdkafka refuses to close
// (rd_kafka_consumer_close_queue returns _FATAL and
// rd_kafka_consumer_closed never becomes true, so confluent-kafka-go's
// Close would wait for it forever). It takes the steps of that Close but
// the consumer close: it stops the client's goroutines (the log reader and
// the events reader) and waits for them, closes the events channel if
// there is one, marks the client closed, destroys the consumer queue, the
// log queue (and closes the log channel if the client made it) and the
// cached topic handles, and then the client with
// RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE: librdkafka ends its group handler
// without leaving the group or calling a rebalance callback, and returns
// once every thread of the client has ended.
//
// Once it is called, the calls of c that check whether the client is
// closed fail; Poll does not check (as after Close) and must not be
// called. No other call of c may run meanwhile; close a Queue of c
// before. A consumer that has not failed is closed with Close instead:
// Destroy neither leaves the group nor revokes the partitions.
func Destroy(c *kafka.Consumer) error {
	v := map[string]reflect.Value{}
	for _, f := range reached {
		fv, err := f.at(c)
		if err != nil {
			return err
		}
		v[f.path] = fv
	}
	closed := v[closedFlag.path].Addr().Interface().(*uint32)
	closing := v[closingFlag.path].Addr().Interface().(*uint32)
	if atomic.LoadUint32(closed) == 1 {
		return errors.New("batch: destroy: the consumer is closed")
	}
	if !atomic.CompareAndSwapUint32(closing, 0, 1) {
		return errors.New("batch: destroy: the consumer is already closing")
	}
	v[readerTerm.path].Close()
	v[goroutines.path].Addr().Interface().(*sync.WaitGroup).Wait()
	if v[eventsOn.path].Bool() {
		v[eventsChan.path].Close()
	}
	atomic.StoreUint32(closed, 1)

	rkq := v[consumerRKQ.path]
	if !rkq.IsNil() {
		C.rd_kafka_queue_destroy((*C.rd_kafka_queue_t)(rkq.UnsafePointer()))
		rkq.SetZero()
	}
	if logs := v[logChan.path]; !logs.IsNil() {
		C.rd_kafka_queue_destroy((*C.rd_kafka_queue_t)(v[logQueue.path].UnsafePointer()))
		if v[ownLogChan.path].Bool() {
			logs.Close()
		}
	}
	lock := v[topicsLock.path].Addr().Interface().(*sync.Mutex)
	lock.Lock()
	for it := v[topics.path].MapRange(); it.Next(); {
		C.rd_kafka_topic_destroy((*C.rd_kafka_topic_t)(it.Value().UnsafePointer()))
	}
	lock.Unlock()
	C.rd_kafka_destroy_flags((*C.rd_kafka_t)(v[clientRK.path].UnsafePointer()), C.RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE)
	return nil
}

// Route sends the records of the queue's topic's partitions parts to the
// queue instead of the consumer queue. Call it before every assignment of
// the partitions (in the rebalance callback, before IncrementalAssign):
// records fetched before it would reach the consumer queue, and an
// unassign clears it (see the package comment).
func (q *Queue) Route(parts []kafka.TopicPartition) error {
	if q == nil {
		return fmt.Errorf("route %v: the batch queue is closed", parts)
	}
	name := C.CString(q.topic)
	defer C.free(unsafe.Pointer(name))
	for _, tp := range parts {
		if C.hb_route(q.q, name, C.int32_t(tp.Partition)) != 0 {
			return fmt.Errorf("route %s[%d] to the batch queue: no such partition", q.topic, tp.Partition)
		}
	}
	return nil
}

// Close destroys the queue; records still in it are dropped. Close it
// before its consumer is closed.
func (q *Queue) Close() { C.hb_close(q.q) }

// Read fills c with the records at hand, waiting up to timeoutMs for the
// first when none is. It returns false when no record came.
//
// Every record taken from the queue is in c when Read returns, the buffer
// grown for them where needed: none waits outside the queue, where a seek
// or an unassign, whose version barrier drops the records fetched before
// it from the queue, could not drop it.
func (q *Queue) Read(c *Chunk, timeoutMs int) bool {
	if len(c.buf) > 4*c.size {
		c.buf = make([]byte, c.size) // grown for a few large records: not kept
	}
	var used, need C.size_t
	c.recs = c.recs[:cap(c.recs)]
	n, at := C.int(0), C.size_t(0)
	for {
		n = C.hb_read(q.q, C.int(timeoutMs), &c.recs[0], n, C.int(len(c.recs)), (*C.char)(unsafe.Pointer(&c.buf[0])), at, C.size_t(len(c.buf)), &used, &need)
		at = used
		if need == 0 {
			break
		}
		grown := make([]byte, max(int(need), 2*len(c.buf)))
		copy(grown, c.buf[:at])
		c.buf = grown
	}
	c.recs = c.recs[:n]
	return n > 0
}

// Trim hands the memory that closed clients freed (their fetch buffers)
// back to the system: call it after closing a client that read much.
func Trim() { C.hb_trim() }

// Chunk is records read in one go: their keys and values back to back in
// one buffer. A chunk is reused: nothing may keep a slice of its records'
// keys or values, or a string cut from them, once it is read again.
type Chunk struct {
	buf  []byte
	recs []C.hb_rec
	size int // of buf at first
}

// NewChunk makes a chunk of up to records records and, at first, size
// bytes of keys and values (it grows for a record that does not fit).
func NewChunk(size, records int) *Chunk {
	size = max(size, 1)
	return &Chunk{buf: make([]byte, size), recs: make([]C.hb_rec, max(records, 1)), size: size}
}

// Record is one record of a chunk. A record with Err set is an error about
// its partition, whose text is Value; Err is librdkafka's error code.
type Record struct {
	Partition  int32
	Offset     int64
	Err        int
	Key, Value []byte // nil for a null key or value; they alias the chunk
}

// record is the record r describes, its key and value in c's buffer from
// at on, and the bytes they take there.
func (c *Chunk) record(r C.hb_rec, at int) (Record, int) {
	rec := Record{Partition: int32(r.partition), Offset: int64(r.offset), Err: int(r.err)}
	take := func(n C.int32_t) []byte {
		if n < 0 {
			return nil
		}
		b := c.buf[at : at+int(n) : at+int(n)]
		at += int(n)
		return b
	}
	rec.Key = take(r.key_len)
	rec.Value = take(r.value_len)
	return rec, len(rec.Key) + len(rec.Value)
}

// Each calls fn for every record of c, in the order read.
func (c *Chunk) Each(fn func(Record)) {
	at := 0
	for _, r := range c.recs {
		rec, size := c.record(r, at)
		fn(rec)
		at += size
	}
}

// Len is the number of records in c.
func (c *Chunk) Len() int { return len(c.recs) }

// Last is the offset of c's last record; c must hold one.
func (c *Chunk) Last() int64 { return int64(c.recs[len(c.recs)-1].offset) }

// Filter keeps the records of c that keep says to, in order, moving their
// keys and values together; keep sees every record once, in order.
func (c *Chunk) Filter(keep func(Record) bool) {
	at, kept := 0, 0
	out := c.recs[:0]
	for _, r := range c.recs {
		rec, size := c.record(r, at)
		if keep(rec) {
			copy(c.buf[kept:], c.buf[at:at+size])
			kept += size
			out = append(out, r)
		}
		at += size
	}
	c.recs = out
}
