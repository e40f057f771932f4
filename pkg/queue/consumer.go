package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// BatchHandler processes a batch of messages of one partition, in offset
// order. A nil error means every message is done and the batch's offsets may
// be committed. An error makes the consumer retry the same batch with
// backoff; a handler deals with poison messages itself (dead letters) rather
// than returning an error forever.
type BatchHandler func(ctx context.Context, partition int, msgs []kafka.Message) error

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Brokers []string
	GroupID string
	Topic   string
	// MaxBatch bounds the messages handed to the handler at once; default 500.
	MaxBatch int
	// Group timing; defaults suit production. Tests shorten them.
	HeartbeatInterval time.Duration // default 3s
	SessionTimeout    time.Duration // default 30s
	RebalanceTimeout  time.Duration // default 30s
	JoinGroupBackoff  time.Duration // default 1s
	// MaxWait is the broker-side long poll of a fetch when the partition has
	// nothing new; default 1s. Each partition has its own reader, so it sets
	// the idle polling rate (60 partitions: 60 fetches/s); a broker answers
	// as soon as a message arrives, and stopping does not wait for it.
	MaxWait time.Duration
	// ShutdownTimeout bounds how long Stop waits for an in-flight batch;
	// default 10s.
	ShutdownTimeout time.Duration
	// Dialer carries TLS/SASL settings; nil uses kafka-go's default.
	Dialer *kafka.Dialer
	Logger *slog.Logger
	// OnAssign, when set, is called with the partitions of each generation.
	OnAssign func(partitions []int)
	// Lag, when set, receives the lag of each partition after each
	// handled batch (telemetry.Metrics implements it).
	Lag LagObserver
}

// LagObserver receives consumer lag: the messages between the last
// handled offset of a partition and its high watermark when the batch's
// last message was fetched (no extra request to the brokers). ForgetLag is
// called when the partition is no longer consumed here (rebalance, stop).
type LagObserver interface {
	ObserveLag(topic string, partition int, lag int64)
	ForgetLag(topic string, partition int)
}

// Consumer consumes a topic as a member of a consumer group using kafka-go's
// generation API: one goroutine per assigned partition, whose context ends
// when the generation ends (rebalance). Each partition is processed
// sequentially in batches, so per-partition order is preserved; an offset is
// committed only after the handler has finished every message before it, so
// nothing is lost across rebalances or crashes (delivery is at least once).
// The partitions of a generation commit together (see committer).
type Consumer struct {
	cfg     ConsumerConfig
	handler BatchHandler
	log     *slog.Logger

	mu      sync.Mutex
	started bool
	stopped bool
	group   *kafka.ConsumerGroup
	cancel  context.CancelFunc // cancels handler work (hard stop)
	done    chan struct{}
}

// NewConsumer returns a consumer; call Start to run it.
func NewConsumer(cfg ConsumerConfig, handler BatchHandler) *Consumer {
	cfg.MaxBatch = cmp.Or(cfg.MaxBatch, 500)
	cfg.HeartbeatInterval = cmp.Or(cfg.HeartbeatInterval, 3*time.Second)
	cfg.SessionTimeout = cmp.Or(cfg.SessionTimeout, 30*time.Second)
	cfg.RebalanceTimeout = cmp.Or(cfg.RebalanceTimeout, 30*time.Second)
	cfg.JoinGroupBackoff = cmp.Or(cfg.JoinGroupBackoff, time.Second)
	cfg.MaxWait = cmp.Or(cfg.MaxWait, time.Second)
	cfg.ShutdownTimeout = cmp.Or(cfg.ShutdownTimeout, 10*time.Second)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Consumer{cfg: cfg, handler: handler, log: log.With("topic", cfg.Topic, "group", cfg.GroupID)}
}

// Start joins the group and consumes in the background until Stop.
func (c *Consumer) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return errors.New("consumer already started")
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                c.cfg.GroupID,
		Brokers:           c.cfg.Brokers,
		Dialer:            c.cfg.Dialer,
		Topics:            []string{c.cfg.Topic},
		HeartbeatInterval: c.cfg.HeartbeatInterval,
		SessionTimeout:    c.cfg.SessionTimeout,
		RebalanceTimeout:  c.cfg.RebalanceTimeout,
		JoinGroupBackoff:  c.cfg.JoinGroupBackoff,
		StartOffset:       kafka.FirstOffset,
		RetentionTime:     7 * 24 * time.Hour,
		Timeout:           10 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("consumer group %s: %w", c.cfg.GroupID, err)
	}
	workCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.group, c.cancel, c.started, c.done = group, cancel, true, make(chan struct{})
	go c.run(ctx, workCtx)
	return nil
}

// Stop leaves the group: fetching stops, the in-flight batch of every
// partition is finished (bounded by ShutdownTimeout) and committed, then the
// group is left. Safe to call more than once and before Start.
func (c *Consumer) Stop() {
	c.mu.Lock()
	if !c.started || c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	c.mu.Unlock()
	timer := time.AfterFunc(c.cfg.ShutdownTimeout, c.cancel)
	defer timer.Stop()
	_ = c.group.Close() // ends the generation and waits for partition loops
	<-c.done
	c.cancel()
}

func (c *Consumer) run(ctx, workCtx context.Context) {
	defer close(c.done)
	for {
		gen, err := c.group.Next(context.WithoutCancel(ctx))
		if err != nil {
			if errors.Is(err, kafka.ErrGroupClosed) {
				return
			}
			c.log.Warn("consumer group generation failed", "err", err)
			continue // kafka-go backs off before the next join
		}
		assigned := gen.Assignments[c.cfg.Topic]
		parts := make([]int, 0, len(assigned))
		for _, a := range assigned {
			parts = append(parts, a.ID)
		}
		c.log.Info("partitions assigned", "generation", gen.ID, "partitions", len(parts))
		if c.cfg.OnAssign != nil {
			c.cfg.OnAssign(parts)
		}
		commits := newCommitter(c.cfg.Topic, gen, c.log)
		for _, a := range assigned {
			commits.partitions.Add(1)
			gen.Start(func(gctx context.Context) {
				defer commits.partitions.Done()
				c.runPartition(gctx, workCtx, commits, a.ID, a.Offset)
			})
		}
		gen.Start(commits.run)
	}
}

// committer commits the offsets of one generation's partitions: a partition
// loop marks the offset after each handled batch and goes on with the next
// one, and one goroutine commits whatever is marked in a single
// OffsetCommit request, one request in flight at a time. Under load a
// request carries many partitions' offsets instead of one request per batch
// per partition: kafka-go sends a generation's requests over one connection
// to the coordinator, and 60 partitions committing on it concurrently spent
// a sixth of the services' CPU time in W1 (waitResponse re-reading the
// connection for one another's answers).
//
// Delivery stays at least once: an offset is marked only after its batch is
// handled, and what is not committed when a process dies is redelivered to
// the next owner of the partition. When the generation ends the committer
// waits for the partition loops to finish their batches and commits their
// last offsets before the generation is left.
type committer struct {
	topic      string
	gen        *kafka.Generation
	log        *slog.Logger
	partitions sync.WaitGroup // the generation's partition loops

	mu      sync.Mutex
	pending map[int]int64 // partition → next offset to commit
	wake    chan struct{}
}

func newCommitter(topic string, gen *kafka.Generation, log *slog.Logger) *committer {
	return &committer{topic: topic, gen: gen, log: log, pending: map[int]int64{}, wake: make(chan struct{}, 1)}
}

// mark records that every message of partition before next is done.
func (k *committer) mark(partition int, next int64) {
	k.mu.Lock()
	k.raise(partition, next)
	k.mu.Unlock()
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// raise sets partition's pending offset to next unless it is further
// already; k.mu must be held.
func (k *committer) raise(partition int, next int64) {
	if next > k.pending[partition] {
		k.pending[partition] = next
	}
}

// run commits whatever is marked, one request at a time, until the
// generation ends; then it waits for the partition loops and commits their
// last offsets. A failed commit keeps its offsets and is retried after a
// pause (the generation is usually ending: a rebalance).
func (k *committer) run(gctx context.Context) {
	defer func() {
		k.partitions.Wait()
		k.commit()
	}()
	for {
		select {
		case <-k.wake:
		case <-gctx.Done():
			return
		}
		for backoff := 50 * time.Millisecond; !k.commit(); backoff = min(backoff*2, 5*time.Second) {
			select {
			case <-time.After(backoff):
			case <-gctx.Done():
				return
			}
		}
	}
}

// commit sends the marked offsets, if any, and reports success.
func (k *committer) commit() bool {
	k.mu.Lock()
	offsets := k.pending
	if len(offsets) == 0 {
		k.mu.Unlock()
		return true
	}
	k.pending = make(map[int]int64, len(offsets))
	k.mu.Unlock()
	err := k.gen.CommitOffsets(map[string]map[int]int64{k.topic: offsets})
	if err == nil {
		return true
	}
	k.log.Warn("commit offsets failed", "partitions", len(offsets), "err", err)
	k.mu.Lock()
	for p, next := range offsets {
		k.raise(p, next)
	}
	k.mu.Unlock()
	return false
}

// runPartition consumes one partition for the life of a generation.
func (c *Consumer) runPartition(gctx, workCtx context.Context, commits *committer, partition int, offset int64) {
	log := c.log.With("partition", partition)
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:         c.cfg.Brokers,
		Topic:           c.cfg.Topic,
		Partition:       partition,
		Dialer:          c.cfg.Dialer,
		MinBytes:        1,
		MaxBytes:        16 << 20,
		MaxWait:         c.cfg.MaxWait,
		ReadLagInterval: -1,
		QueueCapacity:   c.cfg.MaxBatch,
		ReadBackoffMin:  50 * time.Millisecond,
		ReadBackoffMax:  500 * time.Millisecond,
	})
	// Close the reader without waiting for it: Close waits for a fetch in
	// flight, which the broker holds for up to MaxWait when the partition
	// has nothing new, and the end of a generation (a rebalance, Stop) waits
	// for every partition loop. Nothing is lost: offsets are committed by
	// this loop, never by the reader, and what the reader fetches after
	// this point is dropped with it.
	defer func() { go r.Close() }()
	if c.cfg.Lag != nil {
		defer c.cfg.Lag.ForgetLag(c.cfg.Topic, partition)
	}
	if err := r.SetOffset(offset); err != nil {
		log.Error("set partition offset", "offset", offset, "err", err)
		return
	}

	msgs := make(chan kafka.Message, c.cfg.MaxBatch)
	var fetchWG sync.WaitGroup
	fetchWG.Add(1)
	go func() {
		defer fetchWG.Done()
		defer close(msgs)
		for {
			m, err := r.FetchMessage(gctx)
			if err != nil {
				if gctx.Err() == nil {
					log.Warn("fetch failed", "err", err)
				}
				return
			}
			select {
			case msgs <- m:
			case <-gctx.Done():
				return
			}
		}
	}()
	defer fetchWG.Wait()

	batch := make([]kafka.Message, 0, c.cfg.MaxBatch)
	for {
		var first kafka.Message
		var ok bool
		select {
		case first, ok = <-msgs:
		case <-gctx.Done():
			return
		}
		if !ok {
			return
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < c.cfg.MaxBatch {
			select {
			case m, ok := <-msgs:
				if !ok {
					break drain
				}
				batch = append(batch, m)
			default:
				break drain
			}
		}
		if !c.handle(gctx, workCtx, log, partition, batch) {
			return
		}
		last := batch[len(batch)-1].Offset
		commits.mark(partition, last+1)
		if c.cfg.Lag != nil {
			c.cfg.Lag.ObserveLag(c.cfg.Topic, partition, batch[len(batch)-1].HighWaterMark-(last+1))
		}
	}
}

// handle runs the handler on a batch until it succeeds. It gives up (false)
// when the work context ends (hard stop) or when the generation ended while
// retrying: the next owner of the partition redoes the batch.
func (c *Consumer) handle(gctx, workCtx context.Context, log *slog.Logger, partition int, batch []kafka.Message) bool {
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := c.handler(workCtx, partition, batch)
		if err == nil {
			return true
		}
		if workCtx.Err() != nil {
			return false
		}
		log.Warn("batch failed, retrying", "attempt", attempt, "messages", len(batch), "first_offset", batch[0].Offset, "err", err)
		wait := backoff/2 + rand.N(backoff/2+1) // #nosec G404 -- jitter, not a secret
		backoff = min(backoff*2, 5*time.Second)
		select {
		case <-time.After(wait):
		case <-gctx.Done():
			return false
		case <-workCtx.Done():
			return false
		}
	}
}
