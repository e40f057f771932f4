// Package e2e builds the real binaries, starts them (devstack with embedded
// FerretDB and kfake over TCP) and drives the REST and gRPC APIs.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

const token = "e2e-token-456"

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jobplane-e2e-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	// The services run with the race detector; devstack (kfake, FerretDB)
	// does not need it.
	for _, args := range [][]string{
		{"build", "-race", "-o", dir + "/", "../cmd/client", "../cmd/server", "../cmd/jobctl"},
		{"build", "-o", dir + "/", "../cmd/devstack"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build binaries:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// stack is a running devstack.
type stack struct {
	t                             *testing.T
	dataDir                       string
	mongoPort, kafkaPort          int
	grpcPort, httpPort, adminPort int
	clients, servers              int
	args                          []string // extra devstack flags, e.g. --tls
	cmd                           *exec.Cmd
	out                           *syncBuffer
	done                          chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeRange returns the first port of n consecutive free ports, below the
// kernel's ephemeral range (32768 and up on Linux), where the outgoing
// connections of every test process would otherwise take them between this
// check and devstack's listen.
func freeRange(t *testing.T, n int) int {
	t.Helper()
	for range 200 {
		base := 10000 + rand.IntN(22000)
		ok := true
		for p := base; p < base+n; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// readyLine ends devstack's banner (devstack.ReadyLine, not imported: it
// would build FerretDB and kfake into this test binary): start returns once
// the whole banner is printed.
const readyLine = "Press Ctrl-C to stop."

// startStack starts devstack with its own data dir and ports.
func startStack(t *testing.T, clients, servers int, env ...string) *stack {
	t.Helper()
	return startStackArgs(t, clients, servers, nil, env...)
}

// startStackArgs is startStack with extra devstack flags.
func startStackArgs(t *testing.T, clients, servers int, args []string, env ...string) *stack {
	t.Helper()
	s := &stack{t: t, clients: clients, servers: servers, args: args}
	// A port checked free can still be taken before devstack listens on
	// it (by another test process): then start again on other ports.
	for attempt := 1; ; attempt++ {
		s.dataDir = t.TempDir()
		s.mongoPort = freeRange(t, 1)
		s.kafkaPort = freeRange(t, 3)
		s.grpcPort = freeRange(t, max(clients, 1))
		s.httpPort = freeRange(t, max(clients, 1))
		s.adminPort = freeRange(t, max(servers, 1))
		err := s.tryStart(env...)
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(s.out.String(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("devstack start %d: a port was taken, again on other ports", attempt)
	}
	t.Cleanup(s.stop)
	return s
}

// start (re)starts devstack on the stack's ports and data dir.
func (s *stack) start(env ...string) {
	s.t.Helper()
	if err := s.tryStart(env...); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stack) tryStart(env ...string) error {
	t := s.t
	t.Helper()
	s.cmd = exec.Command(filepath.Join(binDir, "devstack"),
		"--data-dir", s.dataDir,
		"--clients", fmt.Sprint(s.clients), "--servers", fmt.Sprint(s.servers),
		"--mongo-port", fmt.Sprint(s.mongoPort), "--kafka-port", fmt.Sprint(s.kafkaPort),
		"--grpc-port", fmt.Sprint(s.grpcPort), "--http-port", fmt.Sprint(s.httpPort),
		"--admin-port", fmt.Sprint(s.adminPort), "--server-grpc-port", "0", "--token", token)
	s.cmd.Args = append(s.cmd.Args, s.args...)
	s.cmd.Env = append(os.Environ(), env...)
	// Locals: a restarted stack must not share them with the goroutines
	// of the previous run.
	out := &syncBuffer{}
	s.out = out
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			out.Write(append(sc.Bytes(), '\n'))
			if strings.Contains(sc.Text(), readyLine) {
				once.Do(func() { close(ready) })
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	cmd := s.cmd
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	s.done = done
	go func() { _ = cmd.Wait(); pw.Close(); close(done) }()
	select {
	case <-ready:
		return nil
	case <-done:
		return fmt.Errorf("devstack exited:\n%s", s.out.String())
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("devstack not ready:\n%s", s.out.String())
	}
}

// stop sends SIGINT (Ctrl-C) and waits for a clean exit.
func (s *stack) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("devstack did not stop within 60s:\n%s", s.out.String())
	}
	if s.t.Failed() {
		s.t.Logf("devstack output:\n%s", tail(s.out.String(), 200))
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

func (s *stack) baseURL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.httpPort) }

func (s *stack) brokers() string {
	return fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", s.kafkaPort, s.kafkaPort+1, s.kafkaPort+2)
}

// response is an HTTP answer.
type response struct {
	status int
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request with the token (unless auth is "-").
func (s *stack) do(t *testing.T, method, path, contentType string, body []byte, auth ...string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.baseURL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	switch {
	case len(auth) == 0:
		req.Header.Set("Authorization", "Bearer "+token)
	case auth[0] != "-":
		req.Header.Set("Authorization", auth[0])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: b}
}

// restJob is the REST shape of a job.
type restJob struct {
	ID              string `json:"id"`
	State           string `json:"state"`
	PartitionKey    string `json:"partition_key"`
	TotalOperations int    `json:"total_operations"`
	OperationCounts struct {
		Pending, Succeeded, Failed, Cancelled int
	} `json:"operation_counts"`
	CompleteTime *string `json:"complete_time"`
}

type restOp struct {
	ID           string `json:"id"`
	JobID        string `json:"job_id"`
	Index        int    `json:"index"`
	Request      string `json:"request"`
	State        string `json:"state"`
	Result       string `json:"result"`
	Error        string `json:"error"`
	WorkerNode   string `json:"worker_node"`
	CompleteTime string `json:"complete_time"`
}

func (s *stack) createText(t *testing.T, body string, query ...string) restJob {
	t.Helper()
	path := "/v1/jobs"
	if len(query) > 0 {
		path += "?" + query[0]
	}
	r := s.do(t, "POST", path, "text/plain", []byte(body))
	if r.status != http.StatusOK {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var out struct {
		Job               restJob `json:"job"`
		OperationsCreated int     `json:"operations_created"`
	}
	r.json(t, &out)
	if out.OperationsCreated != out.Job.TotalOperations {
		t.Fatalf("operations_created %d != total %d", out.OperationsCreated, out.Job.TotalOperations)
	}
	return out.Job
}

func (s *stack) getJob(t *testing.T, id string) restJob {
	t.Helper()
	r := s.do(t, "GET", "/v1/jobs/"+id, "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("get job: %d %s", r.status, r.body)
	}
	var out struct {
		Job restJob `json:"job"`
	}
	r.json(t, &out)
	return out.Job
}

func terminal(state string) bool {
	switch state {
	case "JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED":
		return true
	}
	return false
}

// awaitJob polls until the job is terminal.
func (s *stack) awaitJob(t *testing.T, id string, timeout time.Duration) restJob {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j := s.getJob(t, id)
		if terminal(j.State) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not terminal after %s: %+v", id, timeout, j)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a wait for an event
	}
}

// operations lists every operation of a job, following page tokens.
func (s *stack) operations(t *testing.T, id string) []restOp {
	t.Helper()
	var all []restOp
	tok := ""
	for {
		r := s.do(t, "GET", "/v1/jobs/"+id+"/operations?page_size=100&page_token="+tok, "", nil)
		if r.status != http.StatusOK {
			t.Fatalf("list operations: %d %s", r.status, r.body)
		}
		var page struct {
			Operations    []restOp `json:"operations"`
			NextPageToken string   `json:"next_page_token"`
		}
		r.json(t, &page)
		all = append(all, page.Operations...)
		if page.NextPageToken == "" {
			return all
		}
		tok = page.NextPageToken
	}
}

// grpcClient returns a JobService client and a context carrying the token.
func (s *stack) grpcClient(t *testing.T) (jobsv1.JobServiceClient, *grpc.ClientConn, context.Context) {
	t.Helper()
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", s.grpcPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token)
	return jobsv1.NewJobServiceClient(conn), conn, ctx
}
