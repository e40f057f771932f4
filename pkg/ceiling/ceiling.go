// Package ceiling measures the raw ceiling of jobplane's write pattern on
// the same engines (embedded FerretDB and kfake, over TCP, through
// mongo-driver v2 and kafka-go), with no services in between: for each job,
// insert its operations and the job document and produce one request
// message per operation; consumers evaluate each expression and produce its
// result; a result consumer inserts the results of a batch and updates each
// job's counter by `_id`. jobplane's throughput on the same workload divided
// by this one is its efficiency (`make bench-ceiling`).
//
// What jobplane does on top, and the ceiling does not: the request_id claim,
// the outbox entry and its deletion, moving a finished job from jobs_active
// to jobs, the offset watermark and cancellation adoption logic, gRPC/REST
// and the client's polling.
package ceiling

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobplane/jobplane/pkg/expr"
	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/segmentio/kafka-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// Config is a workload and where to run it.
type Config struct {
	MongoURI    string
	Database    string // must already exist with `_id`-indexed collections ops, jobs, results
	Brokers     []string
	Jobs        int // default 2000
	OpsPerJob   int // default 10
	Concurrency int // submitters; default 16
	Workers     int // consumers of the request topic ("servers"); default 2
	Partitions  int // default 60
}

// Collections are the collections Run writes.
var Collections = []string{"ops", "jobs", "results"}

// Result is a run's throughput.
type Result struct {
	Operations int `json:"operations"`
	// SubmitSeconds is when the last job was stored and published.
	SubmitSeconds float64 `json:"submit_seconds"`
	Seconds       float64 `json:"seconds"`
	OpsPerSecond  float64 `json:"operations_per_second"`
}

// Run runs the workload once and returns when every job is complete.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.Jobs = cmp.Or(cfg.Jobs, 2000)
	cfg.OpsPerJob = cmp.Or(cfg.OpsPerJob, 10)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, 16)
	cfg.Workers = cmp.Or(cfg.Workers, 2)
	cfg.Partitions = cmp.Or(cfg.Partitions, 60)

	client, err := mongo.Connect(options.Client().ApplyURI(cfg.MongoURI).SetWriteConcern(writeconcern.Majority()))
	if err != nil {
		return nil, err
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	db := client.Database(cfg.Database)
	opsColl, jobsColl, resultsColl := db.Collection("ops"), db.Collection("jobs"), db.Collection("results")

	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	reqTopic, resTopic := "ceiling.request."+suffix, "ceiling.response."+suffix
	if err := queue.EnsureTopics(ctx, nil, cfg.Brokers,
		queue.TopicSpec{Name: reqTopic, Partitions: cfg.Partitions, ReplicationFactor: min(3, len(cfg.Brokers))},
		queue.TopicSpec{Name: resTopic, Partitions: cfg.Partitions, ReplicationFactor: min(3, len(cfg.Brokers))}); err != nil {
		return nil, err
	}
	w := queue.NewWriter(queue.WriterConfig{Brokers: cfg.Brokers})
	defer w.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var completed atomic.Int64
	allDone := make(chan struct{})
	consumer := func(group, topic string, h queue.BatchHandler) *queue.Consumer {
		return queue.NewConsumer(queue.ConsumerConfig{
			Brokers: cfg.Brokers, GroupID: group, Topic: topic,
			HeartbeatInterval: 200 * time.Millisecond, SessionTimeout: 2 * time.Second, RebalanceTimeout: 2 * time.Second,
			JoinGroupBackoff: 100 * time.Millisecond, MaxWait: 50 * time.Millisecond,
		}, h)
	}

	// Workers: evaluate and produce results keyed by job id.
	work := func(ctx context.Context, _ int, msgs []kafka.Message) error {
		out := make([]kafka.Message, 0, len(msgs))
		for i := range msgs {
			req, err := queue.DecodeRequest(&msgs[i])
			if err != nil {
				return err
			}
			res := &queuev1.OperationResult{JobId: req.GetJobId(), OperationId: req.GetOperationId(), State: queuev1.ResultState_RESULT_STATE_SUCCEEDED}
			if v, err := expr.Eval(req.GetRequest()); err != nil {
				res.State, res.Error = queuev1.ResultState_RESULT_STATE_FAILED, err.Error()
			} else {
				res.Result = v
			}
			m, err := queue.EncodeResult(resTopic, []byte(req.GetJobId()), res)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return w.WriteMessages(ctx, out...)
	}
	// Applier: insert the batch's results, one counter update per job.
	apply := func(ctx context.Context, _ int, msgs []kafka.Message) error {
		docs := make([]any, 0, len(msgs))
		perJob := map[string]int{}
		for i := range msgs {
			res, err := queue.DecodeResult(&msgs[i])
			if err != nil {
				return err
			}
			docs = append(docs, bson.D{{Key: "_id", Value: res.GetOperationId()}, {Key: "job_id", Value: res.GetJobId()},
				{Key: "state", Value: "succeeded"}, {Key: "result", Value: res.GetResult()}})
			perJob[res.GetJobId()]++
		}
		if _, err := resultsColl.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
			var bwe mongo.BulkWriteException
			if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
				return err
			}
		}
		for id, n := range perJob {
			var j struct {
				Total, Done int
			}
			err := jobsColl.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "done", Value: n}}}},
				options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&j)
			if err != nil {
				return err
			}
			if j.Done >= j.Total && completed.Add(1) == int64(cfg.Jobs) {
				close(allDone)
			}
		}
		return nil
	}
	var consumers []*queue.Consumer
	for range cfg.Workers {
		consumers = append(consumers, consumer("ceiling-workers-"+suffix, reqTopic, work))
	}
	consumers = append(consumers, consumer("ceiling-applier-"+suffix, resTopic, apply))
	for _, c := range consumers {
		if err := c.Start(ctx); err != nil {
			return nil, err
		}
		defer c.Stop()
	}

	start := time.Now()
	next := make(chan int)
	errc := make(chan error, cfg.Concurrency)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				if err := submit(ctx, cfg, n, opsColl, jobsColl, w, reqTopic); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	for n := range cfg.Jobs {
		select {
		case next <- n:
		case err := <-errc:
			close(next)
			wg.Wait()
			return nil, err
		}
	}
	close(next)
	wg.Wait()
	submitted := time.Since(start)
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	select {
	case <-allDone:
	case <-ctx.Done():
		return nil, fmt.Errorf("%d of %d jobs complete: %w", completed.Load(), cfg.Jobs, ctx.Err())
	}
	secs := time.Since(start).Seconds()
	ops := cfg.Jobs * cfg.OpsPerJob
	return &Result{Operations: ops, SubmitSeconds: submitted.Seconds(), Seconds: secs, OpsPerSecond: float64(ops) / secs}, nil
}

// submit stores job n and its operations and publishes them.
func submit(ctx context.Context, cfg Config, n int, opsColl, jobsColl *mongo.Collection, w *kafka.Writer, topic string) error {
	jobID := fmt.Sprintf("job-%08d", n)
	docs := make([]any, cfg.OpsPerJob)
	msgs := make([]kafka.Message, cfg.OpsPerJob)
	for i := range cfg.OpsPerJob {
		opID := jobID + "-" + strconv.Itoa(i)
		req := fmt.Sprintf("%d * 2 + 1", i)
		docs[i] = bson.D{{Key: "_id", Value: opID}, {Key: "job_id", Value: jobID}, {Key: "index", Value: i}, {Key: "type", Value: "expr"}, {Key: "request", Value: req}}
		m, err := queue.EncodeRequest(topic, []byte(opID), &queuev1.OperationRequest{JobId: jobID, OperationId: opID, Type: "expr", Request: req, Attempt: 1})
		if err != nil {
			return err
		}
		msgs[i] = m
	}
	if _, err := opsColl.InsertMany(ctx, docs); err != nil {
		return fmt.Errorf("insert operations: %w", err)
	}
	if _, err := jobsColl.InsertOne(ctx, bson.D{{Key: "_id", Value: jobID}, {Key: "total", Value: cfg.OpsPerJob}, {Key: "done", Value: 0}}); err != nil {
		return fmt.Errorf("insert job: %w", err)
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}
