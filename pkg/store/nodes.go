package store

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Node is a service instance's membership document (collection `nodes`,
// `_id` = NODE_ID). Each instance writes only its own document, by `_id`:
// it is the document's single writer (a restarted instance with the same
// NODE_ID takes it over). The collection holds one small document per
// instance, so listing it scans.
type Node struct {
	ID      string `bson:"_id"`
	Role    string `bson:"role"`    // "client" or "server"
	Address string `bson:"address"` // gRPC address serving NodeService
	Version string `bson:"version"`
	// Instance tells apart successive processes with the same NODE_ID.
	Instance      string    `bson:"instance"`
	StartTime     time.Time `bson:"start_time"`
	HeartbeatTime time.Time `bson:"heartbeat_time"`
}

// Expired reports whether the node's last heartbeat is older than ttl at now.
func (n *Node) Expired(now time.Time, ttl time.Duration) bool {
	return now.Sub(n.HeartbeatTime) > ttl
}

func (s *Store) nodes() *mongo.Collection { return s.db.Collection("nodes") }

// Heartbeat writes the node's document (an upsert by `_id`), with
// HeartbeatTime set to now.
func (s *Store) Heartbeat(ctx context.Context, n Node) error {
	n.HeartbeatTime = s.now()
	if err := s.locked(ctx, write{"replace", s.nodes().Name()}, func() error {
		_, err := s.nodes().ReplaceOne(ctx, byID(n.ID), n, options.Replace().SetUpsert(true))
		return err
	}); err != nil {
		return fmt.Errorf("node heartbeat: %w", err)
	}
	return nil
}

// Deregister deletes the node's document if it still belongs to instance
// (a newer process with the same NODE_ID keeps its own).
func (s *Store) Deregister(ctx context.Context, id, instance string) error {
	if err := s.locked(ctx, write{"delete", s.nodes().Name()}, func() error {
		_, err := s.nodes().DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "instance", Value: instance}})
		return err
	}); err != nil {
		return fmt.Errorf("deregister node: %w", err)
	}
	return nil
}

// ListNodes returns every registered node, expired or not, sorted by `_id`.
func (s *Store) ListNodes(ctx context.Context) ([]Node, error) {
	cur, err := s.nodes().Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	var out []Node
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return out, nil
}
