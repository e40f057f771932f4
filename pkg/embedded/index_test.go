package embedded_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/embedded"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestIndexIDs checks that lookups by _id stay correct with the added
// index, and logs their cost before and after (no timing assertion).
func TestIndexIDs(t *testing.T) {
	s, err := embedded.Start(t.Context(), embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mc, err := mongo.Connect(options.Client().ApplyURI(s.MongoURI()))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Disconnect(t.Context())
	ctx := t.Context()
	c := mc.Database("idx").Collection("docs")
	docs := make([]any, 5000)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: fmt.Sprintf("doc-%05d", i)}, {Key: "v", Value: i}}
	}
	if _, err := c.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	measure := func(label string) {
		t0 := time.Now()
		for i := range 30 {
			var got struct{ V int }
			id := fmt.Sprintf("doc-%05d", i*197%5000)
			if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&got); err != nil || got.V != i*197%5000 {
				t.Fatalf("find %s: %v %+v", id, err, got)
			}
			if _, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "w", Value: 1}}}}); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s: find+update by _id at 5k documents: %v per pair", label, time.Since(t0)/30)
	}
	measure("FerretDB's own index")
	if err := s.IndexIDs(ctx, "idx", []string{"docs", "other"}); err != nil {
		t.Fatal(err)
	}
	measure("with the expression index")
	// Uniqueness and deletes still work.
	if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: "doc-00001"}}); !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("duplicate insert: %v", err)
	}
	// An unordered InsertMany reports exactly the duplicates and inserts
	// the rest.
	_, err = c.InsertMany(ctx, []any{bson.D{{Key: "_id", Value: "new-1"}}, bson.D{{Key: "_id", Value: "doc-00003"}}, bson.D{{Key: "_id", Value: "new-2"}}},
		options.InsertMany().SetOrdered(false))
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || len(bwe.WriteErrors) != 1 || bwe.WriteErrors[0].Index != 1 || !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("unordered insert with a duplicate: %v", err)
	}
	if n, _ := c.CountDocuments(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{"new-1", "new-2"}}}}}); n != 2 {
		t.Fatalf("unordered insert stored %d of the 2 new documents", n)
	}
	// Running it again (a devstack restart on the same data) keeps it so.
	if err := s.IndexIDs(ctx, "idx", []string{"docs", "other"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: "new-1"}}); !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("duplicate insert after a second IndexIDs: %v", err)
	}
	if r, err := c.DeleteOne(ctx, bson.D{{Key: "_id", Value: "doc-00002"}}); err != nil || r.DeletedCount != 1 {
		t.Fatalf("delete: %v %v", r, err)
	}
	if n, _ := mc.Database("idx").Collection("other").CountDocuments(ctx, bson.D{}); n != 0 {
		t.Fatalf("created collection has %d documents", n)
	}
}
