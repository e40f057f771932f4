package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/segmentio/kafka-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// TestChaos is the chaos suite (`make chaos` runs it with 20,000 operations;
// `make test` with CHAOS_OPERATIONS unset runs a shortened 3,000). The
// infrastructure runs as `devstack --clients 0 --servers 0`; the test runs 2
// client and 2 server processes itself and submits jobs over gRPC while, in
// turn, it SIGKILLs a server, SIGKILLs a client, SIGTERMs a server and
// restarts the devstack process (FerretDB and kfake, same data dir). Then it
// checks the invariant over MongoDB and the API: every accepted operation is
// terminal exactly once with the right result, every job's counts equal its
// operations' states, and every job is terminal within 30 s of the last
// recovery.
func TestChaos(t *testing.T) {
	total := 3000
	if v := os.Getenv("CHAOS_OPERATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			t.Fatalf("CHAOS_OPERATIONS=%q: want a number >= 100", v)
		}
		total = n
	}
	const opsPerJob = 10
	jobs := total / opsPerJob

	infra := startStack(t, 0, 0)
	c := &chaos{t: t, infra: infra}
	for i := range 2 {
		c.clients = append(c.clients, c.service(t, fmt.Sprintf("client-%d", i), "client", freeRange(t, 2)))
	}
	for i := range 2 {
		c.servers = append(c.servers, c.service(t, fmt.Sprintf("server-%d", i), "server", freeRange(t, 1)))
	}
	for _, p := range append(append([]*proc{}, c.clients...), c.servers...) {
		p.start(t)
	}
	for _, p := range append(append([]*proc{}, c.clients...), c.servers...) {
		p.awaitReady(t, time.Minute)
	}

	// Faults, each when a share of the jobs has been accepted.
	type fault struct {
		at   float64
		name string
		do   func()
	}
	faults := []fault{
		{0.15, "SIGKILL server-0", func() { c.servers[0].restart(t, syscall.SIGKILL) }},
		{0.35, "SIGKILL client-0", func() { c.clients[0].restart(t, syscall.SIGKILL) }},
		{0.55, "SIGTERM server-1", func() { c.servers[1].restart(t, syscall.SIGTERM) }},
		{0.75, "restart devstack (FerretDB, kfake)", func() { infra.stop(); infra.start() }},
	}
	var accepted atomic.Int64
	var lastRecovery atomic.Int64 // unix nanos
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		for _, f := range faults {
			for float64(accepted.Load()) < f.at*float64(jobs) {
				select {
				case <-t.Context().Done():
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
			start := time.Now()
			f.do()
			for _, p := range append(append([]*proc{}, c.clients...), c.servers...) {
				p.awaitReady(t, 2*time.Minute)
			}
			lastRecovery.Store(time.Now().UnixNano())
			t.Logf("fault %q at %d/%d jobs accepted: recovered in %s", f.name, accepted.Load(), jobs, time.Since(start).Round(time.Millisecond))
		}
	}()

	// Submitters: each job has a request_id, and a failed call is retried
	// (on the other client too) until it is acknowledged.
	type acceptedJob struct {
		id   string
		want []string // expected result of each operation
	}
	var (
		mu         sync.Mutex
		acked      = make(map[string]acceptedJob, jobs)
		retries    atomic.Int64
		next       atomic.Int64
		submitWG   sync.WaitGroup
		submitErrs = make(chan error, 16)
	)
	conns := make([]jobsv1.JobServiceClient, len(c.clients))
	for i, p := range c.clients {
		conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", p.port), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conns[i] = jobsv1.NewJobServiceClient(conn)
	}
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token)
	start := time.Now()
	for w := range 8 {
		submitWG.Add(1)
		go func() {
			defer submitWG.Done()
			for {
				n := next.Add(1) - 1
				if n >= int64(jobs) {
					return
				}
				req := &jobsv1.CreateJobRequest{RequestId: fmt.Sprintf("chaos-%d", n)}
				want := make([]string, opsPerJob)
				for k := range opsPerJob {
					a, b := n, int64(k)
					req.Operations = append(req.Operations, &jobsv1.OperationInput{Request: fmt.Sprintf("%d * 3 + %d", a, b)})
					want[k] = strconv.FormatInt(a*3+b, 10)
				}
				deadline := time.Now().Add(3 * time.Minute)
				for try := 0; ; try++ {
					cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
					resp, err := conns[(int(n)+w+try)%len(conns)].CreateJob(cctx, req)
					cancel()
					if err == nil {
						mu.Lock()
						acked[resp.GetJob().GetId()] = acceptedJob{id: resp.GetJob().GetId(), want: want}
						mu.Unlock()
						accepted.Add(1)
						break
					}
					retries.Add(1)
					if time.Now().After(deadline) || t.Context().Err() != nil {
						submitErrs <- fmt.Errorf("job %d never accepted: %w", n, err)
						return
					}
					select {
					case <-t.Context().Done():
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		}()
	}
	submitWG.Wait()
	close(submitErrs)
	for err := range submitErrs {
		t.Fatal(err)
	}
	submitted := time.Now()
	<-faultsDone
	if t.Failed() {
		return
	}
	t.Logf("accepted %d jobs (%d operations) in %s with %d retried calls", len(acked), len(acked)*opsPerJob, submitted.Sub(start).Round(time.Millisecond), retries.Load())

	// Every accepted job terminal, through the API.
	recovered := time.Unix(0, lastRecovery.Load())
	ref := recovered
	if submitted.After(ref) {
		ref = submitted
	}
	deadline := ref.Add(30 * time.Second)
	var lastTerminal time.Time
	pending := make([]string, 0, len(acked))
	for id := range acked {
		pending = append(pending, id)
	}
	for len(pending) > 0 {
		still := pending[:0]
		for _, id := range pending {
			resp, err := conns[0].GetJob(ctx, &jobsv1.GetJobRequest{Id: id})
			if err != nil || !terminal(resp.GetJob().GetState().String()) {
				still = append(still, id)
			}
		}
		pending = still
		if len(pending) == 0 {
			lastTerminal = time.Now()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d accepted jobs not terminal 30s after the last recovery/submission (e.g. %s)", len(pending), pending[0])
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(200 * time.Millisecond):
		}
	}

	// The invariant, over MongoDB.
	rep := c.check(t, acked2want(acked, func(a acceptedJob) []string { return a.want }))
	rep.submittedOps = len(acked) * opsPerJob
	rep.retriedCalls = retries.Load()
	rep.terminalAfter = lastTerminal.Sub(ref)
	for _, p := range c.clients {
		out := p.out.String()
		rep.redispatched += strings.Count(out, `msg="job re-dispatched"`)
		rep.reconciled += strings.Count(out, `msg="job counters reconciled"`)
	}
	t.Logf("chaos report: submitted %d operations in %d jobs (%d submission calls retried); "+
		"completed %d (succeeded %d, failed %d, cancelled %d), each exactly once; "+
		"request messages %d (%d re-published by the relay); result messages %d (%d redelivered duplicates dropped by the applier); "+
		"relay: %d jobs re-dispatched, %d reconciled; "+
		"all jobs terminal %s after the last recovery or submission",
		rep.submittedOps, len(acked), rep.retriedCalls, rep.completed, rep.succeeded, rep.failed, rep.cancelled,
		rep.requestMsgs, rep.requestMsgs-int64(rep.submittedOps), rep.resultMsgs, rep.resultMsgs-int64(rep.completed),
		rep.redispatched, rep.reconciled, rep.terminalAfter.Round(time.Millisecond))
}

func acked2want[T any](m map[string]T, f func(T) []string) map[string][]string {
	out := make(map[string][]string, len(m))
	for id, v := range m {
		out[id] = f(v)
	}
	return out
}

type chaosReport struct {
	submittedOps                            int
	completed, succeeded, failed, cancelled int
	requestMsgs, resultMsgs                 int64
	retriedCalls                            int64
	redispatched, reconciled                int
	terminalAfter                           time.Duration
}

// check verifies the invariant over MongoDB for the accepted jobs (id →
// expected result per operation) and counts the Kafka messages.
func (c *chaos) check(t *testing.T, want map[string][]string) chaosReport {
	t.Helper()
	ctx := t.Context()
	client, err := mongo.Connect(options.Client().ApplyURI(fmt.Sprintf("mongodb://127.0.0.1:%d/", c.infra.mongoPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	db := client.Database("jobplane")

	type jobDoc struct {
		ID        string `bson:"_id"`
		Total     int    `bson:"total"`
		Succeeded int    `bson:"succeeded"`
		Failed    int    `bson:"failed"`
		Cancelled int    `bson:"cancelled"`
	}
	type resultDoc struct {
		ID     string `bson:"_id"`
		JobID  string `bson:"job_id"`
		State  string `bson:"state"`
		Result string `bson:"result"`
		Error  string `bson:"error"`
		// A job's own document (`_id` = job id): every outcome of a job
		// applied at once, by operation index, or the marker of a job
		// whose outcomes are stored per operation (store/outcomes.go).
		PerOperation bool `bson:"per_operation"`
		Outcomes     []struct {
			State  string `bson:"s"`
			Result string `bson:"r"`
			Error  string `bson:"e"`
		} `bson:"outcomes"`
	}
	all := func(coll string, out any) {
		cur, err := db.Collection(coll).Find(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		if err := cur.All(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	// A finished job leaves jobs_active in its client's next retirement
	// batch (100 ms), or, when a kill or the engines' restart lost that, at
	// the relay's next scan once retireGrace has passed: wait for that.
	var finished, active []jobDoc
	for deadline := time.Now().Add(30 * time.Second); ; {
		active = nil
		all("jobs_active", &active)
		if !slices.ContainsFunc(active, func(j jobDoc) bool { _, ok := want[j.ID]; return ok }) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	all("jobs", &finished)
	var results []resultDoc
	all("results", &results)

	jobsByID := map[string]jobDoc{}
	for _, j := range finished {
		jobsByID[j.ID] = j
	}
	for _, j := range active {
		if _, ok := want[j.ID]; ok {
			t.Errorf("accepted job %s still in jobs_active: %+v", j.ID, j)
		}
	}
	byJob := map[string]map[string]resultDoc{}
	add := func(jobID string, r resultDoc) {
		if byJob[jobID] == nil {
			byJob[jobID] = map[string]resultDoc{}
		}
		if _, dup := byJob[jobID][r.ID]; dup {
			t.Errorf("operation %s has two outcomes (whole and per operation)", r.ID)
		}
		byJob[jobID][r.ID] = r
	}
	wholeJobs, markedJobs := map[string]bool{}, map[string]bool{}
	for _, r := range results {
		switch {
		case r.PerOperation:
			markedJobs[r.ID] = true
		case len(r.Outcomes) > 0:
			wholeJobs[r.ID] = true
			for k, o := range r.Outcomes {
				add(r.ID, resultDoc{ID: fmt.Sprintf("%s-%d", r.ID, k), JobID: r.ID, State: o.State, Result: o.Result, Error: o.Error})
			}
		default:
			add(r.JobID, r)
		}
	}
	for id := range wholeJobs {
		if markedJobs[id] {
			t.Errorf("job %s has whole outcomes and a per-operation marker", id)
		}
	}
	t.Logf("%d accepted jobs' outcomes stored whole, %d per operation", len(wholeJobs), len(want)-len(wholeJobs))
	var rep chaosReport
	for id, wantResults := range want {
		j, ok := jobsByID[id]
		if !ok {
			t.Errorf("accepted job %s is not among the finished jobs", id)
			continue
		}
		rs := byJob[id]
		counts := map[string]int{}
		for k, w := range wantResults {
			r, ok := rs[fmt.Sprintf("%s-%d", id, k)]
			if !ok {
				t.Errorf("operation %s-%d has no outcome", id, k)
				continue
			}
			counts[r.State]++
			if r.State == "succeeded" && r.Result != w {
				t.Errorf("operation %s-%d = %q, want %q", id, k, r.Result, w)
			}
			if r.State != "succeeded" {
				t.Logf("operation %s-%d ended %s: %s", id, k, r.State, r.Error)
			}
		}
		if len(rs) != len(wantResults) {
			t.Errorf("job %s has %d outcomes for %d operations", id, len(rs), len(wantResults))
		}
		if j.Total != len(wantResults) || j.Succeeded != counts["succeeded"] || j.Failed != counts["failed"] || j.Cancelled != counts["cancelled"] {
			t.Errorf("job %s counters %+v disagree with its operations %v", id, j, counts)
		}
		rep.completed += counts["succeeded"] + counts["failed"] + counts["cancelled"]
		rep.succeeded += counts["succeeded"]
		rep.failed += counts["failed"]
		rep.cancelled += counts["cancelled"]
	}
	if n, err := db.Collection("outbox").CountDocuments(ctx, bson.D{}); err != nil || n != 0 {
		// Entries of unacknowledged creates may linger until the relay's
		// next pass; acknowledged ones are all published by now.
		t.Logf("outbox entries left: %d %v", n, err)
	}
	rep.requestMsgs = c.messages(t, queue.RequestTopic)
	rep.resultMsgs = c.messages(t, queue.ResponseTopic)

	// The API agrees with MongoDB for a sample of jobs.
	n := 0
	for id := range want {
		if n++; n > 20 {
			break
		}
		j := c.infraGetJob(t, id)
		if !terminal(j.GetState().String()) || int(j.GetOperationCounts().GetSucceeded()) != jobsByID[id].Succeeded {
			t.Errorf("API job %s = %v, MongoDB %+v", id, j, jobsByID[id])
		}
	}
	return rep
}

// messages counts the messages in a topic (sum of partition end offsets).
func (c *chaos) messages(t *testing.T, topic string) int64 {
	t.Helper()
	kc := &kafka.Client{Addr: kafka.TCP(strings.Split(c.infra.brokers(), ",")...), Timeout: 10 * time.Second}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := range 60 {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	resp, err := kc.ListOffsets(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			t.Fatalf("offsets of %s/%d: %v", topic, po.Partition, po.Error)
		}
		n += po.LastOffset
	}
	return n
}

func (c *chaos) infraGetJob(t *testing.T, id string) *jobsv1.Job {
	t.Helper()
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", c.clients[1].port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token)
	resp, err := jobsv1.NewJobServiceClient(conn).GetJob(ctx, &jobsv1.GetJobRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetJob()
}

// chaos holds the processes of the chaos suite.
type chaos struct {
	t       *testing.T
	infra   *stack
	clients []*proc
	servers []*proc
}

// proc is a client or server process the test starts, kills and restarts.
type proc struct {
	name  string
	bin   string
	env   []string
	port  int    // gRPC port of a client
	ready string // readiness URL
	out   *syncBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// service describes a client (gRPC on port, REST on port+1) or a server
// (admin on port) wired to the infrastructure, with short relay and group
// timings.
func (c *chaos) service(t *testing.T, name, kind string, port int) *proc {
	env := []string{
		"NODE_ID=" + name,
		fmt.Sprintf("MONGODB_URI=mongodb://127.0.0.1:%d/", c.infra.mongoPort),
		"KAFKA_BROKERS=" + c.infra.brokers(),
		"AUTH_TOKENS=" + token,
		"LOG_FORMAT=text",
		"LOG_LEVEL=warn",
		"KAFKA_HEARTBEAT_INTERVAL=300ms",
		"KAFKA_SESSION_TIMEOUT=3s",
		"KAFKA_REBALANCE_TIMEOUT=3s",
		"KAFKA_JOIN_GROUP_BACKOFF=200ms",
		"KAFKA_FETCH_MAX_WAIT=100ms",
		"SHUTDOWN_TIMEOUT=10s",
		"RELAY_INTERVAL=500ms",
		"RELAY_LEASE_TTL=3s",
		"RELAY_OUTBOX_DELAY=3s",
		"RELAY_RESULT_TIMEOUT=8s",
		"RELAY_MAX_ATTEMPTS=20",
	}
	p := &proc{name: name, bin: filepath.Join(binDir, kind), out: &syncBuffer{}, port: port}
	if kind == "client" {
		p.env = append(env, fmt.Sprintf("GRPC_ADDR=127.0.0.1:%d", port), fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", port+1))
		p.ready = fmt.Sprintf("http://127.0.0.1:%d/readyz", port+1)
	} else {
		p.env = append(env, fmt.Sprintf("ADMIN_ADDR=127.0.0.1:%d", port))
		p.ready = fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	}
	t.Cleanup(func() {
		p.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("%s output:\n%s", p.name, tail(p.out.String(), 60))
		}
	})
	return p
}

// start starts the process; safe to call from any goroutine.
func (p *proc) start(t *testing.T) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(p.bin)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Errorf("start %s: %v", p.name, err)
		return
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
}

// stop signals the process and waits for it to exit (SIGKILL after 30s).
func (p *proc) stop(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// restart stops the process with sig and starts it again.
func (p *proc) restart(t *testing.T, sig syscall.Signal) {
	p.stop(sig)
	fmt.Fprintf(p.out, "--- chaos: %s after %s ---\n", p.name, sig)
	p.start(t)
}

// awaitReady polls the readiness endpoint.
func (p *proc) awaitReady(t *testing.T, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get(p.ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("%s not ready after %s: %v", p.name, timeout, errors.Join(err))
			return
		}
		select {
		case <-t.Context().Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
