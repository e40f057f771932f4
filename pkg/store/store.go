// Package store persists jobs, operations and results in MongoDB with the
// official driver (v2).
//
// Access pattern: every hot path (submit, apply result, get job, get
// operation) touches documents by `_id` only and prefers inserts over updates.
// On FerretDB v1.24 (SQLite) only find and insert use the `_id` index:
// update, replace and delete by `_id` scan the collection (measured: an
// UpdateOne costs 3.2 ms at 1k documents and 16.7 ms at 10k; a DeleteOne 3.8
// and 30 ms). So the only documents ever updated or deleted on a hot path
// live in small collections:
//
//   - jobs_active `_id` = job id (UUIDv7): unfinished jobs with their
//     counters, updated with $inc by `_id`; small (in-flight jobs only, and
//     archived ones until their batched removal, see DeferRetire)
//   - jobs        `_id` = job id: finished jobs, inserted once, immutable
//   - operations  `_id` = `{job_id}-c{k}`: up to 100 operations of a job per
//     document (opdocs.go), inserted once with InsertMany
//   - results     `_id` = operation id: one insert per terminal outcome; the
//     unique `_id` makes the first outcome win (idempotent, no transactions).
//     A small job whose outcomes are applied together has them in one
//     document, `_id` = job id, which also arbitrates between the two ways
//     (outcomes.go)
//   - requests    `_id` = request_id: idempotency keys of CreateJob
//   - outbox      `_id` = job id, or "round-{uuid}" for a CreateJobs batch
//     (job_ids): jobs whose operations may not all be in Kafka yet;
//     deleted once they all are, scanned by the relay; small
//   - adoptions   `_id` = operation id: which message counted a cancellation
//     (or a relay failure) claim
//   - dispatches  `_id` = job id: the relay's latest re-dispatch of a job;
//     small (stalled jobs only)
//   - leases      `_id` = `{name}/{term}`: which client instance runs the
//     relay; one tiny document per handover
//   - deletions   `_id` = job id: tombstones of deleted jobs, so that an
//     applier that read a job before it was deleted cannot archive it back;
//     small (the relay removes tombstones after DeletionRetention)
//   - operations also holds the listing index, `_id` = "listing-0",
//     "listing-1", …: one entry per batch of created jobs with their ids,
//     inserted with their operations; ListJobs reads it backwards by `_id`
//     (listing.go)
//
// No secondary indexes are needed.
package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// Collections are the collections the store uses.
var Collections = []string{"jobs", "jobs_active", "operations", "results", "requests", "outbox", "adoptions", "dispatches", "leases", "deletions",
	"nodes", "metrics", "metric_watermarks"} // nodes.go, metrics.go

// Config configures the store.
type Config struct {
	// URI is the MongoDB connection string.
	URI string
	// Database name; default "jobplane".
	Database string
	// Timeout for connecting and for server selection; default 10s.
	Timeout time.Duration
	// Monitor, when set, receives the driver's command events (the services
	// trace MongoDB commands with it, see telemetry.MongoMonitor).
	Monitor *event.CommandMonitor
	// SingleOperationDocs stores each operation of a new job in a document
	// of its own, as versions before operations were grouped did (see
	// opdocs.go): for a rolling upgrade from such a version, whose replicas
	// cannot read the grouped layout.
	SingleOperationDocs bool
	// OutcomesPerOperation stores every outcome in a document of its own
	// as versions before 2026-12-05 did (see outcomes.go): for a rolling
	// upgrade from such a version, whose replicas neither write the
	// per-operation marker nor read whole outcome documents. Whole
	// documents written by others are still read.
	OutcomesPerOperation bool
	// Outbox is where CreateJobs writes its outbox entries (see
	// OutboxLayout); entries of every layout are read and handled.
	Outbox OutboxLayout
	// Writes, when set, learns the timing of every write (the services
	// export it as metrics, see telemetry.Metrics).
	Writes WriteObserver
	// Lazy skips the start-up ping: the server service runs without MongoDB
	// (an outage only delays its heartbeats and metric aggregation).
	Lazy bool
}

// Store is the MongoDB persistence of jobplane. It is safe for concurrent use.
type Store struct {
	client   *mongo.Client
	db       *mongo.Database
	jobs     *mongo.Collection
	active   *mongo.Collection
	adopted  *mongo.Collection
	ops      *mongo.Collection
	results  *mongo.Collection
	requests *mongo.Collection
	outbox   *mongo.Collection
	// dispatches and leases serve the relay (relay.go, lease.go).
	dispatches *mongo.Collection
	leases     *mongo.Collection
	deletions  *mongo.Collection
	// listingState: this process's view of the listing index (listing.go).
	listingState listingState
	now          func() time.Time
	// uncounted: see ApplyResults.
	uncounted *uncountedSet
	// recent: the jobs this process created lately (see recentJobs).
	recent *recentJobs
	// rounds: the outbox entries of this process's CreateJobs batches.
	rounds outboxRounds
	// perOpKnown: the jobs known to store their outcomes per operation
	// (see outcomes.go).
	perOpKnown knownSet
	// deletedHere: the jobs DeleteJob deleted in this process, which its
	// ApplyResults never archives again (see DeleteJob).
	deletedHere knownSet
	// writes makes this process's writes take turns (every write goes
	// through locked). SQLite, under FerretDB, has a single
	// writer and makes a blocked writer sleep and retry (1, 2, 5, 10 ms…),
	// so concurrent writes of the group commit, the applier and the outbox
	// cleaner waited longer than they took. Measured in W1: job latency p50
	// 224–274 ms without, 85–94 ms with; throughput unchanged or better.
	// Reads do not take it. On real MongoDB it costs write parallelism
	// that jobplane's batched writes barely use. A one-slot semaphore, so
	// that a caller whose context ends stops waiting (see locked).
	writes chan struct{}
	// observe is Config.Writes.
	observe WriteObserver
	// singleOpDocs, outcomesPerOp, outboxLayout: the Config fields
	// (outboxLayout: Outbox).
	singleOpDocs, outcomesPerOp bool
	outboxLayout                OutboxLayout
	// outboxScanSlowUntil and activeScanSlowUntil: see deleteSmall (unix
	// nanoseconds).
	outboxScanSlowUntil atomic.Int64
	activeScanSlowUntil atomic.Int64
	// retire: see DeferRetire; nil: archiving removes jobs at once.
	retire func(context.Context, *Job)
}

// batchSize bounds the number of documents per InsertMany/BulkWrite call.
const batchSize = 1000

// Open connects to MongoDB and checks that it answers.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URI == "" {
		return nil, errors.New("store: empty MongoDB URI")
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	opts := options.Client().ApplyURI(cfg.URI).
		SetWriteConcern(writeconcern.Majority()).
		SetServerSelectionTimeout(timeout).
		SetConnectTimeout(timeout)
	if cfg.Monitor != nil {
		opts.SetMonitor(cfg.Monitor)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to mongodb: %w", err)
	}
	if !cfg.Lazy {
		pingCtx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := client.Ping(pingCtx, readpref.Primary()); err != nil {
			_ = client.Disconnect(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("ping mongodb: %w", err)
		}
	}
	s := New(client, cmp.Or(cfg.Database, "jobplane"))
	s.singleOpDocs = cfg.SingleOperationDocs
	s.outcomesPerOp, s.outboxLayout = cfg.OutcomesPerOperation, cfg.Outbox
	s.observe = cfg.Writes
	return s, nil
}

// New wraps an existing client.
func New(client *mongo.Client, database string) *Store {
	db := client.Database(database)
	s := &Store{
		client:     client,
		db:         db,
		jobs:       db.Collection("jobs"),
		active:     db.Collection("jobs_active"),
		adopted:    db.Collection("adoptions"),
		ops:        db.Collection("operations"),
		results:    db.Collection("results"),
		requests:   db.Collection("requests"),
		outbox:     db.Collection("outbox"),
		dispatches: db.Collection("dispatches"),
		leases:     db.Collection("leases"),
		deletions:  db.Collection("deletions"),
		uncounted:  &uncountedSet{},
		writes:     make(chan struct{}, 1),
		now:        func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) },
	}
	s.recent = newRecentJobs(func() time.Time { return s.now() })
	return s
}

// Close disconnects from MongoDB.
func (s *Store) Close(ctx context.Context) error {
	return s.client.Disconnect(ctx)
}

// Ping checks that the primary answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.client.Ping(ctx, readpref.Primary())
}

// OpInput is an operation to create.
type OpInput struct {
	Type    string
	Request string
}

// NewJob is what CreateJob stores.
type NewJob struct {
	RequestID    string
	PartitionKey string
	Operations   []OpInput
}

// fingerprint identifies the content of a create request so that a reused
// request_id with different content is detected.
func (n *NewJob) fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s|", len(n.PartitionKey), n.PartitionKey)
	for _, op := range n.Operations {
		fmt.Fprintf(h, "%d:%s%d:%s|", len(op.Type), op.Type, len(op.Request), op.Request)
	}
	return hex.EncodeToString(h.Sum(nil))
}

type requestDoc struct {
	ID          string    `bson:"_id"`
	JobID       string    `bson:"job_id"`
	Fingerprint string    `bson:"fingerprint"`
	CreateTime  time.Time `bson:"create_time"`
}

// CreateJob stores a job and its operations and returns the job and its
// operations. created is false when request_id matched an earlier job, which
// is returned instead (its operations are then nil).
//
// Order of writes: the request_id claim, the operations and the listing
// entry (one InsertMany; listing.go), then the job document. The job document is the commit point: a job is
// visible, and will be published by the relay, only once all its operations
// are stored. A retry after a crash at any step converges on one job.
func (s *Store) CreateJob(ctx context.Context, n NewJob) (job *Job, ops []Operation, created bool, err error) {
	jobID := NewJobID()
	if n.RequestID != "" {
		fp := n.fingerprint()
		claim := requestDoc{ID: n.RequestID, JobID: jobID, Fingerprint: fp, CreateTime: s.now()}
		if err := s.locked(ctx, write{"insert", s.requests.Name()}, func() error { _, err := s.requests.InsertOne(ctx, claim); return err }); err != nil {
			if !mongo.IsDuplicateKeyError(err) {
				return nil, nil, false, fmt.Errorf("claim request_id: %w", err)
			}
			var prev requestDoc
			if err := s.requests.FindOne(ctx, bson.D{{Key: "_id", Value: n.RequestID}}).Decode(&prev); err != nil {
				return nil, nil, false, fmt.Errorf("read request_id claim: %w", err)
			}
			if prev.Fingerprint != fp {
				return nil, nil, false, ErrRequestIDConflict
			}
			// getJob: a job this process deleted reads as it is (hideDeleted
			// would make it look unfinished, and resuming it would recreate
			// a job under a tombstoned id).
			existing, err := s.getJob(ctx, prev.JobID)
			if err == nil {
				return existing, nil, false, nil
			}
			if !errors.Is(err, ErrNotFound) {
				return nil, nil, false, err
			}
			// The first request stopped before its commit point (or is still
			// running): finish creating the same job under the same id.
			jobID = prev.JobID
		}
	}

	now := s.now()
	job = &Job{
		ID:           jobID,
		RequestID:    n.RequestID,
		PartitionKey: n.PartitionKey,
		Total:        int64(len(n.Operations)),
		CreateTime:   now,
		UpdateTime:   now,
		OpsPerDoc:    s.opsPerDoc(n.Operations),
	}
	ops = newOperations(job, n.Operations)
	// Operations already present come from an interrupted first attempt
	// (the same documents: their layout depends only on the operations).
	// The listing entry rides along; a retry that resumes an interrupted
	// first attempt adds a second entry for the same job, and ListJobs lists
	// the job only from the entry its document names.
	entry, err := s.insertOpsListed(ctx, operationDocs(job, ops), []string{jobID})
	if err != nil {
		return nil, nil, false, err
	}
	job.ListingEntry = &entry

	if err := s.locked(ctx, write{"insert", s.outbox.Name()}, func() error {
		_, err := s.outbox.InsertOne(ctx, OutboxEntry{ID: jobID, CreateTime: now})
		return err
	}); err != nil && !mongo.IsDuplicateKeyError(err) {
		return nil, nil, false, fmt.Errorf("insert outbox entry: %w", err)
	}
	if err := s.locked(ctx, write{"insert", s.active.Name()}, func() error { _, err := s.active.InsertOne(ctx, job); return err }); err != nil {
		if !mongo.IsDuplicateKeyError(err) {
			return nil, nil, false, fmt.Errorf("insert job: %w", err)
		}
		existing, err := s.getJob(ctx, jobID)
		if err != nil {
			return nil, nil, false, err
		}
		return existing, nil, false, nil
	}
	s.recent.put(job)
	return job, ops, true, nil
}

// newOperations returns the operations of job j, created from in.
func newOperations(j *Job, in []OpInput) []Operation {
	ops := make([]Operation, len(in))
	for i, op := range in {
		ops[i] = Operation{ID: OperationID(j.ID, int64(i)), JobID: j.ID, Index: int64(i), Type: op.Type,
			Request: op.Request, PartitionKey: j.PartitionKey, CreateTime: j.CreateTime}
	}
	return ops
}

// MarkPublished deletes an outbox entry (OutboxEntry.ID) whose jobs are
// all published, finished or gone: the relay's step after handling it. A
// batch's entry is deleted from both places it may be in (see
// OutboxLayout): two deletes by `_id`, on the relay's path only.
func (s *Store) MarkPublished(ctx context.Context, entryID string) error {
	colls := []*mongo.Collection{s.outbox}
	if IsRoundID(entryID) {
		colls = append(colls, s.active)
	}
	for _, coll := range colls {
		if err := s.locked(ctx, write{"delete", coll.Name()}, func() error { _, err := coll.DeleteOne(ctx, byID(entryID)); return err }); err != nil {
			return fmt.Errorf("delete outbox entry: %w", err)
		}
	}
	return nil
}

// GetJob returns a job by id: the archived copy if there is one, else the
// unfinished one (readJobs); not a job deleted through this process (see
// hideDeleted).
func (s *Store) GetJob(ctx context.Context, id string) (*Job, error) {
	j, err := s.getJob(ctx, id)
	if err != nil {
		return nil, err
	}
	shown, err := s.hideDeleted(ctx, []*Job{j})
	if err != nil {
		return nil, fmt.Errorf("get job: %w", err)
	}
	if len(shown) == 0 {
		return nil, fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	return j, nil
}

// getJob is GetJob without hideDeleted.
func (s *Store) getJob(ctx context.Context, id string) (*Job, error) {
	jobs, err := s.readJobs(ctx, []string{id})
	if err != nil {
		return nil, fmt.Errorf("get job: %w", err)
	}
	if jobs[0] == nil {
		return nil, fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	return jobs[0], nil
}

// hideDeleted leaves out of jobs those that DeleteJob deleted through this
// process: an applier call that read such a job before its deletion can
// archive it again, and it stays in `jobs` until its retirement finds the
// tombstone (buryDeleted), up to the cleaner's linger later. Only jobs this
// process deleted are checked (deletedHere), by their tombstone (a read by
// `_id`), so a DeleteJob that failed before its tombstone hides nothing.
// Readers of another replica can still see such a job for that moment.
func (s *Store) hideDeleted(ctx context.Context, jobs []*Job) ([]*Job, error) {
	var ids []string
	for _, j := range jobs {
		if s.deletedHere.has(j.ID) {
			ids = append(ids, j.ID)
		}
	}
	if len(ids) == 0 {
		return jobs, nil
	}
	dead, err := findByID[deletionDoc](ctx, s.deletions, ids)
	if err != nil {
		return nil, fmt.Errorf("read deletions: %w", err)
	}
	gone := map[string]bool{}
	for _, d := range dead {
		if d != nil {
			gone[d.ID] = true
		}
	}
	return slices.DeleteFunc(slices.Clone(jobs), func(j *Job) bool { return gone[j.ID] }), nil
}

// finish moves a completed job from jobs_active to jobs (insert first, then
// delete; both idempotent).
func (s *Store) finish(ctx context.Context, j *Job) error {
	_, err := s.finishMany(ctx, []*Job{j})
	return err
}

// finishMany archives jobs and returns the ids of those that turned out to
// be deleted (see buryDeleted): they are gone again, with their outcomes.
func (s *Store) finishMany(ctx context.Context, jobs []*Job) (gone []string, err error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	docs := make([]any, len(jobs))
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		docs[i], ids[i] = j, j.ID
	}
	if _, err := s.insertNew(ctx, s.jobs, docs); err != nil {
		return nil, fmt.Errorf("archive finished jobs: %w", err)
	}
	s.recent.drop(ids...)
	if s.retire != nil {
		for _, j := range jobs {
			s.retire(ctx, j)
		}
		return nil, nil
	}
	return s.RetireJobs(ctx, jobs)
}

// DeferRetire makes archiving hand each archived job to retire instead of
// removing it from jobs_active at once; retire passes them to RetireJobs
// in batches (the client service collects them for 100 ms: one delete of a
// few dozen jobs instead of one per applier batch, a fifth of W1's write
// lock time). Meanwhile the job is in both collections and every reader
// takes the archived copy (readJobs, ListJobs). The relay removes a job
// whose removal never happens (a crash, an outage: RetireArchived). Call it
// before the store is used.
func (s *Store) DeferRetire(retire func(context.Context, *Job)) {
	s.retire = retire
}

// RetireJobs removes jobs archived by finishMany from jobs_active, and then
// any of them that DeleteJob deleted meanwhile from `jobs` with their
// outcomes, and returns the ids of those. Every id counts, even of a job
// removed before: a call that archived a deleted job and then failed is
// retried as a duplicate insert.
func (s *Store) RetireJobs(ctx context.Context, jobs []*Job) (gone []string, err error) {
	return s.retireJobs(ctx, jobs, nil)
}

// retireJobs is RetireJobs, deleting the documents of also (batches'
// outbox entries in jobs_active, see CleanUp) from jobs_active in the same
// write.
func (s *Store) retireJobs(ctx context.Context, jobs []*Job, also []string) (gone []string, err error) {
	if len(jobs) == 0 && len(also) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(jobs)+len(also))
	seen := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		if !seen[j.ID] {
			seen[j.ID] = true
			ids = append(ids, j.ID)
		}
	}
	ids = append(ids, also...)
	var errs []error
	removed, err := s.deleteSmall(ctx, s.active, ids, &s.activeScanSlowUntil)
	if err != nil {
		errs = append(errs, fmt.Errorf("remove finished jobs from active: %w", err))
	}
	// If this call removed every job from jobs_active, none of them had
	// been deleted before its archive insert: DeleteJob removes a job from
	// jobs_active before it removes it from jobs, so a deletion that comes
	// later finds the archived copy itself. Otherwise (a deletion, or a job
	// archived twice: a retry, two overlapping appliers, the relay), look
	// for tombstones (also when an entry of also was gone: the relay may
	// have deleted it).
	if len(jobs) > 0 && (err != nil || removed != int64(len(ids))) {
		gone, err = s.buryDeleted(ctx, jobs)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return gone, errors.Join(errs...)
}

// locked runs one write under the store's write lock (see Store.writes), or
// gives up waiting for it when ctx ends. Every write of the store goes
// through it, not only the hot path's: SQLite's busy handler polls (1, 2,
// 5, … 100 ms) for up to busy_timeout, and a writer outside the lock,
// polling against a lock held back to back under load (98 % of the time in
// W1), could be starved into "database is locked" after 10 s. Measured: a
// DeleteJob under load never completed within 90 s. w names the write for
// Config.Writes.
func (s *Store) locked(ctx context.Context, w write, fn func() error) error {
	began := time.Now()
	select {
	case s.writes <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for the write lock: %w", context.Cause(ctx))
	}
	got := time.Now()
	defer func() { <-s.writes }()
	err := fn()
	if s.observe != nil {
		s.observe.ObserveStoreWrite(w.op, w.coll, got.Sub(began), time.Since(got))
	}
	return err
}

// write names a write of the store: its kind and collection.
type write struct{ op, coll string }

// WriteObserver learns of every write of a Store, after it: op is insert,
// update, replace or delete, collection the collection written, wait the
// time spent waiting for the store's write lock and held the time the
// write held it (the MongoDB call, failed or not). Writes take turns (see
// Store.writes), so the sum of held over time is the share of time the
// process's writer is busy.
type WriteObserver interface {
	ObserveStoreWrite(op, collection string, wait, held time.Duration)
}

// deleteByIDMax is the largest job DeleteJob deletes by `_id`.
const deleteByIDMax = 1000

// DeletionRetention is how long the tombstone of a deleted job is kept: far
// longer than any applier call that read the job before it was deleted.
const DeletionRetention = time.Hour

type deletionDoc struct {
	ID   string    `bson:"_id"`
	Time time.Time `bson:"time"`
}

// buryDeleted removes from `jobs` the jobs that DeleteJob deleted while
// they were being archived, and the outcomes stored for them meanwhile, and
// returns their ids. Either an applier or the relay read the job, DeleteJob
// deleted it, and the archive insert brought it back; or ApplyResults
// archived a job it did not read (s.recent) and that another replica had
// deleted. DeleteJob inserts the tombstone before deleting, so an archive
// insert that came after the deletion sees it here.
func (s *Store) buryDeleted(ctx context.Context, jobs []*Job) ([]string, error) {
	// Usually there is no tombstone at all: one read of the first document
	// instead of a lookup per job.
	if len(jobs) == 0 {
		return nil, nil
	}
	if any, err := anyDoc(ctx, s.deletions); err != nil || !any {
		return nil, err
	}
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	dead, err := findByID[deletionDoc](ctx, s.deletions, ids)
	if err != nil {
		return nil, err
	}
	var gone []string
	for i, d := range dead {
		if d == nil {
			continue
		}
		gone = append(gone, d.ID)
		if err := s.deleteOutcomes(ctx, jobs[i]); err != nil {
			return nil, fmt.Errorf("remove outcomes of deleted job: %w", err)
		}
	}
	if err := s.deleteByID(ctx, s.jobs, gone); err != nil {
		return nil, fmt.Errorf("remove deleted jobs from archive: %w", err)
	}
	return gone, nil
}

// PurgeDeletions removes tombstones older than DeletionRetention (a scan of
// a small collection; the relay calls it). It first deletes, by `_id`, what
// is left of those jobs: an archiving step killed between its insert and
// its tombstone check can have brought one back, and a DeleteJob that
// failed after writing its tombstone left the job whole (an archiving that
// removed it from jobs_active itself does not look for tombstones, see
// finishMany); their operations, outcomes and claims go with them.
func (s *Store) PurgeDeletions(ctx context.Context) (int64, error) {
	old := bson.D{{Key: "time", Value: bson.D{{Key: "$lt", Value: s.now().Add(-DeletionRetention)}}}}
	cur, err := s.deletions.Find(ctx, old)
	if err != nil {
		return 0, fmt.Errorf("read deletions: %w", err)
	}
	var dead []deletionDoc
	if err := cur.All(ctx, &dead); err != nil {
		return 0, fmt.Errorf("read deletions: %w", err)
	}
	if len(dead) == 0 {
		return 0, nil
	}
	ids := make([]string, len(dead))
	for i, d := range dead {
		ids[i] = d.ID
	}
	left, err := s.readJobs(ctx, ids)
	if err != nil {
		return 0, fmt.Errorf("read deleted jobs: %w", err)
	}
	for _, j := range left {
		if j == nil {
			continue
		}
		if err := s.deleteJobData(ctx, j); err != nil {
			return 0, fmt.Errorf("sweep deleted job %s: %w", j.ID, err)
		}
	}
	for _, coll := range []*mongo.Collection{s.jobs, s.active} {
		if err := s.deleteByID(ctx, coll, ids); err != nil {
			return 0, fmt.Errorf("sweep deleted jobs: %w", err)
		}
	}
	if err := s.deleteByID(ctx, s.deletions, ids); err != nil {
		return 0, fmt.Errorf("purge deletions: %w", err)
	}
	return int64(len(ids)), nil
}

// matches reports whether s is in set; an empty set matches everything.
func matches[T comparable](s T, set []T) bool {
	return len(set) == 0 || slices.Contains(set, s)
}

// DeleteJob deletes a job, its operations, its results and its request_id
// claim. The job document goes first, so the job disappears at once; results
// that arrive later are dropped by ApplyResults.
//
// Results that keep arriving for the job (its operations still in Kafka, a
// cancelled job's late results) are dropped as orphans. An applier call
// that read the job before the deletion would archive it again and bring it
// back until its retirement finds the tombstone (buryDeleted): this
// process's applier checks deletedHere first, and its readers leave such a
// job out (hideDeleted), so a job deleted through this replica stays
// deleted for its readers; one deleted through another replica can
// reappear here for that moment.
func (s *Store) DeleteJob(ctx context.Context, id string) error {
	s.recent.drop(id)
	j, err := s.getJob(ctx, id)
	if err != nil {
		return err
	}
	// The tombstone first: see buryDeleted.
	err = s.locked(ctx, write{"insert", s.deletions.Name()}, func() error {
		_, err := s.deletions.InsertOne(ctx, deletionDoc{ID: id, Time: s.now()})
		return err
	})
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("record deletion: %w", err)
	}
	// Only once the tombstone is written: a deletion that failed before it
	// leaves the job whole, and this process's applier must keep counting
	// its results.
	s.deletedHere.add(id)
	// This call's tombstone: the deletion is this call's to finish even if
	// the job document is gone by now (an applier archived it and buried
	// it again since GetJob read it).
	ours := err == nil
	var deleted int64
	for _, coll := range []*mongo.Collection{s.active, s.jobs} {
		var n int64
		if err := s.locked(ctx, write{"delete", coll.Name()}, func() error {
			res, err := coll.DeleteOne(ctx, byID(id))
			if err == nil {
				n = res.DeletedCount
			}
			return err
		}); err != nil {
			return fmt.Errorf("delete job: %w", err)
		}
		deleted += n
	}
	if deleted == 0 && !ours {
		return fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	// Operations, results and adoptions have the operation ids as `_id`.
	// A job of up to deleteByIDMax operations: deleted by `_id` in bulk
	// writes (0.2-0.4 ms a document on FerretDB), so that deleting a small
	// job does not scan three whole collections. A bigger one: one DeleteMany
	// on job_id per collection, a scan on FerretDB but cheaper than that
	// many deletes (10,000 operations: about 1 s against 4 s); it holds the
	// process's other writes meanwhile.
	return s.deleteJobData(ctx, j)
}

// deleteJobData deletes everything of job j but its job documents: its
// operations, results, adoptions, outbox entry and request_id claim.
func (s *Store) deleteJobData(ctx context.Context, j *Job) error {
	docIDs, err := s.operationDocIDs(ctx, j)
	if err != nil {
		return err
	}
	if err := s.deleteDocs(ctx, s.ops, j.ID, docIDs); err != nil {
		return fmt.Errorf("delete operations of job: %w", err)
	}
	if err := s.deleteOutcomes(ctx, j); err != nil {
		return err
	}
	if err := s.locked(ctx, write{"delete", s.outbox.Name()}, func() error { _, err := s.outbox.DeleteOne(ctx, byID(j.ID)); return err }); err != nil {
		return fmt.Errorf("delete outbox entry: %w", err)
	}
	if j.RequestID != "" {
		if err := s.locked(ctx, write{"delete", s.requests.Name()}, func() error { _, err := s.requests.DeleteOne(ctx, byID(j.RequestID)); return err }); err != nil {
			return fmt.Errorf("delete request_id claim: %w", err)
		}
	}
	return nil
}

// deleteOutcomes deletes job j's results and adoptions (keyed by operation
// id).
func (s *Store) deleteOutcomes(ctx context.Context, j *Job) error {
	ids := operationIDs(j.ID, 0, j.Total)
	for _, coll := range []*mongo.Collection{s.results, s.adopted} {
		if err := s.deleteDocs(ctx, coll, j.ID, ids); err != nil {
			return fmt.Errorf("delete %s of job: %w", coll.Name(), err)
		}
	}
	// The job's own document in results: its whole outcomes or its
	// per-operation marker (see outcomes.go).
	if err := s.deleteByID(ctx, s.results, []string{j.ID}); err != nil {
		return fmt.Errorf("delete outcomes of job: %w", err)
	}
	return nil
}

// deleteDocs deletes the documents ids of job jobID from coll: by `_id`
// when they are up to deleteByIDMax, otherwise with a DeleteMany on job_id
// (see DeleteJob) per deleteManyMax of them. Every document of the job in
// coll must be among ids.
func (s *Store) deleteDocs(ctx context.Context, coll *mongo.Collection, jobID string, ids []string) error {
	if len(ids) <= deleteByIDMax {
		return s.deleteByID(ctx, coll, ids)
	}
	// Parts of consecutive ids in `_id` order, each selected by a range:
	// two comparisons a document (an $in of the part's ids would compare
	// each document with all of them).
	sorted := slices.Sorted(slices.Values(ids))
	for start := 0; start < len(sorted); start += deleteManyMax {
		part := sorted[start:min(start+deleteManyMax, len(sorted))]
		filter := bson.D{{Key: "job_id", Value: jobID},
			{Key: "_id", Value: bson.D{{Key: "$gte", Value: part[0]}, {Key: "$lte", Value: part[len(part)-1]}}}}
		if err := s.locked(ctx, write{"delete", coll.Name()}, func() error { _, err := coll.DeleteMany(ctx, filter); return err }); err != nil {
			return err
		}
	}
	return nil
}

// deleteManyMax bounds the documents one DeleteMany of deleteDocs matches:
// FerretDB deletes what a filter matched with one SQL statement that binds
// every `_id`, and SQLite refuses more than 32,766 variables (a job of
// 40,000 outcomes failed to delete: "too many SQL variables").
const deleteManyMax = 10_000

// ClaimCancelled makes every operation of the job that has no outcome yet
// CANCELLED, by inserting its CANCELLED result (the unique `_id` makes this
// race-free against results being applied). It returns the claims it won. The claims are not counted here: the caller sends
// them through the response topic to the single writer of the job's counters
// (see Job), which counts them as uncounted duplicates.
func (s *Store) ClaimCancelled(ctx context.Context, id string) (job *Job, cancelled []Result, err error) {
	j, err := s.GetJob(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if j.Done() >= j.Total {
		return j, nil, nil
	}
	// Last operation first: results tend to arrive in submission order, so
	// the claims race them where they are still far away.
	ids := make([]string, j.Total)
	for i := range j.Total {
		ids[i] = OperationID(id, j.Total-1-i)
	}
	cancelled, err = s.claim(ctx, ids, Result{JobID: id, State: OpCancelled, Error: "cancelled by request"})
	if err != nil {
		return nil, nil, err
	}
	return j, cancelled, nil
}

func byID(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }

// insertNew inserts docs with unordered InsertMany calls of at most
// batchSize documents and reports which ones already existed (duplicate
// `_id`); any other write error fails the call. Inserting by a unique `_id`
// is how every "first one wins" decision of the store is made. Like every
// hot-path write, it holds the store's write lock (see Store.writes).
func (s *Store) insertNew(ctx context.Context, coll *mongo.Collection, docs []any) (dup []bool, err error) {
	dup = make([]bool, len(docs))
	for start := 0; start < len(docs); start += batchSize {
		chunk := docs[start:min(start+batchSize, len(docs))]
		err := s.locked(ctx, write{"insert", coll.Name()}, func() error {
			_, err := coll.InsertMany(ctx, chunk, options.InsertMany().SetOrdered(false))
			return err
		})
		if err == nil {
			continue
		}
		var bwe mongo.BulkWriteException
		if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
			return nil, fmt.Errorf("insert into %s: %w", coll.Name(), err)
		}
		for _, we := range bwe.WriteErrors {
			if !isDuplicateCode(we.Code) || we.Index < 0 || we.Index >= len(chunk) {
				return nil, fmt.Errorf("insert into %s: %w", coll.Name(), err)
			}
			dup[start+we.Index] = true
		}
	}
	return dup, nil
}

func isDuplicateCode(code int) bool { return code == 11000 || code == 11001 || code == 12582 }
