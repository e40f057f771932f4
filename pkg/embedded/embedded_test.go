package embedded_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/embedded"
	"github.com/segmentio/kafka-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func TestStackServesRealProtocols(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := embedded.Start(ctx, embedded.Config{Topics: map[string]int32{"probe": 6}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	mc, err := mongo.Connect(options.Client().ApplyURI(s.MongoURI()))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Disconnect(ctx)
	coll := mc.Database("probe").Collection("docs")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "v", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		V int `bson:"v"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&got); err != nil || got.V != 1 {
		t.Fatalf("find: %v %+v", err, got)
	}

	w := &kafka.Writer{Addr: kafka.TCP(s.KafkaBrokers()...), Topic: "probe", RequiredAcks: kafka.RequireAll, Balancer: &kafka.Hash{}, BatchTimeout: 2 * time.Millisecond}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: s.KafkaBrokers(), Topic: "probe", GroupID: "g", MaxWait: 100 * time.Millisecond,
		HeartbeatInterval: 100 * time.Millisecond, SessionTimeout: time.Second, RebalanceTimeout: time.Second, JoinGroupBackoff: 100 * time.Millisecond, StartOffset: kafka.FirstOffset})
	defer r.Close()
	m, err := r.FetchMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Value) != "hello" {
		t.Fatalf("got %q", m.Value)
	}
	if err := r.CommitMessages(ctx, m); err != nil {
		t.Fatal(err)
	}
}

// TestPreallocatedLogsTakeWrites checks PreallocateLogs (here Start's, for
// a seeded topic) against the kfake that go.mod pins: a partition's first write goes into the preallocated
// files (no other segment appears), and a restart on the same data dir reads
// every message back, including from partitions that were never written.
func TestPreallocatedLogsTakeWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	const topic = "pre.alloc"
	start := func() *embedded.Stack {
		t.Helper()
		s, err := embedded.Start(ctx, embedded.Config{DataDir: dir, Topics: map[string]int32{topic: 4}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := start() // seeds the topic, its logs preallocated
	partDir := func(p int) string { return filepath.Join(dir, "kafka", "partitions", topic+"-"+strconv.Itoa(p)) }
	for p := range 4 {
		for _, name := range []string{"0.dat", "0.idx"} {
			if fi, err := os.Stat(filepath.Join(partDir(p), name)); err != nil || fi.Size() != 0 {
				t.Fatalf("partition %d %s: %v %v", p, name, fi, err)
			}
		}
	}

	w := &kafka.Writer{Addr: kafka.TCP(s.KafkaBrokers()...), Topic: topic, RequiredAcks: kafka.RequireAll,
		Balancer: kafka.BalancerFunc(func(kafka.Message, ...int) int { return 1 }), BatchTimeout: 2 * time.Millisecond}
	want := []string{"a", "b", "c"}
	for _, v := range want {
		if err := w.WriteMessages(ctx, kafka.Message{Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(partDir(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".dat") && e.Name() != "0.dat" {
			t.Errorf("kfake wrote a segment of its own: %s", e.Name())
		}
	}
	if fi, err := os.Stat(filepath.Join(partDir(1), "0.dat")); err != nil || fi.Size() == 0 {
		t.Fatalf("partition 1's preallocated segment did not take the writes: %v %v", fi, err)
	}
	s.Close()

	s = start()
	defer s.Close()
	// A second call finds every partition there and leaves it alone.
	if err := s.PreallocateLogs(map[string]int32{topic: 4}); err != nil {
		t.Fatal(err)
	}
	for p := range 4 {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: s.KafkaBrokers(), Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		var got []string
		for len(got) < 3 && p == 1 {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(m.Value))
		}
		last, err := r.ReadLag(ctx)
		_ = r.Close()
		if err != nil {
			t.Fatalf("partition %d after restart: %v", p, err)
		}
		if p == 1 && (strings.Join(got, ",") != strings.Join(want, ",") || last != 0) {
			t.Fatalf("partition 1 after restart: %v, lag %d; want %v", got, last, want)
		}
	}
	w = &kafka.Writer{Addr: kafka.TCP(s.KafkaBrokers()...), Topic: topic, RequiredAcks: kafka.RequireAll,
		Balancer: kafka.BalancerFunc(func(kafka.Message, ...int) int { return 2 }), BatchTimeout: 2 * time.Millisecond}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("d")}); err != nil {
		t.Fatalf("first write to a preallocated partition after a restart: %v", err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: s.KafkaBrokers(), Topic: topic, Partition: 2, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	m, err := r.FetchMessage(ctx)
	if err != nil || string(m.Value) != "d" || m.Offset != 0 {
		t.Fatalf("partition 2 after restart: %q at %d, %v", m.Value, m.Offset, err)
	}
}

// TestGroupsLogCompactedEarly checks that kfake rewrites its log of
// committed offsets at GroupsLogCompactBytes rather than at its own 10 MB
// (each rewrite stalls every broker), and that a restart still reads the
// latest offset of every partition.
func TestGroupsLogCompactedEarly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	const topic, group, parts = "offsets.compact", "compact-group", 60
	start := func() (*embedded.Stack, *kafka.Client) {
		t.Helper()
		s, err := embedded.Start(ctx, embedded.Config{DataDir: dir, KafkaPorts: []int{0}, Topics: map[string]int32{topic: parts}})
		if err != nil {
			t.Fatal(err)
		}
		return s, &kafka.Client{Addr: kafka.TCP(s.KafkaBrokers()...)}
	}
	s, c := start()
	logFile := filepath.Join(dir, "kafka", "groups.log")
	largest := int64(0)
	const rounds = 200 // each commits every partition: about 1.5 MB of log entries
	for r := 1; r <= rounds; r++ {
		commits := make([]kafka.OffsetCommit, parts)
		for p := range commits {
			commits[p] = kafka.OffsetCommit{Partition: p, Offset: int64(r*1000 + p)}
		}
		resp, err := c.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{topic: commits}})
		if err != nil {
			t.Fatal(err)
		}
		for _, pc := range resp.Topics[topic] {
			if pc.Error != nil {
				t.Fatalf("commit partition %d: %v", pc.Partition, pc.Error)
			}
		}
		fi, err := os.Stat(logFile)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, fi.Size())
	}
	// One round's entries may land past the threshold before the rewrite.
	if largest > 2*embedded.GroupsLogCompactBytes {
		t.Fatalf("groups.log reached %d bytes: not rewritten at %d", largest, embedded.GroupsLogCompactBytes)
	}
	s.Close()

	s, c = start()
	defer s.Close()
	fetched, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0, 1, parts - 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(fetched.Topics[topic]); n != 3 {
		t.Fatalf("offsets of %d partitions fetched, want 3", n)
	}
	for _, pf := range fetched.Topics[topic] {
		if want := int64(rounds*1000 + pf.Partition); pf.Error != nil || pf.CommittedOffset != want {
			t.Errorf("partition %d after restart: offset %d (%v), want %d", pf.Partition, pf.CommittedOffset, pf.Error, want)
		}
	}
}
