package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The listing index lets ListJobs read by `_id` only: FerretDB scans and
// sorts a whole collection for any other query (a page of 50 jobs took about
// 0.4 s with 10,000 jobs stored, growing linearly).
//
// Entries `_id` = "listing-0", "listing-1", … (see listingID) in the
// operations collection: one entry per CreateJobs batch (or CreateJob call)
// with the ids of the jobs it creates, inserted with their operations (so
// before their job documents), never updated. The entry numbers are dense: a
// writer inserts entry k only after it saw entry k-1 (its own previous
// insert, or a probe), and a duplicate key sends it to the first free
// number. So the newest entry is found with a few `_id` probes (exponential,
// then binary search), and a listing reads entries backwards by `_id` and
// their jobs by `_id`. Entries are listed newest first and, within an entry,
// by job id (UUIDv7) descending.
//
// An entry whose jobs were never committed (a crash or a failed write after
// the entry) or were deleted costs a lookup and lists nothing. Entries are
// never deleted: removing the oldest would break the density the search
// relies on. An entry is a few hundred bytes per batch of jobs.

// listingDoc is one entry of the listing index.
type listingDoc struct {
	ID   string    `bson:"_id"`
	Jobs []string  `bson:"jobs"`
	Time time.Time `bson:"time"`
	// Legacy, on entry 0 only, says that jobs stored before the listing
	// index existed (an upgrade) are in the database: ListJobs lists them
	// after the index, with the scan the listing used before.
	Legacy bool `bson:"legacy,omitempty"`
}

// listingID is the `_id` of entry k. Entries live in the operations
// collection, so that an entry rides in the InsertMany of its jobs'
// operations instead of costing a write of its own: measured under W1, a
// separate insert per group commit held the store's write lock 75-113 ms
// of every second (2.3-3.2 ms a call; SQLite writes cost mostly per call).
// The prefix cannot be mistaken for an operation id ({job_id}-{index}, job
// ids are UUIDs), and every query on operations filters on job_id, which
// entries do not have.
func listingID(k int64) string { return "listing-" + strconv.FormatInt(k, 10) }

// listingState is this process's view of the listing index: end is a
// number at or below the first free entry (every entry below it exists). It
// only grows.
type listingState struct {
	end atomic.Int64
}

func (l *listingState) saw(end int64) {
	for {
		cur := l.end.Load()
		if end <= cur || l.end.CompareAndSwap(cur, end) {
			return
		}
	}
}

// insertOpsListed inserts operation documents (insertNew: existing ones are
// tolerated) together with the listing entry of jobIDs, at the number this
// process expects to be free; if another process took it, the entry is
// appended after the newest one. It returns the entry's number, which the
// jobs' documents record (Job.ListingEntry).
func (s *Store) insertOpsListed(ctx context.Context, docs []any, jobIDs []string) (int64, error) {
	k := s.listingState.end.Load()
	if k == 0 {
		// A new process, or a new index: find the end rather than collide
		// with entry 0.
		var err error
		if k, err = s.listingEnd(ctx, 0); err != nil {
			return 0, err
		}
	}
	entry := listingDoc{ID: listingID(k), Jobs: jobIDs, Time: s.now()}
	if k == 0 {
		legacy, err := anyDoc(ctx, s.active, s.jobs)
		if err != nil {
			return 0, err
		}
		entry.Legacy = legacy
	}
	dup, err := s.insertNew(ctx, s.ops, append(slices.Clip(docs), entry))
	if err != nil {
		return 0, fmt.Errorf("insert operations: %w", err)
	}
	for dup[len(dup)-1] {
		// Another writer took k: continue after the newest entry (never
		// entry 0 again, so Legacy no longer applies).
		if k, err = s.listingEnd(ctx, k+1); err != nil {
			return 0, err
		}
		entry.ID, entry.Legacy = listingID(k), false
		if dup, err = s.insertNew(ctx, s.ops, []any{entry}); err != nil {
			return 0, fmt.Errorf("index jobs: %w", err)
		}
	}
	s.listingState.saw(k + 1)
	return k, nil
}

// anyDoc reports whether any of the collections holds a document (reads
// the first one of each: no scan).
func anyDoc(ctx context.Context, colls ...*mongo.Collection) (bool, error) {
	for _, coll := range colls {
		err := coll.FindOne(ctx, bson.D{}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return false, fmt.Errorf("read %s: %w", coll.Name(), err)
		}
	}
	return false, nil
}

// listingEnd returns the first free entry number. Every entry below from
// must exist (from = 0 always qualifies).
func (s *Store) listingEnd(ctx context.Context, from int64) (int64, error) {
	has := func(k int64) (bool, error) {
		err := s.ops.FindOne(ctx, byID(listingID(k)), options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read listing entry: %w", err)
		}
		return true, nil
	}
	// Exponential probe: lo exists (or is -1), hi is the first miss.
	lo, hi, step := from-1, from, int64(1)
	for {
		ok, err := has(hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo, hi, step = hi, hi+step, step*2
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := has(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	s.listingState.saw(hi)
	return hi, nil
}

// ListPosition is where a listing continues: after job JobID of listing
// entry Entry. Entry -1 is a listing by job id (listScan): of the jobs
// stored before the listing index (see listingDoc.Legacy), or of jobs_active
// when only unfinished states are listed.
type ListPosition struct {
	Entry int64
	JobID string
}

// ListJobsParams selects a page of jobs.
type ListJobsParams struct {
	// After continues the listing of a previous page (its next position);
	// nil starts at the newest job.
	After *ListPosition
	// Limit is the page size.
	Limit int
	// States keeps only jobs in one of these states; empty keeps all.
	States []JobState
}

// maxListExamined bounds the jobs a page looks at. A page that reaches it
// (a filter on a rare state, or many deleted jobs) returns what it found,
// possibly nothing, with a next position: a rare state costs the caller more
// pages instead of one unbounded request.
const maxListExamined = 1000

// ListJobs returns up to Limit jobs, newest first, and where the next page
// continues (nil when nothing follows).
//
// Listing only unfinished states scans jobs_active (small: in-flight jobs
// only) and leaves out the jobs found archived (see DeferRetire).
// Everything else walks the listing index backwards and reads each job by
// `_id` in GetJob's order (readJobs).
func (s *Store) ListJobs(ctx context.Context, p ListJobsParams) ([]*Job, *ListPosition, error) {
	page, next, err := s.listJobs(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	// A page can come out short by a job deleted through this process
	// moments ago; the position is the listing's all the same.
	page, err = s.hideDeleted(ctx, page)
	if err != nil {
		return nil, nil, fmt.Errorf("list jobs: %w", err)
	}
	return page, next, nil
}

// listJobs is ListJobs without hideDeleted.
func (s *Store) listJobs(ctx context.Context, p ListJobsParams) ([]*Job, *ListPosition, error) {
	if p.Limit <= 0 {
		return nil, nil, fmt.Errorf("list jobs: limit %d is not positive", p.Limit)
	}
	if len(p.States) > 0 && !slices.ContainsFunc(p.States, JobState.Terminal) {
		before := ""
		if p.After != nil {
			before = p.After.JobID
		}
		page, next, err := s.listScan(ctx, []*mongo.Collection{s.active}, p, before, nil)
		if err != nil {
			return nil, nil, err
		}
		page, err = s.dropArchived(ctx, page)
		return page, next, err
	}
	if p.After != nil && p.After.Entry < 0 {
		return s.listScan(ctx, []*mongo.Collection{s.active, s.jobs}, p, p.After.JobID, nil)
	}
	// Jobs of entry skipEntry at or above after were listed already.
	entry, skipEntry, after := int64(math.MaxInt64), int64(-1), ""
	if p.After != nil {
		entry, skipEntry, after = p.After.Entry, p.After.Entry, p.After.JobID
	}
	if entry >= s.listingState.end.Load() {
		// The newest entry, or a position past it (a token can carry any
		// number): start at the newest.
		end, err := s.listingEnd(ctx, s.listingState.end.Load())
		if err != nil {
			return nil, nil, err
		}
		entry = min(entry, end-1)
	}

	type candidate struct {
		entry int64
		id    string
	}
	var (
		out      []*Job
		last     ListPosition
		examined int
		seen     = map[string]bool{}
		queue    []candidate
		perRead  = int64(1)
		// legacyBefore: entry 0 is Legacy, and older jobs have ids below
		// its own.
		legacyBefore string
	)
	for {
		// Look up a page's worth of candidates (and one more, to know
		// whether a next page exists), reading entries as needed: one
		// first, then more at a time, since entries range from one job to
		// a whole group commit.
		chunk := max(p.Limit-len(out)+1, 16)
		for len(queue) < chunk && entry >= 0 {
			n := min(entry+1, perRead)
			perRead = min(perRead*2, 8)
			ids := make([]string, n)
			for i := range n {
				ids[i] = listingID(entry - i)
			}
			docs, err := findByID[listingDoc](ctx, s.ops, ids)
			if err != nil {
				return nil, nil, err
			}
			for i, d := range docs {
				if d == nil {
					continue
				}
				k := entry - int64(i)
				if k == 0 && d.Legacy && len(d.Jobs) > 0 {
					legacyBefore = slices.Min(d.Jobs)
				}
				jobIDs := slices.Clone(d.Jobs)
				slices.Sort(jobIDs)
				slices.Reverse(jobIDs)
				for _, id := range jobIDs {
					if k == skipEntry && id >= after {
						continue
					}
					queue = append(queue, candidate{k, id})
				}
			}
			entry -= n
		}
		if len(queue) == 0 {
			if legacyBefore == "" {
				return out, nil, nil
			}
			// The index is exhausted: the jobs stored before it follow.
			if len(out) == p.Limit {
				return out, &ListPosition{Entry: -1, JobID: legacyBefore}, nil
			}
			return s.listScan(ctx, []*mongo.Collection{s.active, s.jobs}, p, legacyBefore, out)
		}
		cands := queue[:min(len(queue), chunk)]
		queue = queue[len(cands):]
		ids := make([]string, len(cands))
		for i, c := range cands {
			ids[i] = c.id
		}
		jobs, err := s.readJobs(ctx, ids)
		if err != nil {
			return nil, nil, err
		}
		for i, j := range jobs {
			examined++
			// A job is listed from the entry its document names: a create
			// retried after an interrupted first attempt wrote two entries.
			stale := j != nil && j.ListingEntry != nil && *j.ListingEntry != cands[i].entry
			if j == nil || stale || seen[j.ID] || !matches(j.State(), p.States) {
				if examined >= maxListExamined {
					pos := ListPosition{Entry: cands[i].entry, JobID: cands[i].id}
					return out, &pos, nil
				}
				continue
			}
			if len(out) == p.Limit {
				return out, &last, nil
			}
			seen[j.ID] = true
			out = append(out, j)
			last = ListPosition{Entry: cands[i].entry, JobID: j.ID}
		}
	}
}

// readJobs reads jobs by `_id`, each from `jobs` first: an archived job is
// finished and final, while its copy in jobs_active, until its removal
// there (see DeferRetire), still has the counters from before its last
// results. The misses are read from jobs_active, and what is still missing
// from `jobs` once more: a job archived between the first two reads is
// inserted into `jobs` before it leaves jobs_active, so the third read finds
// it. A job in neither (deleted, or never committed) is nil.
func (s *Store) readJobs(ctx context.Context, ids []string) ([]*Job, error) {
	jobs := make([]*Job, len(ids))
	for _, coll := range []*mongo.Collection{s.jobs, s.active, s.jobs} {
		if err := fillByID(ctx, coll, ids, jobs); err != nil {
			return nil, err
		}
	}
	return jobs, nil
}

// dropArchived leaves out of a page read from jobs_active the jobs that are
// archived already, finished, and only waiting for their removal from
// jobs_active (see archivedOf). The page may come out shorter than asked,
// as a filtered page can.
func (s *Store) dropArchived(ctx context.Context, page []*Job) ([]*Job, error) {
	archived, err := s.archivedOf(ctx, page)
	if err != nil {
		return nil, err
	}
	out := page[:0]
	for i, j := range page {
		if archived[i] == nil {
			out = append(out, j)
		}
	}
	return out, nil
}

// archivedOf reads the archived copy of each of jobs (nil where there is
// none), one read by `_id` each.
func (s *Store) archivedOf(ctx context.Context, jobs []*Job) ([]*Job, error) {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	archived := make([]*Job, len(jobs))
	if err := fillByID(ctx, s.jobs, ids, archived); err != nil {
		return nil, err
	}
	return archived, nil
}

// listScan continues the page so far (prefix) up to p.Limit jobs with the
// jobs below before (all of them if empty) from colls, newest first, each
// job once (from the last collection holding it: jobs after jobs_active,
// as a moving job is archived before it leaves jobs_active). It scans and
// sorts: for jobs_active (small) and for the jobs stored before the listing
// index. Positions are Entry -1.
func (s *Store) listScan(ctx context.Context, colls []*mongo.Collection, p ListJobsParams, before string, prefix []*Job) ([]*Job, *ListPosition, error) {
	filter := bson.D{}
	if before != "" {
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: before}}}}
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: -1}})
	curs := make([]*mongo.Cursor, len(colls))
	heads := make([]*Job, len(colls))
	next := func(k int) error {
		heads[k] = nil
		for curs[k].Next(ctx) {
			j := &Job{}
			if err := curs[k].Decode(j); err != nil {
				return fmt.Errorf("decode job: %w", err)
			}
			if !IsRoundID(j.ID) { // a batch's outbox entry (OutboxActive)
				heads[k] = j
				break
			}
		}
		return curs[k].Err()
	}
	for k, coll := range colls {
		cur, err := coll.Find(ctx, filter, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("list jobs: %w", err)
		}
		defer cur.Close(ctx)
		curs[k] = cur
		if err := next(k); err != nil {
			return nil, nil, err
		}
	}
	out := prefix
	for {
		// The newest head; on a tie, the later collection's copy.
		var j *Job
		for _, h := range heads {
			if h != nil && (j == nil || h.ID >= j.ID) {
				j = h
			}
		}
		if j == nil {
			return out, nil, nil
		}
		for k, h := range heads {
			if h != nil && h.ID == j.ID {
				if err := next(k); err != nil {
					return nil, nil, err
				}
			}
		}
		if !matches(j.State(), p.States) {
			continue
		}
		if len(out) == p.Limit {
			return out, &ListPosition{Entry: -1, JobID: out[len(out)-1].ID}, nil
		}
		out = append(out, j)
	}
}
