package store

import (
	"sync"
	"time"
)

// recentJobs remembers the jobs this process created in the last minute, as
// they were inserted (counters zero). ApplyResults uses one instead of
// reading the job back when a single call holds the outcome of every
// operation of the job: the final counters are then those outcomes, and
// every other field of a job is fixed at its creation, so nothing read from
// jobs_active could differ (see ApplyResults). A job created by another
// client replica, or older than recentTTL, is read as before.
//
// Two generations of maps: a lookup checks both, an insert goes to the
// current one, and the current one becomes the previous one (whose entries
// are dropped) when it is recentTTL/2 old or holds recentMax/2 entries.
// Memory is bounded by recentMax entries: about 250 bytes each, up to
// about 650 with the longest request_id and partition_key the API accepts,
// so a few MB at most (W1 keeps about 18,000: 300 jobs/s for a minute).
type recentJobs struct {
	mu        sync.Mutex
	cur, prev map[string]recentJob
	curSince  time.Time
	now       func() time.Time
}

type recentJob struct {
	job Job
	at  time.Time
}

const (
	// recentTTL is far below DeletionRetention: a job deleted by another
	// replica after its creation was recorded here still has its tombstone
	// when its archive insert resurrects it, so buryDeleted removes it.
	recentTTL = time.Minute
	recentMax = 20_000
)

func newRecentJobs(now func() time.Time) *recentJobs {
	return &recentJobs{cur: map[string]recentJob{}, prev: map[string]recentJob{}, curSince: now(), now: now}
}

// put records jobs just inserted into jobs_active.
func (r *recentJobs) put(jobs ...*Job) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range jobs {
		if len(r.cur) >= recentMax/2 || now.Sub(r.curSince) >= recentTTL/2 {
			r.prev, r.cur, r.curSince = r.cur, make(map[string]recentJob, len(r.cur)), now
		}
		r.cur[j.ID] = recentJob{job: *j, at: now}
	}
}

// get returns a copy of the job as created, if it was created here less than
// recentTTL ago.
func (r *recentJobs) get(id string) (*Job, bool) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.cur[id]
	if !ok {
		e, ok = r.prev[id]
	}
	if !ok || now.Sub(e.at) >= recentTTL {
		return nil, false
	}
	j := e.job
	return &j, true
}

// drop forgets jobs (finished, or deleted).
func (r *recentJobs) drop(ids ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		delete(r.cur, id)
		delete(r.prev, id)
	}
}
