package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"github.com/jobplane/jobplane/pkg/tlsconfig"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// grpcurlVersion is the grpcurl that .ci/run installs; the test installs
// it itself when it is not on PATH.
const grpcurlVersion = "v1.9.3"

// TestMutualTLS runs devstack with --tls: the gRPC, REST and admin ports
// answer callers with the dev client certificate and refuse those without.
func TestMutualTLS(t *testing.T) {
	s := startStackArgs(t, 1, 1, []string{"--tls"})
	certs, err := tlsconfig.EnsureDevCerts(filepath.Join(s.dataDir, "tls")) // reuses devstack's
	if err != nil {
		t.Fatal(err)
	}
	withCert, err := certs.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	withoutCert := withCert.Clone()
	withoutCert.Certificates = nil
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", s.grpcPort)

	// devstack prints ready-made commands.
	wantGrpcurl := fmt.Sprintf("try: grpcurl -cacert %s -cert %s -key %s %s list", certs.CA, certs.ClientCrt, certs.ClientKey, grpcAddr)
	if out := s.out.String(); !strings.Contains(out, wantGrpcurl) || !strings.Contains(out, "curl --cacert "+certs.CA) {
		t.Errorf("devstack output lacks the grpcurl/curl commands (want %q):\n%s", wantGrpcurl, out)
	}

	t.Run("gRPC with client certificate", func(t *testing.T) {
		client := jobsv1.NewJobServiceClient(tlsConn(t, grpcAddr, credentials.NewTLS(withCert)))
		ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token)
		created, err := client.CreateJob(ctx, &jobsv1.CreateJobRequest{Operations: []*jobsv1.OperationInput{{Request: "6 * 7"}}})
		if err != nil {
			t.Fatal(err)
		}
		// The server service consumes, the client applies the result.
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, err := client.GetJob(ctx, &jobsv1.GetJobRequest{Id: created.GetJob().GetId()})
			if err != nil {
				t.Fatal(err)
			}
			if got.GetJob().GetState() == jobsv1.JobState_JOB_STATE_SUCCEEDED {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job not succeeded: %v", got.GetJob())
			}
			time.Sleep(50 * time.Millisecond) // polling interval
		}
	})

	t.Run("gRPC without client certificate is refused", func(t *testing.T) {
		for name, creds := range map[string]credentials.TransportCredentials{
			"tls without certificate": credentials.NewTLS(withoutCert),
			"plaintext":               insecure.NewCredentials(),
		} {
			client := jobsv1.NewJobServiceClient(tlsConn(t, grpcAddr, creds))
			ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token), 10*time.Second)
			_, err := client.ListJobs(ctx, &jobsv1.ListJobsRequest{})
			cancel()
			if code := status.Code(err); code != codes.Unavailable {
				t.Errorf("%s: %v, want UNAVAILABLE (handshake refused)", name, err)
			}
		}
	})

	t.Run("REST over https", func(t *testing.T) {
		base := fmt.Sprintf("https://127.0.0.1:%d", s.httpPort)
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: withCert, ForceAttemptHTTP2: true}}
		defer hc.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(t.Context(), "POST", base+"/v1/jobs", strings.NewReader("1 + 2\n"))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "text/plain")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
			t.Fatalf("POST /v1/jobs: %d %s (tls %+v)", resp.StatusCode, body, resp.TLS)
		}
		var out struct {
			Job restJob `json:"job"`
		}
		if err := json.Unmarshal(body, &out); err != nil || out.Job.ID == "" {
			t.Fatalf("create: %s (%v)", body, err)
		}

		// Without a client certificate, REST and the server's admin port refuse.
		bare := &http.Client{Transport: &http.Transport{TLSClientConfig: withoutCert}}
		defer bare.CloseIdleConnections()
		for _, url := range []string{base + "/readyz", fmt.Sprintf("https://127.0.0.1:%d/readyz", s.adminPort)} {
			if resp, err := bare.Get(url); err == nil {
				resp.Body.Close()
				t.Errorf("GET %s without a client certificate: %d, want a TLS error", url, resp.StatusCode)
			}
			resp, err := hc.Get(url)
			if err != nil {
				t.Fatalf("GET %s: %v", url, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %d", url, resp.StatusCode)
			}
		}
	})

	t.Run("grpcurl", func(t *testing.T) {
		grpcurl := findGrpcurl(t)
		tlsArgs := []string{"-cacert", certs.CA, "-cert", certs.ClientCrt, "-key", certs.ClientKey}
		run := func(args ...string) (string, error) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, grpcurl, args...).CombinedOutput()
			return string(out), err
		}
		out, err := run(append(tlsArgs, grpcAddr, "list")...)
		if err != nil || !strings.Contains(out, "jobplane.jobs.v1.JobService") {
			t.Fatalf("grpcurl list with the client certificate: %v\n%s", err, out)
		}
		out, err = run(append(tlsArgs, "-H", "authorization: Bearer "+token, "-d", `{"operations":[{"request":"69"}]}`,
			grpcAddr, "jobplane.jobs.v1.JobService/CreateJob")...)
		if err != nil || !strings.Contains(out, `"totalOperations": 1`) {
			t.Fatalf("grpcurl CreateJob: %v\n%s", err, out)
		}
		out, err = run("-connect-timeout", "5", "-cacert", certs.CA, grpcAddr, "list")
		if err == nil {
			t.Fatalf("grpcurl list without a client certificate succeeded:\n%s", out)
		}
		t.Logf("grpcurl without a client certificate: %s", strings.TrimSpace(out))
	})
}

func tlsConn(t *testing.T, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// findGrpcurl returns grpcurl from PATH (.ci/run installs it), else
// installs grpcurlVersion into the test's bin directory. It fails rather
// than skips: a skipped check is a missing one.
func findGrpcurl(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("grpcurl"); err == nil {
		return p
	}
	cmd := exec.Command("go", "install", "github.com/fullstorydev/grpcurl/cmd/grpcurl@"+grpcurlVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+binDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("grpcurl is not on PATH and `go install github.com/fullstorydev/grpcurl/cmd/grpcurl@%s` failed: %v\n%s", grpcurlVersion, err, out)
	}
	return filepath.Join(binDir, "grpcurl")
}

// TestRateLimitOverREST runs the client service with RATE_LIMIT: past the
// burst, REST answers 429 with a google.rpc.Status body (RESOURCE_EXHAUSTED,
// ErrorInfo RATE_LIMITED, RetryInfo), and gRPC RESOURCE_EXHAUSTED.
func TestRateLimitOverREST(t *testing.T) {
	// 0.2/s: a token comes back every 5s, far longer than the calls take.
	s := startStack(t, 1, 0, "RATE_LIMIT=0.2", "RATE_LIMIT_BURST=3")
	for i := range 3 {
		if r := s.do(t, "GET", "/v1/jobs", "", nil); r.status != http.StatusOK {
			t.Fatalf("call %d: %d %s", i+1, r.status, r.body)
		}
	}
	r := s.do(t, "GET", "/v1/jobs", "", nil)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("call 4: %d %s, want 429", r.status, r.body)
	}
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Type       string `json:"@type"`
			Reason     string `json:"reason"`
			RetryDelay string `json:"retry_delay"`
		} `json:"details"`
	}
	r.json(t, &st)
	if st.Code != int(codes.ResourceExhausted) || len(st.Details) != 2 ||
		st.Details[0].Type != "type.googleapis.com/google.rpc.ErrorInfo" || st.Details[0].Reason != "RATE_LIMITED" ||
		st.Details[1].Type != "type.googleapis.com/google.rpc.RetryInfo" || st.Details[1].RetryDelay == "" {
		t.Fatalf("429 body: %s", r.body)
	}
	// The same bucket over gRPC; health stays open.
	client, _, ctx := s.grpcClient(t)
	if _, err := client.ListJobs(ctx, &jobsv1.ListJobsRequest{}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("gRPC: %v, want RESOURCE_EXHAUSTED", err)
	}
	if r := s.do(t, "GET", "/healthz", "", nil); r.status != http.StatusOK || !bytes.HasPrefix(r.body, []byte("ok")) {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}
	// An unknown token is refused by the token check, before any bucket.
	if r := s.do(t, "GET", "/v1/jobs", "", nil, "Bearer wrong"); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d %s", r.status, r.body)
	}
}
