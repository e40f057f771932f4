package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

// seedResults are the results of the seed's demo file,
// deploy/examples/operations.txt (the file `make
// api-create-job-with-multiple-operations` posts), line by line.
var seedResults = []string{"69", "-8", "69", "-3", "-3", "-3", "-3", "69", "1", "198"}

// readExample returns the lines of a file in deploy/examples.
func readExample(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestPipeline(t *testing.T) {
	s := startStack(t, 1, 2)

	t.Run("seed table over REST with CRLF", func(t *testing.T) {
		lines := readExample(t, "operations.txt")
		job := s.createText(t, strings.Join(lines, "\r\n")+"\r\n")
		if job.TotalOperations != 10 || job.State != "JOB_STATE_PENDING" {
			t.Fatalf("created job = %+v", job)
		}
		done := s.awaitJob(t, job.ID, 60*time.Second)
		if done.State != "JOB_STATE_SUCCEEDED" || done.OperationCounts.Succeeded != 10 || done.CompleteTime == nil {
			t.Fatalf("job = %+v", done)
		}
		ops := s.operations(t, job.ID)
		if len(ops) != len(seedResults) {
			t.Fatalf("%d operations", len(ops))
		}
		for i, op := range ops {
			if op.Index != i || op.Request != lines[i] || op.Result != seedResults[i] || op.State != "OPERATION_STATE_SUCCEEDED" {
				t.Errorf("operation %d = %+v, want result %s", i, op, seedResults[i])
			}
		}
		// Get one operation.
		r := s.do(t, "GET", "/v1/jobs/"+job.ID+"/operations/"+ops[9].ID, "", nil)
		var got struct {
			Operation restOp `json:"operation"`
		}
		r.json(t, &got)
		if r.status != http.StatusOK || got.Operation.Result != "198" {
			t.Fatalf("get operation: %d %s", r.status, r.body)
		}
	})

	t.Run("error operation fails with a readable message", func(t *testing.T) {
		job := s.createText(t, "69\n1 + 2 + 3 - 7 * 2 +\n")
		done := s.awaitJob(t, job.ID, 60*time.Second)
		if done.State != "JOB_STATE_FAILED" || done.OperationCounts.Failed != 1 || done.OperationCounts.Succeeded != 1 {
			t.Fatalf("job = %+v", done)
		}
		ops := s.operations(t, job.ID)
		if ops[1].State != "OPERATION_STATE_FAILED" || !strings.Contains(ops[1].Error, "missing its right operand") {
			t.Fatalf("failed op = %+v", ops[1])
		}
	})

	t.Run("jobs spread over both servers", func(t *testing.T) {
		// The stack is ready when every service is, not when the servers
		// have shared the partitions: the first server to join holds all
		// 60 until the second one's join ends that generation (about half
		// a second later), and jobs submitted before then all go to it.
		s.awaitCluster(t, 30*time.Second, func(cs clusterStats) bool {
			total, holding := 0, 0
			for _, n := range cs.Nodes {
				if n.Role == "NODE_ROLE_SERVER" && n.Stats != nil && len(n.Stats.AssignedPartitions) > 0 {
					total += len(n.Stats.AssignedPartitions)
					holding++
				}
			}
			return holding == 2 && total == 60
		})
		var ids []string
		for range 20 {
			ids = append(ids, s.createText(t, "1 + 1\n2 * 3\n7 / 2\n").ID)
		}
		workers := map[string]bool{}
		for _, id := range ids {
			if j := s.awaitJob(t, id, 60*time.Second); j.State != "JOB_STATE_SUCCEEDED" {
				t.Fatalf("job = %+v", j)
			}
			for _, op := range s.operations(t, id) {
				workers[op.WorkerNode] = true
			}
		}
		if !workers["server-0"] || !workers["server-1"] {
			t.Fatalf("workers = %v, want both servers", workers)
		}
	})

	t.Run("partition key keeps submission order", func(t *testing.T) {
		lines := make([]string, 300)
		for i := range lines {
			lines[i] = fmt.Sprintf("%d + 0", i)
		}
		job := s.createText(t, strings.Join(lines, "\n"), "partition_key=customer-42")
		if job.PartitionKey != "customer-42" {
			t.Fatalf("job = %+v", job)
		}
		s.awaitJob(t, job.ID, 60*time.Second)
		ops := s.operations(t, job.ID)
		// As times, not strings: protobuf JSON writes no fraction for a
		// whole second ("…:13Z" sorts after "…:13.034Z" as a string).
		completed := func(op restOp) time.Time {
			t.Helper()
			ts, err := time.Parse(time.RFC3339Nano, op.CompleteTime)
			if err != nil {
				t.Fatalf("operation complete_time %q: %v", op.CompleteTime, err)
			}
			return ts
		}
		for i := 1; i < len(ops); i++ {
			if completed(ops[i]).Before(completed(ops[i-1])) {
				t.Fatalf("operation %d finished at %s, before operation %d at %s", i, ops[i].CompleteTime, i-1, ops[i-1].CompleteTime)
			}
			if ops[i].WorkerNode != ops[0].WorkerNode {
				t.Fatalf("operations of one key ran on %s and %s", ops[0].WorkerNode, ops[i].WorkerNode)
			}
		}
	})

	t.Run("gRPC", func(t *testing.T) {
		c, conn, ctx := s.grpcClient(t)
		created, err := c.CreateJob(ctx, &jobsv1.CreateJobRequest{
			RequestId:  "grpc-req-1",
			Operations: []*jobsv1.OperationInput{{Request: "34 * 2 + 1"}, {Type: "encrypt", Request: "secret"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		again, err := c.CreateJob(ctx, &jobsv1.CreateJobRequest{
			RequestId:  "grpc-req-1",
			Operations: []*jobsv1.OperationInput{{Request: "34 * 2 + 1"}, {Type: "encrypt", Request: "secret"}},
		})
		if err != nil || again.GetJob().GetId() != created.GetJob().GetId() {
			t.Fatalf("idempotent repeat: %v %v", again, err)
		}
		_, err = c.CreateJob(ctx, &jobsv1.CreateJobRequest{RequestId: "grpc-req-1", Operations: []*jobsv1.OperationInput{{Request: "1"}}})
		if status.Code(err) != codes.AlreadyExists {
			t.Fatalf("request_id reuse: %v", err)
		}
		stream, err := c.WatchJob(ctx, &jobsv1.WatchJobRequest{Id: created.GetJob().GetId()})
		if err != nil {
			t.Fatal(err)
		}
		var last *jobsv1.Job
		for {
			msg, err := stream.Recv()
			if err != nil {
				break
			}
			last = msg.GetJob()
		}
		if last.GetState() != jobsv1.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("watch ended with %v", last)
		}
		ops, err := c.ListJobOperations(ctx, &jobsv1.ListJobOperationsRequest{JobId: created.GetJob().GetId()})
		if err != nil || len(ops.GetOperations()) != 2 || ops.GetOperations()[0].GetResult() != "69" || ops.GetOperations()[1].GetResult() == "" {
			t.Fatalf("operations: %v %v", ops, err)
		}
		if _, err := c.GetJob(t.Context(), &jobsv1.GetJobRequest{Id: created.GetJob().GetId()}); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("without token: %v", err)
		}
		_, err = c.GetJob(ctx, &jobsv1.GetJobRequest{Id: "nope"})
		if st := status.Convert(err); st.Code() != codes.InvalidArgument || len(st.Details()) == 0 {
			t.Fatalf("malformed id: %v", err)
		}
		h, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health: %v %v", h, err)
		}
		rc, err := grpc_reflection_v1.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Send(&grpc_reflection_v1.ServerReflectionRequest{MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		resp, err := rc.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, svc := range resp.GetListServicesResponse().GetService() {
			names = append(names, svc.GetName())
		}
		if !slices.Contains(names, "jobplane.jobs.v1.JobService") || !slices.Contains(names, "grpc.health.v1.Health") {
			t.Fatalf("reflection lists %v", names)
		}
	})

	t.Run("REST errors", func(t *testing.T) {
		job := s.createText(t, "1\n")
		other := s.createText(t, "2\n")
		tests := []struct {
			name, method, path, ctype, body, auth string
			status                                int
			code                                  int
			contains                              string
		}{
			{"no token", "GET", "/v1/jobs/" + job.ID, "", "", "-", 401, 16, "bearer token"},
			{"wrong token", "GET", "/v1/jobs/" + job.ID, "", "", "Bearer wrong", 401, 16, "invalid bearer token"},
			{"malformed id", "GET", "/v1/jobs/not-a-uuid", "", "", "", 400, 3, "field_violations"},
			{"missing job", "GET", "/v1/jobs/0190f8a2-1234-7abc-8def-0123456789ab", "", "", "", 404, 5, "JOB_NOT_FOUND"},
			{"operation of another job", "GET", "/v1/jobs/" + other.ID + "/operations/" + job.ID + "-0", "", "", "", 404, 5, "OPERATION_NOT_FOUND"},
			{"missing operation", "GET", "/v1/jobs/" + job.ID + "/operations/" + job.ID + "-7", "", "", "", 404, 5, "OPERATION_NOT_FOUND"},
			{"blank line", "POST", "/v1/jobs", "text/plain", "1\n\n2\n", "", 400, 3, "line 2"},
			{"empty body", "POST", "/v1/jobs", "text/plain", "", "", 400, 3, "empty"},
			{"invalid UTF-8 line", "POST", "/v1/jobs", "text/plain", "1\n2 \xff\n", "", 400, 3, "must be valid UTF-8 (line 2"},
			{"no operations", "POST", "/v1/jobs", "application/json", `{"operations":[]}`, "", 400, 3, "at least one"},
			{"bad json", "POST", "/v1/jobs", "application/json", `{"operations":`, "", 400, 3, ""},
			{"unknown type", "POST", "/v1/jobs", "application/json", `{"operations":[{"type":"nope","request":"1"}]}`, "", 400, 3, "unknown operation type"},
			{"negative page size", "GET", "/v1/jobs?page_size=-1", "", "", "", 400, 3, "page_size"},
			{"bad page token", "GET", "/v1/jobs?page_token=xyz", "", "", "", 400, 3, "page_token"},
			{"bad filter", "GET", "/v1/jobs?filter=color%3Dred", "", "", "", 400, 3, "filter"},
			{"wrong method", "PUT", "/v1/jobs/" + job.ID, "", "", "", 405, 12, "not allowed"},
			{"unknown route", "GET", "/v1/nothing/here", "", "", "", 404, 5, ""},
			{"too large", "POST", "/v1/jobs", "text/plain", strings.Repeat("1+1\n", 3<<20), "", 413, 8, "exceeds"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var auth []string
				if tt.auth != "" {
					auth = []string{tt.auth}
				}
				r := s.do(t, tt.method, tt.path, tt.ctype, []byte(tt.body), auth...)
				var st struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				}
				r.json(t, &st)
				if r.status != tt.status || st.Code != tt.code || st.Message == "" || !strings.Contains(string(r.body), tt.contains) {
					t.Fatalf("got %d %s, want %d code %d containing %q", r.status, r.body, tt.status, tt.code, tt.contains)
				}
			})
		}
		// Nothing was created by the rejected requests: the job count is
		// unchanged by a rejected create.
		before := countJobs(t, s)
		s.do(t, "POST", "/v1/jobs", "text/plain", []byte("1\n\n"))
		if after := countJobs(t, s); after != before {
			t.Fatalf("a rejected create changed the job count %d -> %d", before, after)
		}
	})

	t.Run("list pagination returns every job once", func(t *testing.T) {
		created := map[string]bool{}
		for i := range 250 {
			created[s.createText(t, fmt.Sprintf("%d\n", i)).ID] = true
		}
		seen := map[string]int{}
		tok, pages := "", 0
		for {
			r := s.do(t, "GET", "/v1/jobs?page_size=40&page_token="+tok, "", nil)
			var page struct {
				Jobs          []restJob `json:"jobs"`
				NextPageToken string    `json:"next_page_token"`
			}
			r.json(t, &page)
			if r.status != 200 || len(page.Jobs) > 40 {
				t.Fatalf("page: %d %d jobs", r.status, len(page.Jobs))
			}
			pages++
			for _, j := range page.Jobs {
				seen[j.ID]++
			}
			if page.NextPageToken == "" {
				break
			}
			tok = page.NextPageToken
		}
		for id := range created {
			if seen[id] != 1 {
				t.Fatalf("job %s listed %d times", id, seen[id])
			}
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("job %s listed %d times", id, n)
			}
		}
		r := s.do(t, "GET", "/v1/jobs?page_size=1000", "", nil)
		var page struct {
			Jobs []restJob `json:"jobs"`
		}
		r.json(t, &page)
		if len(page.Jobs) != 100 {
			t.Fatalf("page_size above the maximum returned %d jobs, want 100", len(page.Jobs))
		}
		r = s.do(t, "GET", "/v1/jobs?filter=state%3DFAILED", "", nil)
		r.json(t, &page)
		for _, j := range page.Jobs {
			if j.State != "JOB_STATE_FAILED" {
				t.Fatalf("filter returned %s", j.State)
			}
		}
	})
}

func countJobs(t *testing.T, s *stack) int {
	t.Helper()
	n, tok := 0, ""
	for {
		r := s.do(t, "GET", "/v1/jobs?page_size=100&page_token="+tok, "", nil)
		var page struct {
			Jobs          []restJob `json:"jobs"`
			NextPageToken string    `json:"next_page_token"`
		}
		r.json(t, &page)
		n += len(page.Jobs)
		if page.NextPageToken == "" {
			return n
		}
		tok = page.NextPageToken
	}
}
