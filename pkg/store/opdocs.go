package store

import (
	"context"
	"strconv"
	"time"
)

// Operations are stored several to a document: a job's operations
// [k·n, (k+1)·n) share the document `{job_id}-c{k}` of collection
// `operations`, where n is the job's OpsPerDoc, fixed when the job is
// created. Operation documents are inserted once and never change, so
// nothing is lost by grouping them, and FerretDB's cost is mostly per
// document (measured in W1: the operations insert held the writer about as
// long as the results insert, with ten documents per job where it now
// writes one). Operation ids keep their form `{job_id}-{index}`: readers
// compute the document from the index.
//
// Jobs stored before this layout have OpsPerDoc 0: one document per
// operation, `_id` = operation id (type Operation). They are still read,
// and Config.SingleOperationDocs still writes them, for a rolling upgrade
// from a version that knows only that layout (docs/operations.md).

const (
	// opsPerDocMax bounds the operations of one document, so that reading
	// one operation (GetOperation) reads little.
	opsPerDocMax = 100
	// opDocBytes bounds the requests (and types) of one document.
	opDocBytes = 256 << 10
)

// opsPerDoc returns how many operations of a new job share one document
// (opsPerDocFor), or 0 when the store writes one document per operation
// (Config.SingleOperationDocs).
func (s *Store) opsPerDoc(ops []OpInput) int64 {
	if s.singleOpDocs {
		return 0
	}
	return opsPerDocFor(ops)
}

// opsPerDocFor returns how many operations of a job share one document: as
// many as fit opDocBytes with the job's largest request, at most
// opsPerDocMax. It depends only on the operations, so that a retried
// CreateJob writes the same documents.
func opsPerDocFor(ops []OpInput) int64 {
	largest := 1
	for _, op := range ops {
		largest = max(largest, len(op.Type)+len(op.Request))
	}
	return min(max(int64(opDocBytes/largest), 1), opsPerDocMax)
}

// opDoc holds the operations [First, First+len(Ops)) of a job.
type opDoc struct {
	ID           string    `bson:"_id"`
	JobID        string    `bson:"job_id"`
	First        int64     `bson:"first"`
	PartitionKey string    `bson:"partition_key,omitempty"`
	CreateTime   time.Time `bson:"create_time"`
	Ops          []opEntry `bson:"ops"`
}

type opEntry struct {
	Type    string `bson:"type"`
	Request string `bson:"request"`
}

// opDocID is the `_id` of the k-th operations document of a job.
func opDocID(jobID string, k int64) string {
	return jobID + "-c" + strconv.FormatInt(k, 10)
}

// operationDocs returns the documents that store ops, all the operations
// of j in index order, as j.OpsPerDoc says.
func operationDocs(j *Job, ops []Operation) []any {
	if j.OpsPerDoc == 0 {
		docs := make([]any, len(ops))
		for i := range ops {
			docs[i] = &ops[i]
		}
		return docs
	}
	n := j.OpsPerDoc
	docs := make([]any, 0, (int64(len(ops))+n-1)/n)
	for first := int64(0); first < int64(len(ops)); first += n {
		part := ops[first:min(first+n, int64(len(ops)))]
		d := &opDoc{ID: opDocID(j.ID, first/n), JobID: j.ID, First: first, PartitionKey: j.PartitionKey,
			CreateTime: j.CreateTime, Ops: make([]opEntry, len(part))}
		for i, op := range part {
			d.Ops[i] = opEntry{Type: op.Type, Request: op.Request}
		}
		docs = append(docs, d)
	}
	return docs
}

// layout returns j with OpsPerDoc as its documents are stored. A job
// without OpsPerDoc is usually stored one document per operation; but a
// replica of an earlier version, which does not know the field, drops it
// when it rewrites a job (archiving it), so the first document of the
// grouped layout is looked for too: when it exists, its length is the
// job's OpsPerDoc (the first document is full unless it is the only one).
func (s *Store) layout(ctx context.Context, j *Job) (*Job, error) {
	if j.OpsPerDoc > 0 {
		return j, nil
	}
	first, err := findByID[opDoc](ctx, s.ops, []string{opDocID(j.ID, 0)})
	if err != nil {
		return nil, err
	}
	if first[0] == nil || len(first[0].Ops) == 0 {
		return j, nil
	}
	c := *j
	c.OpsPerDoc = int64(len(first[0].Ops))
	return &c, nil
}

// operationDocIDs returns the `_id`s of every operations document of j, as
// they are stored (layout).
func (s *Store) operationDocIDs(ctx context.Context, j *Job) ([]string, error) {
	j, err := s.layout(ctx, j)
	if err != nil {
		return nil, err
	}
	if j.OpsPerDoc == 0 {
		return operationIDs(j.ID, 0, j.Total), nil
	}
	ids := make([]string, (j.Total+j.OpsPerDoc-1)/j.OpsPerDoc)
	for k := range ids {
		ids[k] = opDocID(j.ID, int64(k))
	}
	return ids, nil
}

// readOperations returns the operations of j at indexes (nil where none
// is stored: deleted meanwhile), reading each document once, by `_id`.
func (s *Store) readOperations(ctx context.Context, j *Job, indexes []int64) ([]*Operation, error) {
	j, err := s.layout(ctx, j)
	if err != nil {
		return nil, err
	}
	if j.OpsPerDoc == 0 {
		ids := make([]string, len(indexes))
		for i, idx := range indexes {
			ids[i] = OperationID(j.ID, idx)
		}
		return findByID[Operation](ctx, s.ops, ids)
	}
	var ids []string
	slot := map[int64]int{} // document number → position in ids
	for _, idx := range indexes {
		k := idx / j.OpsPerDoc
		if _, ok := slot[k]; !ok {
			slot[k] = len(ids)
			ids = append(ids, opDocID(j.ID, k))
		}
	}
	docs, err := findByID[opDoc](ctx, s.ops, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*Operation, len(indexes))
	for i, idx := range indexes {
		d := docs[slot[idx/j.OpsPerDoc]]
		if d == nil || idx < d.First || idx-d.First >= int64(len(d.Ops)) {
			continue
		}
		e := d.Ops[idx-d.First]
		out[i] = &Operation{ID: OperationID(j.ID, idx), JobID: j.ID, Index: idx, Type: e.Type, Request: e.Request,
			PartitionKey: d.PartitionKey, CreateTime: d.CreateTime}
	}
	return out, nil
}
