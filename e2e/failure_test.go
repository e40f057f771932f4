package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/jobplane/jobplane/pkg/partition"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/segmentio/kafka-go"
)

// TestWithoutServers uses a stack that runs no server, so operations stay
// pending until the test acts on them.
func TestWithoutServers(t *testing.T) {
	s := startStack(t, 1, 0)

	t.Run("cancel then delete", func(t *testing.T) {
		job := s.createText(t, "1\n2\n3\n4\n5\n")
		r := s.do(t, "POST", "/v1/jobs/"+job.ID+":cancel", "", nil)
		var out struct {
			Job restJob `json:"job"`
		}
		r.json(t, &out)
		if r.status != 200 || out.Job.State != "JOB_STATE_CANCELLED" || out.Job.OperationCounts.Cancelled != 5 {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
		for _, op := range s.operations(t, job.ID) {
			if op.State != "OPERATION_STATE_CANCELLED" {
				t.Fatalf("operation %+v", op)
			}
		}
		r = s.do(t, "POST", "/v1/jobs/"+job.ID+":cancel", "", nil)
		r.json(t, &out)
		if r.status != 200 || out.Job.OperationCounts.Cancelled != 5 {
			t.Fatalf("second cancel: %d %s", r.status, r.body)
		}
		if r := s.do(t, "DELETE", "/v1/jobs/"+job.ID, "", nil); r.status != 200 {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		for _, path := range []string{"/v1/jobs/" + job.ID, "/v1/jobs/" + job.ID + "/operations", "/v1/jobs/" + job.ID + "/operations/" + job.ID + "-0"} {
			if r := s.do(t, "GET", path, "", nil); r.status != http.StatusNotFound {
				t.Fatalf("GET %s after delete: %d %s", path, r.status, r.body)
			}
		}
		if r := s.do(t, "DELETE", "/v1/jobs/"+job.ID, "", nil); r.status != http.StatusNotFound {
			t.Fatalf("second delete: %d", r.status)
		}
	})

	t.Run("duplicate, conflicting and garbage results are applied once", func(t *testing.T) {
		job := s.createText(t, "1\n2\n3\n")
		op := func(i int) string { return fmt.Sprintf("%s-%d", job.ID, i) }
		res := func(i int, state queuev1.ResultState, value string) kafka.Message {
			m, err := queue.EncodeResult(queue.ResponseTopic, []byte(job.ID), &queuev1.OperationResult{
				JobId: job.ID, OperationId: op(i), State: state, Result: value, WorkerNode: "test",
			})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		garbage := kafka.Message{Topic: queue.ResponseTopic, Key: []byte(job.ID), Value: []byte("not a protobuf"),
			Headers: []kafka.Header{{Key: queue.SchemaHeader, Value: []byte(queue.ResultSchema)}}}
		w := queue.NewWriter(queue.WriterConfig{Brokers: strings.Split(s.brokers(), ",")})
		defer w.Close()
		// One message per call keeps them in this order in the partition.
		for _, m := range []kafka.Message{
			res(0, queuev1.ResultState_RESULT_STATE_SUCCEEDED, "1"),
			res(0, queuev1.ResultState_RESULT_STATE_SUCCEEDED, "1"),
			res(0, queuev1.ResultState_RESULT_STATE_FAILED, "conflicting"),
			garbage,
			res(1, queuev1.ResultState_RESULT_STATE_SUCCEEDED, "2"),
			res(1, queuev1.ResultState_RESULT_STATE_SUCCEEDED, "2"),
			res(2, queuev1.ResultState_RESULT_STATE_SUCCEEDED, "3"),
		} {
			if err := w.WriteMessages(t.Context(), m); err != nil {
				t.Fatal(err)
			}
		}
		done := s.awaitJob(t, job.ID, 30*time.Second)
		c := done.OperationCounts
		if done.State != "JOB_STATE_SUCCEEDED" || c.Succeeded != 3 || c.Failed != 0 || c.Pending != 0 {
			t.Fatalf("job = %+v", done)
		}
		ops := s.operations(t, job.ID)
		if ops[0].Result != "1" || ops[0].State != "OPERATION_STATE_SUCCEEDED" {
			t.Fatalf("op0 = %+v", ops[0])
		}
		// A late result for a cancelled job's operation is dropped too.
		job2 := s.createText(t, "1\n")
		if r := s.do(t, "POST", "/v1/jobs/"+job2.ID+":cancel", "", nil); r.status != 200 {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
		late, _ := queue.EncodeResult(queue.ResponseTopic, []byte(job2.ID), &queuev1.OperationResult{
			JobId: job2.ID, OperationId: job2.ID + "-0", State: queuev1.ResultState_RESULT_STATE_SUCCEEDED, Result: "1",
		})
		if err := w.WriteMessages(t.Context(), late); err != nil {
			t.Fatal(err)
		}
		// A result for another (pending) job, sent with job2's key so that it
		// follows the late result in the same partition: once that job is
		// complete, the late result has been processed.
		marker := s.createText(t, "1\n")
		mm, _ := queue.EncodeResult(queue.ResponseTopic, []byte(job2.ID), &queuev1.OperationResult{
			JobId: marker.ID, OperationId: marker.ID + "-0", State: queuev1.ResultState_RESULT_STATE_SUCCEEDED, Result: "1",
		})
		if err := w.WriteMessages(t.Context(), mm); err != nil {
			t.Fatal(err)
		}
		s.awaitJob(t, marker.ID, 30*time.Second)
		j2 := s.getJob(t, job2.ID)
		if j2.State != "JOB_STATE_CANCELLED" || j2.OperationCounts.Cancelled != 1 || j2.OperationCounts.Succeeded != 0 {
			t.Fatalf("cancelled job after a late result = %+v", j2)
		}
	})

	t.Run("restart keeps the jobs", func(t *testing.T) {
		job := s.createText(t, "7\n8\n")
		s.stop()
		s.start()
		got := s.getJob(t, job.ID)
		if got.ID != job.ID || got.TotalOperations != 2 {
			t.Fatalf("after restart: %+v", got)
		}
	})
}

// TestServerKilledMidRun SIGKILLs one of two servers while jobs run: its
// partitions move to the other server and every operation still ends in
// exactly one terminal state.
func TestServerKilledMidRun(t *testing.T) {
	s := startStack(t, 1, 0, "KAFKA_SESSION_TIMEOUT=2s", "KAFKA_REBALANCE_TIMEOUT=3s")
	admin := freeRange(t, 2)
	servers := make([]*exec.Cmd, 2)
	for i := range servers {
		cmd := exec.Command(filepath.Join(binDir, "server"))
		cmd.Env = append(os.Environ(),
			"KAFKA_BROKERS="+s.brokers(),
			fmt.Sprintf("NODE_ID=server-%d", i),
			fmt.Sprintf("ADMIN_ADDR=127.0.0.1:%d", admin+i),
			"LOG_FORMAT=text", "LOG_LEVEL=warn",
			"KAFKA_HEARTBEAT_INTERVAL=200ms", "KAFKA_SESSION_TIMEOUT=2s", "KAFKA_REBALANCE_TIMEOUT=3s",
			"KAFKA_JOIN_GROUP_BACKOFF=100ms", "KAFKA_FETCH_MAX_WAIT=100ms")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		servers[i] = cmd
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		})
	}
	waitBody(t, fmt.Sprintf("http://127.0.0.1:%d/readyz", admin), "ready", 30*time.Second)
	waitBody(t, fmt.Sprintf("http://127.0.0.1:%d/readyz", admin+1), "ready", 30*time.Second)

	const jobs, perJob = 40, 50
	lines := make([]string, perJob)
	for i := range lines {
		lines[i] = fmt.Sprintf("%d * 3", i)
	}
	body := strings.Join(lines, "\n")
	var ids []string
	start := time.Now()
	for range jobs {
		ids = append(ids, s.createText(t, body).ID)
	}
	t.Logf("created %d jobs in %s", jobs, time.Since(start))
	s.awaitJob(t, ids[0], 60*time.Second)
	t.Logf("first job done at %s", time.Since(start))
	if err := servers[1].Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = servers[1].Wait()
	for range jobs {
		ids = append(ids, s.createText(t, body).ID)
	}
	t.Logf("killed and created more at %s", time.Since(start))
	waitBody(t, fmt.Sprintf("http://127.0.0.1:%d/readyz", admin), "60 partitions", 60*time.Second)
	t.Logf("partitions moved at %s", time.Since(start))
	for _, id := range ids {
		j := s.awaitJob(t, id, 120*time.Second)
		c := j.OperationCounts
		if j.State != "JOB_STATE_SUCCEEDED" || c.Succeeded != perJob || c.Failed+c.Cancelled+c.Pending != 0 {
			t.Fatalf("job %s = %+v", id, j)
		}
	}
	t.Logf("all done at %s", time.Since(start))
	ops := s.operations(t, ids[len(ids)-1])
	for i, op := range ops {
		if op.Result != fmt.Sprint(i*3) || op.WorkerNode != "server-0" {
			t.Fatalf("operation %d = %+v", i, op)
		}
	}
}

// TestPoisonRequestIsDeadLettered writes garbage into the request topic
// with kcat, as an operator would: the server dead-letters it with the
// reason and keeps processing.
func TestPoisonRequestIsDeadLettered(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is required (Debian package kcat; .ci/run installs it)")
	}
	s := startStack(t, 1, 1)
	brokers := strings.Split(s.brokers(), ",")
	key := []byte("poison-key")
	cmd := exec.CommandContext(t.Context(), kcat, "-P", "-b", s.brokers(), "-t", queue.RequestTopic, "-k", string(key))
	cmd.Stdin = strings.NewReader("this is not an operation request")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: queue.DLQTopic, Partition: partition.Partition(key, 60), MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	m, err := r.ReadMessage(ctx) // a plain partition reader: no group, nothing to commit
	if err != nil {
		t.Fatal(err)
	}
	reason, _ := queue.Header(&m, queue.DLQReasonHeader)
	if string(m.Key) != string(key) || reason != "undecodable" {
		t.Fatalf("dead letter key %q reason %q", m.Key, reason)
	}
	job := s.createText(t, "2 + 2\n")
	if j := s.awaitJob(t, job.ID, 30*time.Second); j.State != "JOB_STATE_SUCCEEDED" {
		t.Fatalf("after poison: %+v", j)
	}
}

// TestProductionBinariesDoNotEmbed checks that cmd/client and cmd/server do
// not link the embedded servers.
func TestProductionBinariesDoNotEmbed(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../cmd/client", "../cmd/server").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, forbidden := range []string{"github.com/twmb/franz-go/pkg/kfake", "github.com/FerretDB/FerretDB", "github.com/jobplane/jobplane/pkg/embedded"} {
		if strings.Contains(string(out), forbidden) {
			t.Errorf("production binaries depend on %s", forbidden)
		}
	}
}

func waitBody(t *testing.T, url, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			b := make([]byte, 256)
			n, _ := resp.Body.Read(b)
			resp.Body.Close()
			last = string(b[:n])
			if resp.StatusCode == 200 && strings.Contains(last, want) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	t.Fatalf("%s never answered %q (last %q)", url, want, last)
}
