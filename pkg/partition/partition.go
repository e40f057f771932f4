// Package partition maps message keys to Kafka partitions with Jump
// Consistent Hash (Lamping & Veach 2014, "A Fast, Minimal Memory, Consistent
// Hash Algorithm", arXiv:1406.2294).
//
// Jump hash needs no state and, when the number of buckets grows from n to
// n+1, moves only about 1/(n+1) of the keys, all of them to the new bucket.
// Kafka partitions can only be added, with the next IDs, which is exactly the
// change jump hash handles well: adding partitions to a topic keeps most keys
// (and so most jobs' ordering) on the partition they were on.
//
// Keys are turned into the 64-bit input of jump hash with FNV-1a 64 (the
// algorithm of hash/fnv's New64a, computed inline so it does not allocate).
// The mapping key → partition is part of the wire contract between producers:
// changing KeyHash or JumpHash moves keys between partitions.
package partition

import (
	"math"
	"slices"
	"sync/atomic"

	"github.com/segmentio/kafka-go"
)

// JumpHash maps a 64-bit key to a bucket in [0, buckets).
//
// It is the reference implementation from the paper, so its results match
// other implementations of jump hash (Guava's Hashing.consistentHash,
// ClickHouse's jumpConsistentHash, github.com/dgryski/go-jump). It panics if
// buckets < 1, for which there is no valid bucket.
func JumpHash(key uint64, buckets int32) int32 {
	if buckets < 1 {
		panic("partition: JumpHash with buckets < 1")
	}
	b, j := int64(-1), int64(0)
	for j < int64(buckets) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int32(b) // #nosec G115 -- b < buckets, an int32
}

// FNV-1a 64 parameters (the same as hash/fnv).
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// KeyHash turns a message key into the 64-bit input of JumpHash: the FNV-1a
// 64 hash of the key, identical to hash/fnv.New64a's Sum64.
func KeyHash(key []byte) uint64 {
	h := uint64(fnvOffset64)
	for _, c := range key {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	return h
}

// Partition returns the partition for key out of n partitions, a number in
// [0, n). It panics if n < 1 or n > math.MaxInt32 (Kafka partition IDs are
// int32).
func Partition(key []byte, n int) int {
	if n < 1 || n > math.MaxInt32 {
		panic("partition: Partition with n out of [1, MaxInt32]")
	}
	return int(JumpHash(KeyHash(key), int32(n)))
}

// sortBufferSize is the largest partition list that Balance sorts on the
// stack when it is not given in increasing order.
const sortBufferSize = 256

// Balancer implements kafka.Balancer with Partition. The zero value is ready
// to use; a Balancer must not be copied after first use. It is safe for
// concurrent use.
//
// A message with a key goes to the partition Partition(key, len(partitions))
// picks, counted in increasing order of partition ID: the i-th smallest ID of
// the partitions offered. The choice therefore depends only on the set of
// partitions, not on the order of the list. kafka-go's Writer always offers
// the complete, sorted list 0..n-1 (see loadCachedPartitions in its
// writer.go), for which the i-th smallest ID is i and Balance costs one
// hash, one jump hash and one pass to check the order, without allocating.
// Other orders are sorted in a copy (on the stack for up to 256 partitions).
//
// A message with a non-empty RouteHeader header goes to the partition of the
// header's value instead of its key's: the key still names the message (and what the
// consumer keeps in order), the route only picks where it goes. jobplane
// routes the operations of a small job to one partition this way, so that
// their results come back together.
//
// A message with an empty key (nil or zero-length) and no route has nothing
// to keep in order, so it is spread round-robin over the partitions instead,
// like kafka-go's Hash balancer does for nil keys.
//
// Balance panics if partitions is empty; kafka-go never calls it so.
type Balancer struct {
	next atomic.Uint64 // round-robin counter for empty keys
}

var _ kafka.Balancer = (*Balancer)(nil)

// Balance returns the partition for msg out of partitions.
func (b *Balancer) Balance(msg kafka.Message, partitions ...int) int {
	n := len(partitions)
	if n == 0 {
		panic("partition: Balance with no partitions")
	}
	key := msg.Key
	for _, h := range msg.Headers {
		if h.Key == RouteHeader && len(h.Value) > 0 {
			key = h.Value
			break
		}
	}
	if len(key) == 0 {
		return partitions[(b.next.Add(1)-1)%uint64(n)]
	}
	return nth(partitions, Partition(key, n))
}

// RouteHeader is the Kafka header whose value, when present, Balancer
// hashes instead of the message key.
const RouteHeader = "jobplane-route"

// nth returns the i-th smallest element of partitions.
func nth(partitions []int, i int) int {
	if slices.IsSorted(partitions) {
		return partitions[i]
	}
	return nthUnsorted(partitions, i)
}

// nthUnsorted is nth for a list that needs sorting. Its sort buffer (2 KiB)
// is in a frame of its own: in nth's frame it made every caller's goroutine
// grow its stack even for the sorted lists kafka-go hands over.
//
//go:noinline
func nthUnsorted(partitions []int, i int) int {
	var buf [sortBufferSize]int
	var sorted []int
	if len(partitions) <= len(buf) {
		sorted = append(buf[:0], partitions...)
	} else {
		sorted = slices.Clone(partitions)
	}
	slices.Sort(sorted)
	return sorted[i]
}
