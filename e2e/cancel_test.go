package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/queue"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestCancelMidRun cancels a 5,000-operation job while servers work on it:
// the job ends CANCELLED, and once every request has been processed and
// every result applied, no operation has changed state since the cancel.
func TestCancelMidRun(t *testing.T) {
	const n = 5000
	s := startStack(t, 1, 2)
	var body strings.Builder
	for i := range n {
		fmt.Fprintf(&body, "%d + 1\n", i)
	}
	// One partition key: the job runs in order through one partition, so
	// it takes long enough to be caught mid-run. If it still finishes
	// before the cancel lands, try again with a new job.
	var job, cancelled restJob
	for attempt := 1; ; attempt++ {
		job = s.createText(t, body.String(), fmt.Sprintf("partition_key=cancel-%d", attempt))
		deadline := time.Now().Add(2 * time.Minute)
		for {
			j := s.getJob(t, job.ID)
			if j.OperationCounts.Succeeded > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no progress: %+v", j)
			}
			time.Sleep(10 * time.Millisecond) // polling interval
		}
		r := s.do(t, "POST", "/v1/jobs/"+job.ID+":cancel", "", nil)
		if r.status != http.StatusOK {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
		cancelled = s.awaitJob(t, job.ID, time.Minute)
		if cancelled.State != "JOB_STATE_SUCCEEDED" || attempt == 5 {
			break
		}
		t.Logf("attempt %d: the job finished before the cancel landed; again", attempt)
	}
	c := cancelled.OperationCounts
	if cancelled.State != "JOB_STATE_CANCELLED" || c.Cancelled == 0 || c.Succeeded+c.Failed+c.Cancelled != n || c.Pending != 0 {
		t.Fatalf("after cancel: %+v", cancelled)
	}
	deadline := time.Now().Add(2 * time.Minute)
	before := s.operations(t, job.ID)

	// Wait until the servers have consumed every request and the client has
	// applied every result and cancellation.
	requests := func() float64 {
		return s.serverSample(t, "consumer_messages_received_total", topic(queue.RequestTopic))
	}
	results := func() float64 {
		return s.clientSample(t, "consumer_messages_received_total", topic(queue.ResponseTopic))
	}
	// Earlier attempts' jobs were processed in full before this one.
	wantRequests := float64(n * countJobs(t, s))
	for requests() < wantRequests || results() < wantRequests+float64(c.Cancelled) {
		if time.Now().After(deadline) {
			t.Fatalf("requests consumed %v, results consumed %v", requests(), results())
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}

	after := s.operations(t, job.ID)
	if len(after) != n || len(before) != n {
		t.Fatalf("operations: %d before, %d after", len(before), len(after))
	}
	for i := range after {
		if after[i].State != before[i].State || after[i].Result != before[i].Result {
			t.Fatalf("operation %s changed after the cancel: %+v -> %+v", after[i].ID, before[i], after[i])
		}
	}
	if final := s.getJob(t, job.ID); final.OperationCounts != cancelled.OperationCounts || final.State != "JOB_STATE_CANCELLED" {
		t.Fatalf("job changed after the cancel: %+v -> %+v", cancelled, final)
	}
	t.Logf("cancelled mid-run: %d succeeded, %d cancelled", c.Succeeded, c.Cancelled)
}

// TestDeleteMidRun deletes a job while servers work on it: it is gone at
// once, and once every request has been processed and every result
// consumed, nothing of it is left in MongoDB (late results are dropped).
func TestDeleteMidRun(t *testing.T) {
	const n = 3000
	s := startStack(t, 1, 2)
	var body strings.Builder
	for i := range n {
		fmt.Fprintf(&body, "%d * 2\n", i)
	}
	job := s.createText(t, body.String(), "partition_key=delete-me")
	deadline := time.Now().Add(2 * time.Minute)
	for s.getJob(t, job.ID).OperationCounts.Succeeded == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no progress")
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	if r := s.do(t, "DELETE", "/v1/jobs/"+job.ID, "", nil); r.status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := s.do(t, "GET", "/v1/jobs/"+job.ID, "", nil); r.status != http.StatusNotFound {
		t.Fatalf("get after delete: %d %s", r.status, r.body)
	}
	// Every request processed and every result consumed.
	for {
		requests := s.serverSample(t, "consumer_messages_received_total", topic(queue.RequestTopic))
		results := s.clientSample(t, "consumer_messages_received_total", topic(queue.ResponseTopic))
		if requests >= n && results >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("requests consumed %v, results consumed %v", requests, results)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	client, err := mongo.Connect(options.Client().ApplyURI(fmt.Sprintf("mongodb://127.0.0.1:%d/", s.mongoPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	// The last batches may still be in the applier (it counts a message as
	// received before applying it): poll until nothing is left.
	left := func() (string, int64) {
		for _, coll := range []string{"operations", "results", "jobs", "jobs_active", "outbox"} {
			filter := bson.D{{Key: "job_id", Value: job.ID}}
			if coll == "jobs" || coll == "jobs_active" || coll == "outbox" {
				filter = bson.D{{Key: "_id", Value: job.ID}}
			}
			c, err := client.Database("jobplane").Collection(coll).CountDocuments(t.Context(), filter)
			if err != nil {
				t.Fatal(err)
			}
			if coll == "results" && c == 0 {
				// The job's own document: its whole outcomes or its marker.
				c, err = client.Database("jobplane").Collection(coll).CountDocuments(t.Context(), bson.D{{Key: "_id", Value: job.ID}})
				if err != nil {
					t.Fatal(err)
				}
			}
			if c != 0 {
				return coll, c
			}
		}
		return "", 0
	}
	for coll, n := left(); n != 0; coll, n = left() {
		if time.Now().After(deadline) {
			t.Fatalf("%d documents of the deleted job left in %s", n, coll)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	if r := s.do(t, "GET", "/v1/jobs/"+job.ID, "", nil); r.status != http.StatusNotFound {
		t.Fatalf("get after the late results: %d %s", r.status, r.body)
	}
}
