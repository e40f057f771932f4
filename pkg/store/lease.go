package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// leaseDoc is one term of a named lease (collection `leases`, `_id` =
// `{name}/{term}`). Terms are taken by inserting the next term's document:
// the unique `_id` makes exactly one contender win, without transactions and
// without a conditional update (FerretDB applies updates as
// read-modify-write, so two conditional updates could both succeed). Only
// the holder of a term ever updates that term's document (to renew it).
type leaseDoc struct {
	ID         string    `bson:"_id"`
	Name       string    `bson:"name"`
	Term       int64     `bson:"term"`
	Holder     string    `bson:"holder"`
	ExpireTime time.Time `bson:"expire_time"`
}

// Lease is one instance's view of a named lease. One goroutine calls Tick
// periodically (at most every TTL/3); any goroutine may call Held.
type Lease struct {
	mu     sync.Mutex // guards everything below store
	store  *Store
	name   string
	holder string
	ttl    time.Duration
	// term is the newest term seen; held reports whether we hold it.
	term int64
	held bool
	// validUntil is when our hold ends by our own clock: the renewal's
	// start plus TTL minus a safety margin.
	validUntil time.Time
	now        func() time.Time
}

// NewLease returns the lease name as seen by holder, with the given TTL.
func (s *Store) NewLease(name, holder string, ttl time.Duration) *Lease {
	return &Lease{store: s, name: name, holder: holder, ttl: ttl, now: time.Now}
}

// SetClock replaces the clock the lease measures its TTL with (for tests).
func (l *Lease) SetClock(now func() time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = now
}

func (l *Lease) docID(term int64) string { return l.name + "/" + strconv.FormatInt(term, 10) }

// Held reports whether this instance holds the lease now. A holder that
// could not renew in time stops holding it before anyone else can take it
// (the margin covers clock drift during one TTL).
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held && l.now().Before(l.validUntil)
}

// Term is the newest term this instance has seen.
func (l *Lease) Term() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.term
}

// Tick renews the lease if this instance holds it, or takes it if the
// current term has expired, and reports whether it is held afterwards.
func (l *Lease) Tick(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := l.now()
	cur, err := l.latest(ctx)
	if err != nil {
		l.held = false
		return false, err
	}
	expire := start.Add(l.ttl).UTC()
	switch {
	case cur != nil && cur.Holder == l.holder && cur.Term == l.term && start.Before(cur.ExpireTime):
		// Ours: renew (the only writer of this document).
		if err := l.store.locked(ctx, write{"update", l.store.leases.Name()}, func() error {
			_, err := l.store.leases.UpdateOne(ctx, byID(cur.ID), bson.D{{Key: "$set", Value: bson.D{{Key: "expire_time", Value: expire}}}})
			return err
		}); err != nil {
			l.held = false
			return false, fmt.Errorf("renew lease: %w", err)
		}
	case cur == nil || !start.Before(cur.ExpireTime):
		// Free or expired: try to take the next term.
		next := int64(1)
		if cur != nil {
			next = cur.Term + 1
		}
		doc := leaseDoc{ID: l.docID(next), Name: l.name, Term: next, Holder: l.holder, ExpireTime: expire}
		if err := l.store.locked(ctx, write{"insert", l.store.leases.Name()}, func() error { _, err := l.store.leases.InsertOne(ctx, doc); return err }); err != nil {
			l.held = false
			if mongo.IsDuplicateKeyError(err) {
				l.term = next // someone else took it
				return false, nil
			}
			return false, fmt.Errorf("take lease: %w", err)
		}
		l.term = next
	default:
		l.held = false
		return false, nil
	}
	l.held = true
	l.validUntil = start.Add(l.ttl - l.ttl/5)
	return true, nil
}

// Release gives the lease up at once (expires the term we hold), so that
// another instance takes over on its next tick rather than after the TTL.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = false
	if l.term == 0 {
		return nil
	}
	// Our view may be stale (a renewal cancelled midway): check the term
	// document names us; a term's document is only ever written by its
	// holder.
	var d leaseDoc
	err := l.store.leases.FindOne(ctx, byID(l.docID(l.term))).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) || (err == nil && d.Holder != l.holder) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	past := time.Unix(0, 0).UTC()
	if err := l.store.locked(ctx, write{"update", l.store.leases.Name()}, func() error {
		_, err := l.store.leases.UpdateOne(ctx, byID(d.ID), bson.D{{Key: "$set", Value: bson.D{{Key: "expire_time", Value: past}}}})
		return err
	}); err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}

// latest walks the terms from the newest one seen, by `_id`, and returns the
// newest term document (nil if the lease was never taken).
func (l *Lease) latest(ctx context.Context) (*leaseDoc, error) {
	var cur *leaseDoc
	for term := max(l.term, 1); ; term++ {
		var d leaseDoc
		err := l.store.leases.FindOne(ctx, byID(l.docID(term))).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			if cur == nil && term > 1 {
				// The term we knew is gone: the collection was reset.
				l.term = 0
				return l.latest(ctx)
			}
			return cur, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read lease: %w", err)
		}
		cur = &d
		l.term = max(l.term, d.Term)
	}
}
