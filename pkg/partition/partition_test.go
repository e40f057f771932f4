package partition_test

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/jobplane/jobplane/pkg/partition"
)

// TestJumpHashPublishedVectors checks JumpHash against values published by
// other implementations of the paper's algorithm.
func TestJumpHashPublishedVectors(t *testing.T) {
	t.Parallel()

	// github.com/dgryski/go-jump jump_test.go, "generated from the reference
	// C++ code": JumpHash(key, i+1) == buckets[i].
	dgryski := []struct {
		key     uint64
		buckets []int32
	}{
		{0, []int32{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{1, []int32{0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 17, 17}},
		{0xdeadbeef, []int32{0, 1, 2, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 16, 16, 16}},
		{0x0ddc0ffeebadf00d, []int32{0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 15, 15, 15, 15}},
	}
	for _, tt := range dgryski {
		for i, want := range tt.buckets {
			if got := partition.JumpHash(tt.key, int32(i+1)); got != want {
				t.Errorf("dgryski/go-jump: JumpHash(%#x, %d) = %d, want %d", tt.key, i+1, got, want)
			}
		}
	}

	tests := []struct {
		source  string
		key     uint64
		buckets int32
		want    int32
	}{
		// Guava HashingTest.testConsistentHash_linearCongruentialGeneratorCompatibility
		// ("golden values ... implementations across languages are equivalent").
		{"guava", 0, 100, 0},
		{"guava", 1, 100, 55},
		{"guava", 2, 100, 62},
		{"guava", 3, 100, 8},
		{"guava", 4, 100, 45},
		{"guava", 5, 100, 59},
		{"guava", 6, 100, 86},
		{"guava", 7, 100, 97},
		{"guava", 8, 100, 82},
		{"guava", 9, 100, 59},
		{"guava", 10, 100, 73},
		{"guava", 11, 100, 37},
		{"guava", 12, 100, 17},
		{"guava", 13, 100, 56},
		{"guava", 14, 100, 86},
		{"guava", 15, 100, 21},
		{"guava", 16, 100, 90},
		{"guava", 17, 100, 37},
		{"guava", 18, 100, 38},
		{"guava", 19, 100, 83},
		{"guava", 10863919174838991, 11, 6},
		{"guava", 2016238256797177309, 11, 3},
		{"guava", 1673758223894951030, 11, 5},
		{"guava", 2, 100001, 80343},
		{"guava", 2201, 100001, 22152},
		{"guava", 2202, 100001, 15018},

		// ClickHouse tests/queries/0_stateless/00580_consistent_hashing_functions
		// (.sql and .reference): jumpConsistentHash(key, buckets).
		{"clickhouse", 1, 1, 0},
		{"clickhouse", 42, 57, 43},
		{"clickhouse", 256, 1024, 520},
		{"clickhouse", 3735883980, 1, 0},
		{"clickhouse", 3735883980, 666, 361},
		{"clickhouse", 16045690984833335023, 255, 237},
	}
	for _, tt := range tests {
		if got := partition.JumpHash(tt.key, tt.buckets); got != tt.want {
			t.Errorf("%s: JumpHash(%d, %d) = %d, want %d", tt.source, tt.key, tt.buckets, got, tt.want)
		}
	}
}

func TestJumpHashRange(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, buckets := range []int32{1, 2, 3, 7, 60, 1000, math.MaxInt32} {
		for range 10000 {
			key := rng.Uint64()
			if got := partition.JumpHash(key, buckets); got < 0 || got >= buckets {
				t.Fatalf("JumpHash(%d, %d) = %d, out of range", key, buckets, got)
			}
		}
	}
	for _, key := range []uint64{0, 1, math.MaxUint64} {
		if got := partition.JumpHash(key, 1); got != 0 {
			t.Errorf("JumpHash(%d, 1) = %d, want 0", key, got)
		}
	}
}

func TestKeyHashIsFNV1a64(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  string
		want uint64
	}{
		// The golden values of Go's hash/fnv tests.
		{"", 0xcbf29ce484222325},
		{"a", 0xaf63dc4c8601ec8c},
		{"ab", 0x089c4407b545986a},
		{"abc", 0xe71fa2190541574b},
	}
	for _, tt := range tests {
		if got := partition.KeyHash([]byte(tt.key)); got != tt.want {
			t.Errorf("KeyHash(%q) = %#x, want %#x", tt.key, got, tt.want)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		key := make([]byte, rng.IntN(64))
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		h := fnv.New64a()
		h.Write(key)
		if got, want := partition.KeyHash(key), h.Sum64(); got != want {
			t.Fatalf("KeyHash(%x) = %#x, hash/fnv says %#x", key, got, want)
		}
	}
}

// TestPartitionGolden pins the key → partition mapping (computed once with
// this implementation, whose parts are checked against published vectors
// above). Every producer shares it, so a change here moves live keys between
// partitions: treat a failure as a wire-format break.
func TestPartitionGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  string
		n    int
		want int
	}{
		{"a", 1, 0},
		{"a", 7, 2},
		{"a", 60, 31},
		{"abc", 7, 5},
		{"abc", 60, 5},
		{"abc", 128, 109},
		{"job-00000001", 7, 3},
		{"job-00000001", 60, 48},
		{"job-00000001", 61, 48},
		{"job-00000001", 128, 81},
		{"0190c5c8-3f2e-7a55-9a6c-5d1c2b7e4f10", 60, 53},
		{"0190c5c8-3f2e-7a55-9a6c-5d1c2b7e4f10", 128, 79},
	}
	for _, tt := range tests {
		if got := partition.Partition([]byte(tt.key), tt.n); got != tt.want {
			t.Errorf("Partition(%q, %d) = %d, want %d", tt.key, tt.n, got, tt.want)
		}
	}
}

// TestMinimalMovement checks the consistency property: growing from n to n+1
// buckets moves about 1/(n+1) of the keys, all of them to the new bucket.
func TestMinimalMovement(t *testing.T) {
	t.Parallel()
	const keys = 100000
	rng := rand.New(rand.NewPCG(5, 6))
	hashes := make([]uint64, keys)
	for i := range hashes {
		hashes[i] = rng.Uint64()
	}
	for n := int32(1); n <= 128; n++ {
		moved := 0
		for _, h := range hashes {
			before, after := partition.JumpHash(h, n), partition.JumpHash(h, n+1)
			if before == after {
				continue
			}
			if after != n {
				t.Fatalf("n=%d→%d: key %d moved from %d to %d, not to the new bucket", n, n+1, h, before, after)
			}
			moved++
		}
		p := 1 / float64(n+1)
		want := keys * p
		sigma := math.Sqrt(keys * p * (1 - p))
		// With fixed inputs the test is deterministic; 6 sigma leaves room
		// for any sound implementation.
		if math.Abs(float64(moved)-want) > 6*sigma {
			t.Errorf("n=%d→%d: %d keys moved, want about %.0f (±%.0f)", n, n+1, moved, want, 6*sigma)
		}
	}
}

// TestUniformity checks that realistic keys spread evenly over 60 partitions.
func TestUniformity(t *testing.T) {
	t.Parallel()
	const (
		n      = 60
		perKey = 10000
		keys   = n * perKey
	)
	counts := make([]int, n)
	buf := make([]byte, 0, 64)
	for i := range keys {
		buf = fmt.Appendf(buf[:0], "job-%08d", i)
		counts[partition.Partition(buf, n)]++
	}
	chi2 := 0.0
	for p, c := range counts {
		d := float64(c - perKey)
		chi2 += d * d / perKey
		if math.Abs(d) > 0.05*perKey {
			t.Errorf("partition %d got %d keys, want %d ±5%%", p, c, perKey)
		}
	}
	// 59 degrees of freedom: mean 59, standard deviation √118 ≈ 10.9; the
	// 99.9th percentile is about 98.
	if chi2 > 98 {
		t.Errorf("chi-square = %.1f over %d partitions, want ≤ 98 (counts %v)", chi2, n, counts)
	}
}

func TestPartitionPanicsOnBadCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    func()
	}{
		{"JumpHash 0 buckets", func() { partition.JumpHash(1, 0) }},
		{"JumpHash negative buckets", func() { partition.JumpHash(1, -1) }},
		{"Partition 0", func() { partition.Partition([]byte("k"), 0) }},
		{"Partition above MaxInt32", func() { partition.Partition([]byte("k"), math.MaxInt32+1) }},
		{"Balance no partitions", func() { new(partition.Balancer).Balance(kafka.Message{Key: []byte("k")}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.f()
		})
	}
}

var _ kafka.Balancer = (*partition.Balancer)(nil)

func contiguous(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

func TestBalanceMatchesPartition(t *testing.T) {
	t.Parallel()
	var b partition.Balancer
	for _, n := range []int{1, 2, 3, 60, 300} {
		parts := contiguous(n)
		for i := range 1000 {
			key := fmt.Appendf(nil, "key-%d", i)
			if got, want := b.Balance(kafka.Message{Key: key}, parts...), partition.Partition(key, n); got != want {
				t.Fatalf("Balance(%q, 0..%d) = %d, want Partition = %d", key, n-1, got, want)
			}
		}
	}
}

// TestBalanceRouteHeader: a route header, not the key, picks the partition,
// so that messages with different keys (a small job's operations) share one.
func TestBalanceRouteHeader(t *testing.T) {
	t.Parallel()
	var b partition.Balancer
	parts := contiguous(60)
	route := []byte("019a2f4e-job")
	want := partition.Partition(route, 60)
	seen := map[int]bool{}
	for i := range 200 {
		key := fmt.Appendf(nil, "019a2f4e-job-%d", i)
		m := kafka.Message{Key: key, Headers: []kafka.Header{{Key: "other", Value: []byte("x")}, {Key: partition.RouteHeader, Value: route}}}
		if got := b.Balance(m, parts...); got != want {
			t.Fatalf("Balance(key %q, route %q) = %d, want Partition(route) = %d", key, route, got, want)
		}
		seen[b.Balance(kafka.Message{Key: key}, parts...)] = true
	}
	if len(seen) < 30 {
		t.Fatalf("without the route the keys used %d partitions of 60, want them spread", len(seen))
	}
	// An empty route is no route: the key decides.
	key := []byte("019a2f4e-job-7")
	m := kafka.Message{Key: key, Headers: []kafka.Header{{Key: partition.RouteHeader}}}
	if got, want := b.Balance(m, parts...), partition.Partition(key, 60); got != want {
		t.Fatalf("empty route: Balance = %d, want Partition(key) = %d", got, want)
	}
}

// TestBalanceShuffled checks that the choice depends on the set of
// partitions only, whatever the order kafka-go (or anyone) passes them in.
func TestBalanceShuffled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		parts []int
	}{
		{"contiguous 60", contiguous(60)},
		{"contiguous 300 (heap sort path)", contiguous(300)},
		{"sparse IDs", []int{3, 7, 9, 20, 21, 40}},
		{"single", []int{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b partition.Balancer
			rng := rand.New(rand.NewPCG(7, 8))
			sorted := slices.Sorted(slices.Values(tt.parts))
			for i := range 500 {
				key := fmt.Appendf(nil, "job-%d", i)
				want := sorted[partition.Partition(key, len(sorted))]
				shuffled := slices.Clone(tt.parts)
				rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				before := slices.Clone(shuffled)
				if got := b.Balance(kafka.Message{Key: key}, shuffled...); got != want {
					t.Fatalf("Balance(%q, %v) = %d, want %d", key, shuffled, got, want)
				}
				if !slices.Equal(before, shuffled) {
					t.Fatal("Balance modified the partitions slice")
				}
			}
		})
	}
}

func TestBalanceEmptyKeyRoundRobin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  []byte
	}{
		{"nil key", nil},
		{"empty key", []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b partition.Balancer
			parts := []int{4, 1, 9, 2}
			counts := map[int]int{}
			for range 4 * 25 {
				counts[b.Balance(kafka.Message{Key: tt.key}, parts...)]++
			}
			for _, p := range parts {
				if counts[p] != 25 {
					t.Errorf("partition %d got %d messages, want 25 (counts %v)", p, counts[p], counts)
				}
			}
		})
	}
}

func TestBalanceConcurrent(t *testing.T) {
	t.Parallel()
	var b partition.Balancer
	parts := contiguous(60)
	const workers, each = 8, 600
	counts := make([][]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		counts[w] = make([]int, len(parts))
		wg.Go(func() {
			for i := range each {
				var key []byte
				if i%2 == 0 {
					key = fmt.Appendf(nil, "job-%d", i)
					if got, want := b.Balance(kafka.Message{Key: key}, parts...), partition.Partition(key, len(parts)); got != want {
						t.Errorf("concurrent Balance(%q) = %d, want %d", key, got, want)
						return
					}
					continue
				}
				counts[w][b.Balance(kafka.Message{}, parts...)]++
			}
		})
	}
	wg.Wait()
	// The empty-key messages, taken together, are spread exactly evenly.
	for p := range parts {
		total := 0
		for w := range workers {
			total += counts[w][p]
		}
		if want := workers * each / 2 / len(parts); total != want {
			t.Errorf("partition %d got %d empty-key messages, want %d", p, total, want)
		}
	}
}

func TestBalanceDoesNotAllocate(t *testing.T) {
	var b partition.Balancer
	sorted := contiguous(60)
	shuffled := slices.Clone(sorted)
	rand.New(rand.NewPCG(9, 10)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	keyed := kafka.Message{Key: []byte("0190c5c8-3f2e-7a55-9a6c-5d1c2b7e4f10")}
	tests := []struct {
		name  string
		msg   kafka.Message
		parts []int
	}{
		{"sorted", keyed, sorted},
		{"shuffled", keyed, shuffled},
		{"empty key", kafka.Message{}, sorted},
	}
	for _, tt := range tests {
		if allocs := testing.AllocsPerRun(100, func() { b.Balance(tt.msg, tt.parts...) }); allocs != 0 {
			t.Errorf("%s: Balance allocates %.1f times per call, want 0", tt.name, allocs)
		}
	}
}

func BenchmarkJumpHash(b *testing.B) {
	for _, buckets := range []int32{60, 1024} {
		b.Run(fmt.Sprint(buckets), func(b *testing.B) {
			b.ReportAllocs()
			var key uint64
			for b.Loop() {
				key++
				partition.JumpHash(key*0x9e3779b97f4a7c15, buckets)
			}
		})
	}
}

func BenchmarkKeyHash(b *testing.B) {
	b.ReportAllocs()
	key := []byte("0190c5c8-3f2e-7a55-9a6c-5d1c2b7e4f10")
	for b.Loop() {
		partition.KeyHash(key)
	}
}

func BenchmarkBalance(b *testing.B) {
	sorted := contiguous(60)
	shuffled := slices.Clone(sorted)
	rand.New(rand.NewPCG(11, 12)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	keyed := kafka.Message{Key: []byte("0190c5c8-3f2e-7a55-9a6c-5d1c2b7e4f10")}
	benchmarks := []struct {
		name  string
		msg   kafka.Message
		parts []int
	}{
		{"sorted-60", keyed, sorted},
		{"shuffled-60", keyed, shuffled},
		{"empty-key-60", kafka.Message{}, sorted},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			var bal partition.Balancer
			for b.Loop() {
				bal.Balance(bm.msg, bm.parts...)
			}
		})
	}
}
