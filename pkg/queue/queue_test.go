package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/embedded"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/segmentio/kafka-go"
)

// setup starts an embedded 3-broker cluster with one topic of 6 partitions.
func setup(t *testing.T) (brokers []string, topic string) {
	t.Helper()
	s, err := embedded.Start(t.Context(), embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	topic = "test.topic"
	if err := queue.EnsureTopics(t.Context(), nil, s.KafkaBrokers(), queue.TopicSpec{Name: topic, Partitions: 6, ReplicationFactor: 3}); err != nil {
		t.Fatal(err)
	}
	return s.KafkaBrokers(), topic
}

// testConsumer is a consumer with the short group timings tests need;
// options change its configuration further.
func testConsumer(brokers []string, topic, group string, shutdown time.Duration, h queue.BatchHandler, options ...func(*queue.ConsumerConfig)) *queue.Consumer {
	cfg := queue.ConsumerConfig{
		Brokers: brokers, Topic: topic, GroupID: group, MaxBatch: 50,
		HeartbeatInterval: 100 * time.Millisecond, SessionTimeout: time.Second, RebalanceTimeout: time.Second,
		JoinGroupBackoff: 100 * time.Millisecond, MaxWait: 100 * time.Millisecond, ShutdownTimeout: shutdown,
	}
	for _, o := range options {
		o(&cfg)
	}
	return queue.NewConsumer(cfg, h)
}

func TestEnsureTopics(t *testing.T) {
	t.Parallel()
	brokers, topic := setup(t)
	// Idempotent when the topic exists with the same partition count.
	if err := queue.EnsureTopics(t.Context(), nil, brokers, queue.TopicSpec{Name: topic, Partitions: 6}); err != nil {
		t.Fatal(err)
	}
	err := queue.EnsureTopics(t.Context(), nil, brokers, queue.TopicSpec{Name: topic, Partitions: 60})
	if !errors.Is(err, queue.ErrPartitionMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
}

func TestConsumerOrderRetryAndRedelivery(t *testing.T) {
	t.Parallel()
	brokers, topic := setup(t)
	w := queue.NewWriter(queue.WriterConfig{Brokers: brokers})
	defer w.Close()
	const keys, perKey = 12, 40
	var msgs []kafka.Message
	for i := range perKey {
		for k := range keys {
			msgs = append(msgs, kafka.Message{Topic: topic, Key: fmt.Appendf(nil, "key-%d", k), Value: fmt.Appendf(nil, "%d", i)})
		}
	}
	if err := w.WriteMessages(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}

	var (
		mu      sync.Mutex
		last    = map[string]int{}
		seen    = map[string]int{}
		failed  atomic.Bool
		total   atomic.Int64
		allDone = make(chan struct{})
	)
	handler := func(_ context.Context, _ int, batch []kafka.Message) error {
		if !failed.Swap(true) {
			return errors.New("transient failure: the batch must be retried, not skipped")
		}
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			var v int
			fmt.Sscan(string(m.Value), &v)
			k := string(m.Key)
			if prev, ok := last[k]; ok && v != prev+1 && v > prev {
				t.Errorf("key %s: %d after %d", k, v, prev)
			}
			last[k] = v
			seen[fmt.Sprintf("%s/%d", k, v)]++
		}
		if total.Add(int64(len(batch))) >= keys*perKey && len(seen) == keys*perKey {
			select {
			case <-allDone:
			default:
				close(allDone)
			}
		}
		return nil
	}
	c := testConsumer(brokers, topic, "g1", 5*time.Second, handler)
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-allDone:
	case <-time.After(30 * time.Second):
		t.Fatalf("consumed %d distinct of %d", len(seen), keys*perKey)
	}
	c.Stop()
	c.Stop() // safe twice

	// Offsets were committed: a new member of the group sees only new
	// messages.
	if err := w.WriteMessages(t.Context(), kafka.Message{Topic: topic, Key: []byte("key-0"), Value: []byte("999")}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 100)
	c2 := testConsumer(brokers, topic, "g1", 5*time.Second, func(_ context.Context, _ int, batch []kafka.Message) error {
		for _, m := range batch {
			got <- string(m.Value)
		}
		return nil
	})
	if err := c2.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer c2.Stop()
	if v := receive(t, got, "the new message"); v != "999" {
		t.Fatalf("after commit the group re-read %q", v)
	}
}

func TestConsumerRedeliversUncommitted(t *testing.T) {
	t.Parallel()
	brokers, topic := setup(t)
	w := queue.NewWriter(queue.WriterConfig{Brokers: brokers})
	defer w.Close()
	if err := w.WriteMessages(t.Context(), kafka.Message{Topic: topic, Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	// The first member never finishes its batch before it is stopped with a
	// hard deadline, so it commits nothing.
	c1 := testConsumer(brokers, topic, "g2", 200*time.Millisecond, func(ctx context.Context, _ int, _ []kafka.Message) error {
		close(entered)
		<-ctx.Done()
		return ctx.Err()
	})
	if err := c1.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-entered
	c1.Stop()
	got := make(chan string, 1)
	c2 := testConsumer(brokers, topic, "g2", 5*time.Second, firstValue(got))
	if err := c2.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer c2.Stop()
	if v := receive(t, got, "the uncommitted message"); v != "v" {
		t.Fatalf("redelivered %q", v)
	}
}

// firstValue is a handler that reports the first value it consumes on got
// (buffered: later ones are dropped).
func firstValue(got chan<- string) queue.BatchHandler {
	return func(_ context.Context, _ int, batch []kafka.Message) error {
		select {
		case got <- string(batch[0].Value):
		default:
		}
		return nil
	}
}

// receive waits (at most 30s) for the first value a consumer reports.
func receive(t *testing.T, got <-chan string, what string) string {
	t.Helper()
	select {
	case v := <-got:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("%s was not consumed", what)
		return ""
	}
}

// TestConsumerStopsWithoutWaitingForLongPolls: a partition's reader blocked
// in a fetch long poll (MaxWait) must not hold up Stop. Stop ends the
// generation as a rebalance does (the partition loops must return), so this
// also keeps a rebalance from waiting for the polls. With a two-minute
// MaxWait, a Stop that waited for them would not return within the bound.
func TestConsumerStopsWithoutWaitingForLongPolls(t *testing.T) {
	t.Parallel()
	brokers, topic := setup(t)
	w := queue.NewWriter(queue.WriterConfig{Brokers: brokers})
	defer w.Close()
	got := make(chan string, 1)
	c := testConsumer(brokers, topic, "long-poll", 5*time.Second, firstValue(got), func(c *queue.ConsumerConfig) { c.MaxWait = 2 * time.Minute })
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A message consumed means the partitions' readers are running; the
	// other five are now in their long polls, and so is this one's next.
	if err := w.WriteMessages(t.Context(), kafka.Message{Topic: topic, Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if v := receive(t, got, "the message"); v != "v" {
		t.Fatalf("consumed %q", v)
	}
	stopped := make(chan struct{})
	go func() {
		c.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("Stop waited for the readers' fetch long polls (MaxWait)")
	}
}

// TestWriterCodecs writes with each KAFKA_COMPRESSION codec through the
// shared producer and reads the messages back from the brokers.
func TestWriterCodecs(t *testing.T) {
	t.Parallel()
	brokers, topic := setup(t)
	codecs := []string{"none", "gzip", "snappy", "lz4", "zstd"}
	for _, codec := range codecs {
		w := queue.NewWriter(queue.WriterConfig{Brokers: brokers, Compression: codec})
		var msgs []kafka.Message
		for i := range 5 {
			msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(codec), Value: fmt.Appendf(nil, "%s-%d", codec, i)})
		}
		if err := w.WriteMessages(t.Context(), msgs...); err != nil {
			t.Fatalf("%s: %v", codec, err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan string, 100)
	c := testConsumer(brokers, topic, "codecs", 5*time.Second, func(_ context.Context, _ int, batch []kafka.Message) error {
		for _, m := range batch {
			got <- string(m.Value)
		}
		return nil
	})
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	seen := map[string]bool{}
	for len(seen) < len(codecs)*5 {
		seen[receive(t, got, "every codec's messages")] = true
	}
	for _, codec := range codecs {
		for i := range 5 {
			if v := fmt.Sprintf("%s-%d", codec, i); !seen[v] {
				t.Errorf("%s not read back", v)
			}
		}
	}
}
