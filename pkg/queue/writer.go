package queue

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/jobplane/jobplane/pkg/partition"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"
)

// WriterConfig configures the shared producer.
type WriterConfig struct {
	Brokers []string
	// BatchTimeout bounds how long a message waits for its batch to fill;
	// default 2ms (kafka-go's default of 1s would make every sync write
	// take a second).
	BatchTimeout time.Duration
	// BatchSize is the maximum number of messages per partition batch;
	// default 100. kafka-go allocates room for BatchSize messages for every
	// batch it starts (152 bytes each, zeroed), and most batches are a
	// job's few operations or a partition's few results: 1000 made the
	// client allocate and clear 150 KB per small job. A partition's batches
	// are written one after the other, in order.
	BatchSize int
	// Compression of produced batches: "none", "gzip", "snappy", "lz4" or
	// "zstd" (see ParseCompression); empty means zstd.
	Compression string
	// Transport carries TLS/SASL settings; nil uses kafka-go's default.
	Transport *kafka.Transport
}

// NewWriter returns the producer every service shares: acks from all
// in-sync replicas, the jump-hash partitioner, small batch timeout, zstd
// unless cfg says otherwise (an unknown codec, which Settings.Validate
// rejects first, is zstd too). The topic is set per message.
func NewWriter(cfg WriterConfig) *kafka.Writer {
	codec, err := ParseCompression(cfg.Compression)
	if err != nil {
		codec = kafka.Zstd
	}
	var inner kafka.RoundTripper = kafka.DefaultTransport
	if cfg.Transport != nil {
		inner = cfg.Transport
	}
	return &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Balancer:               &partition.Balancer{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           cmp.Or(cfg.BatchTimeout, 2*time.Millisecond),
		BatchSize:              cmp.Or(cfg.BatchSize, 100),
		BatchBytes:             8 << 20,
		Compression:            codec,
		AllowAutoTopicCreation: false,
		MaxAttempts:            5,
		WriteBackoffMin:        10 * time.Millisecond,
		WriteBackoffMax:        500 * time.Millisecond,
		Transport:              newMetadataCache(inner, metadataTTL, time.Now),
	}
}

// ParseCompression returns the codec of a KAFKA_COMPRESSION value; empty
// is zstd.
func ParseCompression(name string) (compress.Compression, error) {
	switch name {
	case "", "zstd":
		return kafka.Zstd, nil
	case "none":
		return compress.None, nil
	case "gzip":
		return kafka.Gzip, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	}
	return 0, fmt.Errorf("compression %q: want none, gzip, snappy, lz4 or zstd", name)
}

// metadataTTL is how long the producer's partition counts are reused.
const metadataTTL = time.Second

// metadataCache is the producer's transport. kafka-go's Writer looks up the
// partitions of a message's topic for every message it is given (a
// metadata request through its transport, which answers from its own cache
// but filters and copies the whole response each time: 7.5 % of a server's
// CPU under W1). metadataCache answers such single-topic requests from the
// last successful response for up to ttl, so a change of a topic's
// partition count is seen within ttl plus the transport's own metadata TTL.
// Every other request goes through.
type metadataCache struct {
	kafka.RoundTripper
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	byTopic map[metadataKey]cachedMetadata
}

type metadataKey struct {
	addr, topic string
	autoCreate  bool
}

type cachedMetadata struct {
	resp *metadataAPI.Response
	at   time.Time
}

func newMetadataCache(inner kafka.RoundTripper, ttl time.Duration, now func() time.Time) *metadataCache {
	return &metadataCache{RoundTripper: inner, ttl: ttl, now: now, byTopic: map[metadataKey]cachedMetadata{}}
}

// RoundTrip implements kafka.RoundTripper.
func (c *metadataCache) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	mr, ok := req.(*metadataAPI.Request)
	if !ok || len(mr.TopicNames) != 1 {
		return c.RoundTripper.RoundTrip(ctx, addr, req)
	}
	key := metadataKey{topic: mr.TopicNames[0], autoCreate: mr.AllowAutoTopicCreation}
	if addr != nil {
		key.addr = addr.Network() + "://" + addr.String()
	}
	c.mu.Lock()
	e, hit := c.byTopic[key]
	c.mu.Unlock()
	if hit && c.now().Sub(e.at) < c.ttl {
		return e.resp, nil
	}
	resp, err := c.RoundTripper.RoundTrip(ctx, addr, req)
	if err != nil {
		return nil, err
	}
	if r, ok := resp.(*metadataAPI.Response); ok && usableMetadata(r, key.topic) {
		c.mu.Lock()
		c.byTopic[key] = cachedMetadata{resp: r, at: c.now()}
		c.mu.Unlock()
	}
	return resp, nil
}

// usableMetadata reports whether r describes topic without error and with
// partitions: only such an answer is reused.
func usableMetadata(r *metadataAPI.Response, topic string) bool {
	for _, t := range r.Topics {
		if t.Name == topic {
			return t.ErrorCode == 0 && len(t.Partitions) > 0
		}
	}
	return false
}
