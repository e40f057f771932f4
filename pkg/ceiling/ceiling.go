// Package ceiling measures the raw ceiling of jobplane's write pattern on
// the same engines (embedded FerretDB and kfake, over TCP, through
// mongo-driver v2 and kafka-go), with no services in between, written the
// way jobplane writes them:
//
//   - submit: C callers hand jobs to one group committer, which stores a
//     round's operations (up to 100 of a job to a document) and jobs with
//     one InsertMany each and produces the
//     round's request messages (keyed by operation id, routed to the job's
//     partition like jobplane's small jobs);
//   - workers evaluate each expression and produce its result keyed by job id;
//   - the applier inserts a batch's results with one InsertMany (a job whose
//     every outcome is in the batch as one document), reads by
//     `_id` (in parallel) the batch's jobs whose outcomes it does not hold
//     all (jobplane reads those it did not create, too), archives the jobs
//     the batch finishes (one InsertMany into jobs, one bulk delete by `_id`)
//     and updates the counters of the others by `_id`.
//
// jobplane's throughput on the same workload divided by this one is its
// efficiency (`make bench-ceiling`). What jobplane does on top, and the
// ceiling does not: the request_id claims, the outbox entry and its deletion,
// gRPC/REST, authentication, tracing and metrics, the relay, duplicate and
// cancellation handling, and the client's polling.
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
	"github.com/jobplane/jobplane/pkg/groupcommit"
	"github.com/jobplane/jobplane/pkg/partition"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/segmentio/kafka-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// wholeJobMax is jobplane's store.wholeJobMax: the largest job whose
// outcomes are stored as one document.
const wholeJobMax = 64

// Config is a workload and where to run it.
type Config struct {
	MongoURI    string
	Database    string // must already exist with `_id`-indexed Collections
	Brokers     []string
	Jobs        int // default 2000
	OpsPerJob   int // default 10
	Concurrency int // submitters; default 16
	Workers     int // consumers of the request topic ("servers"); default 2
	Partitions  int // default 60
	// RequestTopic and ResponseTopic are created if missing (default: new
	// names of their own). A fresh devstack has jobplane's topics with
	// their kfake logs preallocated (embedded.PreallocateLogs), as the
	// services find them: cmd/ceiling uses those, so that the ceiling does
	// not pay for the first write of each partition where jobplane does not.
	RequestTopic, ResponseTopic string
}

// Collections are the collections Run writes.
// They are named like jobplane's (operations, unfinished jobs, finished jobs,
// results), so that a devstack's `_id` indexes cover them.
var Collections = []string{"operations", "jobs_active", "jobs", "results"}

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
	opsColl, jobsColl, resultsColl := db.Collection("operations"), db.Collection("jobs_active"), db.Collection("results")

	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	reqTopic, resTopic := cmp.Or(cfg.RequestTopic, "ceiling.request."+suffix), cmp.Or(cfg.ResponseTopic, "ceiling.response."+suffix)
	if err := queue.EnsureTopics(ctx, nil, cfg.Brokers,
		queue.TopicSpec{Name: reqTopic, Partitions: cfg.Partitions, ReplicationFactor: min(3, len(cfg.Brokers))},
		queue.TopicSpec{Name: resTopic, Partitions: cfg.Partitions, ReplicationFactor: min(3, len(cfg.Brokers))}); err != nil {
		return nil, err
	}
	// A transport of its own: kafka-go's default one keeps metadata across
	// runs, and a run against a new cluster on the same ports got the last
	// one's.
	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	// Uncompressed, as the services run by devstack produce (the brokers
	// are on the loopback).
	w := queue.NewWriter(queue.WriterConfig{Brokers: cfg.Brokers, Transport: transport, Compression: "none"})
	defer w.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The process's writes take turns, as jobplane's do (store.Store's
	// write lock): SQLite has one writer, and a blocked one sleeps.
	var writes sync.Mutex
	write := func(f func() error) error {
		writes.Lock()
		defer writes.Unlock()
		return f()
	}
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
	// Archived jobs leave jobs_active in batches collected for 100 ms, one
	// DeleteMany on `_id` $in each, as jobplane's retirer does (see
	// store.DeferRetire). Its first error fails the run.
	var retireErr error
	retire := groupcommit.NewLinger(100*time.Millisecond, 1000, func(ctx context.Context, ids []string) {
		if retireErr == nil {
			retireErr = write(func() error {
				_, err := jobsColl.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
				return err
			})
		}
	})
	defer retire.Stop()
	// Applier: insert the batch's results, read the batch's jobs, archive
	// the finished ones and count the others.
	doneColl := db.Collection("jobs")
	applyRound := func(ctx context.Context, batches [][]kafka.Message) error {
		var msgs []kafka.Message
		for _, b := range batches {
			msgs = append(msgs, b...)
		}
		type outcome struct {
			opID, result string
			partition    int
			offset       int64
		}
		perJob := map[string]int{}
		byJob := map[string][]outcome{}
		now := time.Now()
		var order []string
		for i := range msgs {
			res, err := queue.DecodeResult(&msgs[i])
			if err != nil {
				return err
			}
			if perJob[res.GetJobId()] == 0 {
				order = append(order, res.GetJobId())
			}
			perJob[res.GetJobId()]++
			byJob[res.GetJobId()] = append(byJob[res.GetJobId()], outcome{res.GetOperationId(), res.GetResult(), msgs[i].Partition, msgs[i].Offset})
		}
		// A job whose every outcome is in the batch has them stored as one
		// document (jobplane's whole-job outcomes, store/outcomes.go, for
		// jobs of up to wholeJobMax operations), any other one per operation.
		docs := make([]any, 0, len(msgs))
		for _, id := range order {
			rs := byJob[id]
			if len(rs) == cfg.OpsPerJob && cfg.OpsPerJob <= wholeJobMax {
				outs := make(bson.A, len(rs))
				for k, o := range rs {
					outs[k] = bson.D{{Key: "s", Value: "succeeded"}, {Key: "r", Value: o.result}, {Key: "t", Value: now},
						{Key: "p", Value: o.partition}, {Key: "o", Value: o.offset}}
				}
				docs = append(docs, bson.D{{Key: "_id", Value: id}, {Key: "outcomes", Value: outs}})
				continue
			}
			for _, o := range rs {
				docs = append(docs, bson.D{{Key: "_id", Value: o.opID}, {Key: "job_id", Value: id},
					{Key: "state", Value: "succeeded"}, {Key: "result", Value: o.result},
					{Key: "complete_time", Value: now}, {Key: "partition", Value: o.partition}, {Key: "offset", Value: o.offset}})
			}
		}
		if err := write(func() error {
			_, err := resultsColl.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
			return err
		}); err != nil {
			var bwe mongo.BulkWriteException
			if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
				return err
			}
		}
		jobs := make([]ceilingJob, len(order))
		sem := make(chan struct{}, 8)
		var rwg sync.WaitGroup
		errs := make([]error, len(order))
		for i, id := range order {
			if perJob[id] == cfg.OpsPerJob {
				// Every outcome of the job is in this batch: archived
				// without a read, as jobplane does for a job it created.
				jobs[i] = ceilingJob{ID: id, Total: cfg.OpsPerJob}
				continue
			}
			rwg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; rwg.Done() }()
				errs[i] = jobsColl.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&jobs[i])
			}()
		}
		rwg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		var finished []any
		var finishedIDs []string
		for i := range jobs {
			j := &jobs[i]
			n := perJob[j.ID]
			if j.Done+n < j.Total {
				if err := write(func() error {
					_, err := jobsColl.UpdateOne(ctx, bson.D{{Key: "_id", Value: j.ID}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "done", Value: n}}}})
					return err
				}); err != nil {
					return err
				}
				continue
			}
			j.Done += n
			finished = append(finished, j)
			finishedIDs = append(finishedIDs, j.ID)
		}
		if len(finished) > 0 {
			if err := write(func() error {
				_, err := doneColl.InsertMany(ctx, finished, options.InsertMany().SetOrdered(false))
				return err
			}); err != nil {
				return err
			}
			for _, id := range finishedIDs {
				retire.Add(ctx, id)
			}
			if completed.Add(int64(len(finished))) == int64(cfg.Jobs) {
				close(allDone)
			}
		}
		return nil
	}
	applies := group(64, applyRound)
	defer applies.Stop()
	apply := func(ctx context.Context, _ int, msgs []kafka.Message) error { return do(ctx, applies, msgs) }
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
	// Lingering as the client's create batches do (groupcommit.WithLinger).
	commits := group(cfg.Concurrency, func(ctx context.Context, round []int) error { return store(ctx, cfg, round, opsColl, jobsColl, write) },
		groupcommit.WithLinger(groupcommit.CallerLinger))
	defer commits.Stop()
	next := make(chan int)
	errc := make(chan error, cfg.Concurrency)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				err := do(ctx, commits, n)
				if err == nil {
					err = publish(ctx, cfg, n, w, reqTopic)
				}
				if err != nil {
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
	retire.Stop() // the deletes still queued count after the run, as in jobplane
	if retireErr != nil {
		return nil, fmt.Errorf("remove archived jobs: %w", retireErr)
	}
	ops := cfg.Jobs * cfg.OpsPerJob
	return &Result{Operations: ops, SubmitSeconds: submitted.Seconds(), Seconds: secs, OpsPerSecond: float64(ops) / secs}, nil
}

type ceilingJob struct {
	ID    string `bson:"_id"`
	Total int    `bson:"total"`
	Done  int    `bson:"done"`
}

// group is groupcommit.New for calls that return only an error: every
// item of a round gets the round's error.
func group[T any](maxItems int, fn func(ctx context.Context, round []T) error, opts ...groupcommit.Option) *groupcommit.Group[T, error] {
	return groupcommit.New(1, maxItems, maxItems, func(T) int { return 1 }, func(ctx context.Context, round []T) []error {
		err := fn(ctx, round)
		out := make([]error, len(round))
		for i := range out {
			out[i] = err
		}
		return out
	}, opts...)
}

// do submits item to g and returns its round's error.
func do[T any](ctx context.Context, g *groupcommit.Group[T, error], item T) error {
	err, waitErr := g.Do(ctx, item)
	if waitErr != nil {
		return waitErr
	}
	return err
}

// opsPerDoc is how many operations share a document, as in jobplane
// (store's opsPerDoc for small requests).
const opsPerDoc = 100

// store stores a round of jobs and their operations (up to opsPerDoc to a
// document), one InsertMany per collection.
func store(ctx context.Context, cfg Config, round []int, opsColl, jobsColl *mongo.Collection, write func(func() error) error) error {
	var docs, jobs []any
	for _, n := range round {
		jobID := jobName(n)
		for first := 0; first < cfg.OpsPerJob; first += opsPerDoc {
			var ops bson.A
			for i := first; i < min(first+opsPerDoc, cfg.OpsPerJob); i++ {
				ops = append(ops, bson.D{{Key: "type", Value: "expr"}, {Key: "request", Value: opRequest(i)}})
			}
			docs = append(docs, bson.D{{Key: "_id", Value: jobID + "-c" + strconv.Itoa(first/opsPerDoc)}, {Key: "job_id", Value: jobID},
				{Key: "first", Value: first}, {Key: "ops", Value: ops}})
		}
		jobs = append(jobs, ceilingJob{ID: jobID, Total: cfg.OpsPerJob})
	}
	if err := write(func() error { _, err := opsColl.InsertMany(ctx, docs); return err }); err != nil {
		return fmt.Errorf("insert operations: %w", err)
	}
	if err := write(func() error { _, err := jobsColl.InsertMany(ctx, jobs); return err }); err != nil {
		return fmt.Errorf("insert jobs: %w", err)
	}
	return nil
}

// publish produces the request messages of job n, keyed by operation id
// and routed to the job's partition.
func publish(ctx context.Context, cfg Config, n int, w *kafka.Writer, topic string) error {
	jobID := jobName(n)
	msgs := make([]kafka.Message, cfg.OpsPerJob)
	for i := range cfg.OpsPerJob {
		opID := jobID + "-" + strconv.Itoa(i)
		m, err := queue.EncodeRequest(topic, []byte(opID), &queuev1.OperationRequest{JobId: jobID, OperationId: opID, Type: "expr", Request: opRequest(i), Attempt: 1})
		if err != nil {
			return err
		}
		m.Headers = append(m.Headers, kafka.Header{Key: partition.RouteHeader, Value: []byte(jobID)})
		msgs[i] = m
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

func jobName(n int) string { return fmt.Sprintf("job-%08d", n) }

func opRequest(i int) string { return fmt.Sprintf("%d * 2 + 1", i) }
