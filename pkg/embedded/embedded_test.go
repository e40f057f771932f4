package embedded_test

import (
	"context"
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
