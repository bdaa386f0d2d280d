package state

/*
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

// The part of librdkafka's public API (rdkafka.h) that the reader uses,
// declared here: the library is the one confluent-kafka-go links into
// the binary, and these declarations are its stable ABI.
typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_conf_s rd_kafka_conf_t;
typedef struct rd_kafka_queue_s rd_kafka_queue_t;
typedef struct rd_kafka_topic_s rd_kafka_topic_t;
typedef struct rd_kafka_topic_partition_s {
	char *topic;
	int32_t partition;
	int64_t offset;
	void *metadata;
	size_t metadata_size;
	void *opaque;
	int err;
	void *_private;
} rd_kafka_topic_partition_t;
typedef struct rd_kafka_topic_partition_list_s {
	int cnt;
	int size;
	rd_kafka_topic_partition_t *elems;
} rd_kafka_topic_partition_list_t;
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

rd_kafka_conf_t *rd_kafka_conf_new(void);
int rd_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errstr, size_t errstr_size);
void rd_kafka_conf_destroy(rd_kafka_conf_t *conf);
rd_kafka_t *rd_kafka_new(int type, rd_kafka_conf_t *conf, char *errstr, size_t errstr_size);
void rd_kafka_destroy(rd_kafka_t *rk);
int rd_kafka_consumer_close(rd_kafka_t *rk);
int rd_kafka_poll_set_consumer(rd_kafka_t *rk);
rd_kafka_topic_partition_list_t *rd_kafka_topic_partition_list_new(int size);
rd_kafka_topic_partition_t *rd_kafka_topic_partition_list_add(rd_kafka_topic_partition_list_t *list, const char *topic, int32_t partition);
void rd_kafka_topic_partition_list_destroy(rd_kafka_topic_partition_list_t *list);
int rd_kafka_assign(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *partitions);
int rd_kafka_position(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *partitions);
rd_kafka_queue_t *rd_kafka_queue_get_consumer(rd_kafka_t *rk);
void rd_kafka_queue_destroy(rd_kafka_queue_t *rkqu);
ssize_t rd_kafka_consume_batch_queue(rd_kafka_queue_t *rkqu, int timeout_ms, rd_kafka_message_t **rkmessages, size_t rkmessages_size);
void rd_kafka_message_destroy(rd_kafka_message_t *rkmessage);
const char *rd_kafka_err2str(int err);
int rd_kafka_fatal_error(rd_kafka_t *rk, char *errstr, size_t errstr_size);

enum { hr_consumer = 1, hr_offset_beginning = -2, hr_batch = 4096 };

// hr_reader is one assigned partition and the messages taken from its
// queue but not yet copied out.
typedef struct {
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_message_t *msgs[hr_batch];
	ssize_t have, next;
} hr_reader;

// hr_rec describes one message copied out: its key and value follow the
// previous message's in the buffer; a length of -1 is a null key or
// value. A message with err set carries the error's text as its value.
typedef struct {
	int64_t offset;
	int32_t err;
	int32_t key_len;
	int32_t value_len;
} hr_rec;

static hr_reader *hr_open(rd_kafka_conf_t *conf, const char *topic, int32_t partition, char *errstr, size_t errstr_size) {
	rd_kafka_t *rk = rd_kafka_new(hr_consumer, conf, errstr, errstr_size);
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	hr_reader *r = calloc(1, sizeof(*r));
	r->rk = rk;
	r->parts = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(r->parts, topic, partition)->offset = hr_offset_beginning;
	int err = rd_kafka_assign(rk, r->parts);
	if (err) {
		snprintf(errstr, errstr_size, "assign: %s", rd_kafka_err2str(err));
		rd_kafka_topic_partition_list_destroy(r->parts);
		rd_kafka_destroy(rk);
		free(r);
		return NULL;
	}
	r->q = rd_kafka_queue_get_consumer(rk);
	return r;
}

static void hr_close(hr_reader *r) {
	for (; r->next < r->have; r->next++)
		rd_kafka_message_destroy(r->msgs[r->next]);
	rd_kafka_queue_destroy(r->q);
	rd_kafka_topic_partition_list_destroy(r->parts);
	rd_kafka_consumer_close(r->rk);
	rd_kafka_destroy(r->rk);
	free(r);
#ifdef __GLIBC__
	// Give the freed fetch buffers back to the system, as the Go heap
	// is given back after a restore.
	malloc_trim(0);
#endif
}

// hr_position is the partition's position, or -1 when it has none yet or
// messages taken from the queue (which the position counts as read) are
// still to be copied out.
static int64_t hr_position(hr_reader *r) {
	if (r->next < r->have || rd_kafka_position(r->rk, r->parts))
		return -1;
	return r->parts->elems[0].offset;
}

// hr_read copies up to nrecs messages into recs and their keys and values
// into buf (cap bytes), waiting up to timeout_ms for the first when none is
// at hand. It returns how many it copied and sets *used to the bytes of buf
// they take; when the next message alone needs more than cap bytes, it
// copies none and sets *need to its size.
static int hr_read(hr_reader *r, int timeout_ms, hr_rec *recs, int nrecs, char *buf, size_t cap, size_t *used, size_t *need) {
	int n = 0;
	size_t at = 0;
	*need = 0;
	while (n < nrecs) {
		if (r->next == r->have) {
			r->next = 0;
			r->have = rd_kafka_consume_batch_queue(r->q, 0, r->msgs, hr_batch);
			if (r->have <= 0 && n == 0 && timeout_ms > 0) {
				// Waits for one: with more asked for, librdkafka
				// waits for all of them.
				r->have = rd_kafka_consume_batch_queue(r->q, timeout_ms, r->msgs, 1);
			}
			if (r->have <= 0) {
				r->have = 0;
				break;
			}
		}
		rd_kafka_message_t *m = r->msgs[r->next];
		size_t klen = m->key && !m->err ? m->key_len : 0, vlen = m->payload ? m->len : 0;
		if (at + klen + vlen > cap) {
			if (n == 0)
				*need = klen + vlen;
			break;
		}
		hr_rec *o = &recs[n++];
		o->offset = m->offset;
		o->err = m->err;
		o->key_len = m->key && !m->err ? (int32_t)klen : -1;
		o->value_len = m->payload ? (int32_t)vlen : -1;
		memcpy(buf + at, m->key, klen);
		at += klen;
		memcpy(buf + at, m->payload, vlen);
		at += vlen;
		rd_kafka_message_destroy(m);
		r->next++;
	}
	*used = at;
	return n;
}

static int hr_fatal(hr_reader *r, char *errstr, size_t errstr_size) {
	return rd_kafka_fatal_error(r->rk, errstr, errstr_size);
}
*/
import "C"

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// reader reads one partition from its beginning, read_committed, through
// librdkafka's batch interface: one cgo call copies thousands of records
// into a buffer of the caller's, where confluent-kafka-go's Poll takes
// several cgo calls and allocations per record. A restore reads millions
// of small records; Poll's cost per record was most of its time.
type reader struct {
	r         *C.hr_reader
	name      string
	partition int32
}

// errPartitionEOF is librdkafka's "reached the end of the partition",
// which comes as a message with this error.
const errPartitionEOF = -191

// openReader assigns partition of the topic name to a new consumer made
// from conf (librdkafka properties; values as confluent-kafka-go takes
// them), starting at its beginning.
func openReader(conf kafka.ConfigMap, name string, partition int32) (*reader, error) {
	cconf := C.rd_kafka_conf_new()
	errstr := make([]byte, 512)
	cerr := (*C.char)(unsafe.Pointer(&errstr[0]))
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range conf {
			if !yield(k) {
				return
			}
		}
	}) {
		ck, cv := C.CString(k), C.CString(fmt.Sprint(conf[k]))
		res := C.rd_kafka_conf_set(cconf, ck, cv, cerr, C.size_t(len(errstr)))
		C.free(unsafe.Pointer(ck))
		C.free(unsafe.Pointer(cv))
		if res != 0 {
			C.rd_kafka_conf_destroy(cconf)
			// librdkafka's message repeats the value, which may be a secret.
			return nil, fmt.Errorf("restore consumer: property %s not accepted", k)
		}
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	r := C.hr_open(cconf, cname, C.int32_t(partition), cerr, C.size_t(len(errstr)))
	if r == nil {
		return nil, fmt.Errorf("restore consumer %s[%d]: %s", name, partition, C.GoString(cerr))
	}
	return &reader{r: r, name: name, partition: partition}, nil
}

// Close stops the consumer and hands the memory it freed back to the system.
func (r *reader) Close() { C.hr_close(r.r) }

// chunk is records read in one go: their keys and values back to back in
// buf, described by recs; Restore decodes them into decoded.
type chunk struct {
	buf     []byte
	recs    []C.hr_rec
	decoded []Record
	err     error         // why decoding stopped before the end of recs
	done    chan struct{} // closed when decoded
}

func newChunk(size, records int) *chunk {
	return &chunk{buf: make([]byte, size), recs: make([]C.hr_rec, records)}
}

// each calls fn with the offset, key and value of every record of c (nil
// for a null key or value); the slices alias c.buf.
func (c *chunk) each(fn func(offset int64, key, value []byte) error) error {
	at := 0
	take := func(n C.int32_t) []byte {
		if n < 0 {
			return nil
		}
		b := c.buf[at : at+int(n) : at+int(n)]
		at += int(n)
		return b
	}
	for _, r := range c.recs {
		if err := fn(int64(r.offset), take(r.key_len), take(r.value_len)); err != nil {
			return err
		}
	}
	return nil
}

// readToEnd fills chunks from free and hands each to fn, in offset order,
// until the partition's position reaches end (an offset at or past end is
// not handed over); fn owns the chunk until it gives it back to free.
// Like topic.ReadToEnd it looks at the position when no record comes, to
// step over trailing transaction markers, and says every 10 s where a
// read held below its end stands. With end < 0 it reads until ctx ends,
// and then returns nil.
func (r *reader) readToEnd(ctx context.Context, end int64, log *slog.Logger, free chan *chunk, fn func(*chunk) error) error {
	follow := end < 0
	began, lastCheck := time.Now(), time.Now()
	warned := began
	var used, need C.size_t
	for {
		var c *chunk
		select {
		case c = <-free:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			if follow {
				return nil
			}
			return fmt.Errorf("reading %s to its end: %w", r.name, err)
		}
		c.recs = c.recs[:cap(c.recs)]
		n := C.hr_read(r.r, 100, &c.recs[0], C.int(len(c.recs)), (*C.char)(unsafe.Pointer(&c.buf[0])), C.size_t(len(c.buf)), &used, &need)
		if need > 0 {
			c.buf = make([]byte, max(int(need), 2*len(c.buf)))
			free <- c
			continue
		}
		done, err := r.sift(c, int(n), end, log)
		if err != nil {
			return err
		}
		if len(c.recs) > 0 {
			if err := fn(c); err != nil {
				return err
			}
		} else {
			free <- c
		}
		if done {
			return nil
		}
		if follow || len(c.recs) > 0 || time.Since(lastCheck) < 200*time.Millisecond {
			continue
		}
		// Idle or at an end-of-partition: see whether the position has
		// stepped over trailing control records.
		lastCheck = time.Now()
		pos := int64(C.hr_position(r.r))
		if pos >= end {
			return nil
		}
		if time.Since(warned) >= 10*time.Second {
			warned = time.Now()
			log.Warn("reading to the end: still below it", "topic", r.name, "partition", r.partition,
				"position", pos, "end", end, "waited", time.Since(began).Round(time.Second))
		}
	}
}

// sift keeps, of the n messages hr_read put in c, the records before end
// (every record when end < 0), moving their bytes together, and reports
// whether the end is reached. An error from the broker about the
// partition, or a fatal one, is returned; the client's passing errors
// (a broker down, a timeout) are logged, as it retries by itself.
func (r *reader) sift(c *chunk, n int, end int64, log *slog.Logger) (done bool, err error) {
	at, kept := 0, 0
	keep := c.recs[:0]
	for _, rec := range c.recs[:n] {
		size := int(max(rec.key_len, 0) + max(rec.value_len, 0))
		switch {
		case rec.err == errPartitionEOF:
			done = done || end >= 0 && int64(rec.offset) >= end
		case rec.err != 0:
			text := string(c.buf[at : at+size])
			if msg, fatal := r.fatal(); fatal {
				return false, fmt.Errorf("read %s: %s", r.name, msg)
			}
			if rec.err > 0 {
				return false, fmt.Errorf("read %s[%d]: %s", r.name, r.partition, text)
			}
			log.Warn("reading the state topic", "topic", r.name, "partition", r.partition, "err", text)
		case end < 0 || int64(rec.offset) < end:
			copy(c.buf[kept:], c.buf[at:at+size])
			kept += size
			keep = append(keep, rec)
			done = done || end >= 0 && int64(rec.offset)+1 >= end
		}
		at += size
	}
	c.recs = keep
	return done, nil
}

// last is the offset of c's last record.
func (c *chunk) last() int64 { return int64(c.recs[len(c.recs)-1].offset) }

// fatal returns the client's fatal error, if it has one.
func (r *reader) fatal() (string, bool) {
	errstr := make([]byte, 512)
	if C.hr_fatal(r.r, (*C.char)(unsafe.Pointer(&errstr[0])), C.size_t(len(errstr))) == 0 {
		return "", false
	}
	return strings.TrimRight(string(errstr), "\x00"), true
}
