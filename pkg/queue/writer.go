package queue

import (
	"cmp"
	"time"

	"github.com/jobplane/jobplane/pkg/partition"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
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
	// Compression codec; default zstd.
	Compression compress.Compression
	// Transport carries TLS/SASL settings; nil uses kafka-go's default.
	Transport *kafka.Transport
}

// NewWriter returns the producer every service shares: acks from all
// in-sync replicas, the jump-hash partitioner, small batch timeout, zstd.
// The topic is set per message.
func NewWriter(cfg WriterConfig) *kafka.Writer {
	w := &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Balancer:               &partition.Balancer{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           cmp.Or(cfg.BatchTimeout, 2*time.Millisecond),
		BatchSize:              cmp.Or(cfg.BatchSize, 100),
		BatchBytes:             8 << 20,
		Compression:            cmp.Or(cfg.Compression, kafka.Zstd),
		AllowAutoTopicCreation: false,
		MaxAttempts:            5,
		WriteBackoffMin:        10 * time.Millisecond,
		WriteBackoffMax:        500 * time.Millisecond,
	}
	if cfg.Transport != nil {
		w.Transport = cfg.Transport
	}
	return w
}
