package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/jobplane/jobplane/pkg/auth"
	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"github.com/jobplane/jobplane/pkg/store"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"
)

// Limits of the fuzzed gateway: small, so that 413, the per-job operation
// limit and the per-operation size limit are all reachable by the fuzzer.
const (
	fuzzMaxBody     = 300
	fuzzMaxOps      = 8
	fuzzMaxReqBytes = 32
	fuzzToken       = "fuzz-token"
	fuzzSeqHeader   = "Grpc-Metadata-Fuzz-Seq" // forwarded by the gateway as metadata fuzz-seq
	fuzzSeqMetadata = "fuzz-seq"
	// The flags argument of the targets: bits 0-1 pick the Authorization
	// header (see post), bit 2 sends the body without a Content-Length, and
	// the text/plain target takes the Content-Type spelling from bits 3+.
	fuzzAuthModes    = 4
	fuzzChunkedFlag  = 1 << 2
	fuzzCTShift      = 3
	fuzzTextPlainCTs = 3
)

// validatingJobService serves CreateJob with the real validation
// (jobService.validateCreate) and, when the request is valid, answers with a
// synthesized CreateJobResponse instead of storing the job: the store and
// the publisher need MongoDB and Kafka and are tested elsewhere (pkg/store,
// the integration and e2e tests). What the fuzz targets check is the HTTP
// boundary: the gateway, text/plain conversion, body limit, auth, validation
// and error conversion. The operations it accepted are kept by the
// request's fuzz-seq metadata so that a target can compare them with what it
// sent.
type validatingJobService struct {
	jobsv1.UnimplementedJobServiceServer
	svc      *jobService
	accepted sync.Map // fuzz-seq → []store.OpInput
}

func (s *validatingJobService) CreateJob(ctx context.Context, req *jobsv1.CreateJobRequest) (*jobsv1.CreateJobResponse, error) {
	n, err := s.svc.validateCreate(ctx, req)
	if err != nil {
		return nil, err
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get(fuzzSeqMetadata)) == 1 {
		s.accepted.Store(md.Get(fuzzSeqMetadata)[0], n.Operations)
	}
	now := time.Now()
	job := &store.Job{
		ID: "0190f8a2-1234-7abc-8def-0123456789ab", RequestID: n.RequestID, PartitionKey: n.PartitionKey,
		Total: int64(len(n.Operations)), CreateTime: now, UpdateTime: now,
	}
	return &jobsv1.CreateJobResponse{Job: jobToProto(job), OperationsCreated: int32(job.Total)}, nil
}

// fuzzGateway is the REST handler of the client service in front of a real
// gRPC server (bufconn) with the production interceptor chain.
type fuzzGateway struct {
	handler http.Handler
	svc     *validatingJobService
	seq     atomic.Int64
}

// newFuzzGateway builds the gateway once per fuzz target (f.Fuzz then calls
// it for every input).
func newFuzzGateway(f testing.TB) *fuzzGateway {
	f.Helper()
	log := slog.New(slog.DiscardHandler)
	svc := &validatingJobService{svc: &jobService{
		cfg: &Config{MaxOperationsPerJob: fuzzMaxOps, MaxRequestBytes: fuzzMaxReqBytes, OperationTypes: []string{"expr", "encrypt"}},
		log: log,
	}}
	// The same chain as Run: errors converted once, outside auth.
	srv := grpc.NewServer(
		grpc.MaxRecvMsgSize(maxGRPCMessage),
		grpc.MaxSendMsgSize(maxGRPCMessage),
		grpc.ChainUnaryInterceptor(errorUnaryInterceptor(log), auth.NewTokens([]string{fuzzToken}).UnaryInterceptor(auth.ServicePrefix("/jobplane."))),
	)
	jobsv1.RegisterJobServiceServer(srv, svc)
	lis := bufconn.Listen(1 << 20)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxGRPCMessage), grpc.MaxCallSendMsgSize(maxGRPCMessage)))
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gw, err := newGateway(ctx, conn, fuzzMaxBody)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		cancel()
		conn.Close()
		srv.Stop()
		if err := <-served; err != nil {
			f.Errorf("grpc server: %v", err)
		}
	})
	return &fuzzGateway{handler: gw, svc: svc}
}

// fuzzResult is one response of the gateway.
type fuzzResult struct {
	status   int
	body     []byte
	accepted []store.OpInput // what the JobService accepted; nil unless 200
}

// post sends body to POST /v1/jobs. flags selects the Authorization header
// (flags % fuzzAuthModes: valid, missing, wrong token, valid with a
// lower-case scheme) and whether the body is sent without a Content-Length
// (chunked), which takes the MaxBytesReader path of the body limit.
func (g *fuzzGateway) post(t *testing.T, target, contentType string, body []byte, flags uint8) fuzzResult {
	t.Helper()
	var rd io.Reader = bytes.NewReader(body)
	if flags&fuzzChunkedFlag != 0 {
		rd = struct{ io.Reader }{rd} // hides the length from httptest.NewRequest
	}
	req := httptest.NewRequest(http.MethodPost, target, rd)
	if flags&fuzzChunkedFlag != 0 {
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
	}
	req.Header.Set("Content-Type", contentType)
	switch flags % fuzzAuthModes {
	case 0:
		req.Header.Set("Authorization", "Bearer "+fuzzToken)
	case 2:
		req.Header.Set("Authorization", "Bearer not-"+fuzzToken)
	case 3:
		req.Header.Set("Authorization", "bearer "+fuzzToken)
	}
	seq := strconv.FormatInt(g.seq.Add(1), 10)
	req.Header.Set(fuzzSeqHeader, seq)
	rec := httptest.NewRecorder()
	g.handler.ServeHTTP(rec, req)
	res := fuzzResult{status: rec.Code, body: rec.Body.Bytes()}
	if ops, ok := g.svc.accepted.LoadAndDelete(seq); ok {
		res.accepted = ops.([]store.OpInput)
	}
	return res
}

// checkCommon checks the properties every response to POST /v1/jobs has:
// never 5xx; 413 exactly when the body exceeds the limit; 401 when the token
// is missing or wrong (unless the body was already refused); a non-2xx body
// is a google.rpc.Status whose code matches the HTTP status; a 200 body is a
// CreateJobResponse whose operations_created is what the service accepted.
// It returns the decoded Status of an error response.
func checkCommon(t *testing.T, body []byte, flags uint8, res fuzzResult) *status.Status {
	t.Helper()
	if res.status >= 500 {
		t.Fatalf("HTTP %d: %s", res.status, res.body)
	}
	if tooLarge := len(body) > fuzzMaxBody; tooLarge != (res.status == http.StatusRequestEntityTooLarge) {
		t.Fatalf("%d-byte body (limit %d): HTTP %d: %s", len(body), fuzzMaxBody, res.status, res.body)
	}
	authOK := flags%fuzzAuthModes == 0 || flags%fuzzAuthModes == 3
	if res.status == http.StatusOK {
		if !authOK {
			t.Fatalf("HTTP 200 without a valid token: %s", res.body)
		}
		var resp jobsv1.CreateJobResponse
		if err := protojson.Unmarshal(res.body, &resp); err != nil {
			t.Fatalf("HTTP 200 body is not a CreateJobResponse: %v: %s", err, res.body)
		}
		if res.accepted == nil || int(resp.GetOperationsCreated()) != len(res.accepted) || resp.GetJob().GetTotalOperations() != resp.GetOperationsCreated() {
			t.Fatalf("HTTP 200 with operations_created %d, total %d; the service accepted %d operations: %s",
				resp.GetOperationsCreated(), resp.GetJob().GetTotalOperations(), len(res.accepted), res.body)
		}
		return nil
	}
	if res.status < 400 {
		t.Fatalf("unexpected HTTP %d: %s", res.status, res.body)
	}
	if res.accepted != nil {
		t.Fatalf("HTTP %d although the service accepted the job: %s", res.status, res.body)
	}
	var st status.Status
	if err := protojson.Unmarshal(res.body, &st); err != nil {
		t.Fatalf("HTTP %d body is not a google.rpc.Status: %v: %s", res.status, err, res.body)
	}
	code := codes.Code(st.GetCode())
	want := runtime.HTTPStatusFromCode(code)
	if code == codes.ResourceExhausted {
		want = http.StatusRequestEntityTooLarge // the body limit; the only RESOURCE_EXHAUSTED on this path
	}
	if code == codes.OK || want != res.status || st.GetMessage() == "" {
		t.Fatalf("HTTP %d with google.rpc.Status code %v (HTTP %d), message %q", res.status, code, want, st.GetMessage())
	}
	switch res.status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
	default:
		t.Fatalf("unexpected HTTP %d: %s", res.status, res.body)
	}
	if res.status == http.StatusUnauthorized && authOK {
		t.Fatalf("HTTP 401 with a valid token: %s", res.body)
	}
	if res.status != http.StatusRequestEntityTooLarge && !authOK && res.status != http.StatusUnauthorized &&
		len(badRequestViolations(t, &st)) > 0 {
		// Validation ran, so auth was skipped: the interceptor is not in front of the service.
		t.Fatalf("validation ran without a valid token: %s", res.body)
	}
	return &st
}

// badRequestViolations returns the field violations of st's BadRequest
// details.
func badRequestViolations(t *testing.T, st *status.Status) []*errdetails.BadRequest_FieldViolation {
	t.Helper()
	var out []*errdetails.BadRequest_FieldViolation
	for _, d := range st.GetDetails() {
		m, err := d.UnmarshalNew()
		if err != nil {
			t.Fatalf("status detail %s: %v", d.GetTypeUrl(), err)
		}
		if br, ok := m.(*errdetails.BadRequest); ok {
			out = append(out, br.GetFieldViolations()...)
		}
	}
	return out
}

// exampleBodies returns the request bodies of deploy/examples.
func exampleBodies(f *testing.F) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", "deploy", "examples", "*.txt"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no deploy/examples/*.txt: %v", err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// textPlainLines splits a text/plain body into lines independently of
// ParseTextPlain: one final LF (and the CR before it) ends the last line
// rather than starting a new one, and the CR of every CRLF is dropped.
func textPlainLines(body string) []string {
	if rest, ok := strings.CutSuffix(body, "\n"); ok {
		body = strings.TrimSuffix(rest, "\r")
	}
	if body == "" {
		return nil
	}
	var lines []string
	for {
		i := strings.IndexByte(body, '\n')
		if i < 0 {
			return append(lines, body)
		}
		lines = append(lines, strings.TrimSuffix(body[:i], "\r"))
		body = body[i+1:]
	}
}

// FuzzGatewayCreateJobTextPlain posts text/plain bodies, with request_id and
// partition_key query parameters, to the real REST gateway. Besides
// checkCommon: a valid token and a body within the limit give 200 or 400
// (never 401/413), a 400 names at least one field violation, and a 200 means
// the service received exactly the body's lines, in order, as expr
// operations.
func FuzzGatewayCreateJobTextPlain(f *testing.F) {
	for _, b := range exampleBodies(f) {
		f.Add(b, "", "", uint8(0))
		f.Add(bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")), "req-1", "tenant-a", uint8(3))
		f.Add(b, "", "", uint8(fuzzChunkedFlag))
		f.Add(b, "", "", uint8(1))
		f.Add(b, "", "", uint8(2))
	}
	for _, s := range []string{
		"", "\n", "\r\n", "69", "1\n\n2\n", "  \n", "\t\r\n", "\r", "a\rb\n", "1 + 2\r",
		"1\xff\n", "\xef\xbf\xbd", strings.Repeat("1", fuzzMaxReqBytes+1), strings.Repeat("1\n", fuzzMaxOps+1),
		strings.Repeat("9", fuzzMaxBody+1),
	} {
		f.Add([]byte(s), "", "", uint8(0))
		f.Add([]byte(s), "", "", uint8(fuzzChunkedFlag))
	}
	f.Add([]byte("69\n"), "bad\nid", "", uint8(0))
	f.Add([]byte("69\n"), strings.Repeat("r", 129), strings.Repeat("k", 257), uint8(0))
	f.Add([]byte("69\n"), "", "\xff", uint8(1<<fuzzCTShift)) // text/plain; charset=utf-8
	g := newFuzzGateway(f)
	f.Fuzz(func(t *testing.T, body []byte, requestID, partitionKey string, flags uint8) {
		q := url.Values{}
		if requestID != "" {
			q.Set("request_id", requestID)
		}
		if partitionKey != "" {
			q.Set("partition_key", partitionKey)
		}
		target := "/v1/jobs"
		if len(q) > 0 {
			target += "?" + q.Encode()
		}
		ct := []string{"text/plain", "text/plain; charset=utf-8", "Text/Plain"}[int(flags>>fuzzCTShift)%fuzzTextPlainCTs]
		res := g.post(t, target, ct, body, flags)
		st := checkCommon(t, body, flags, res)
		authOK := flags%fuzzAuthModes == 0 || flags%fuzzAuthModes == 3
		lines := textPlainLines(string(body))
		if got := ParseTextPlain(string(body)); len(got) != len(lines) {
			t.Fatalf("ParseTextPlain(%q) has %d operations, want %d lines", body, len(got), len(lines))
		}
		switch {
		case len(body) > fuzzMaxBody:
			return // 413, checked by checkCommon
		case !authOK:
			if res.status != http.StatusUnauthorized {
				t.Fatalf("HTTP %d without a valid token: %s", res.status, res.body)
			}
			return
		case res.status == http.StatusBadRequest:
			// The gateway builds valid JSON itself: every 400 comes from
			// validation and names what is wrong.
			if len(badRequestViolations(t, st)) == 0 {
				t.Fatalf("HTTP 400 without field violations for %q: %s", body, res.body)
			}
			return
		case res.status != http.StatusOK:
			t.Fatalf("HTTP %d for %q: %s", res.status, body, res.body)
		}
		var resp jobsv1.CreateJobResponse
		if err := protojson.Unmarshal(res.body, &resp); err != nil {
			t.Fatal(err)
		}
		// Query parameters reach the service unchanged.
		if resp.GetJob().GetRequestId() != requestID || resp.GetJob().GetPartitionKey() != partitionKey {
			t.Fatalf("request_id %q, partition_key %q accepted as %q, %q", requestID, partitionKey, resp.GetJob().GetRequestId(), resp.GetJob().GetPartitionKey())
		}
		if len(res.accepted) != len(lines) {
			t.Fatalf("HTTP 200 with %d operations for %d lines of %q", len(res.accepted), len(lines), body)
		}
		// Invalid UTF-8 is a 400 naming the line, so a 200 means every
		// line arrived exactly as sent.
		for i, op := range res.accepted {
			if op.Type != "expr" {
				t.Fatalf("line %d accepted as type %q, want expr", i+1, op.Type)
			}
			if op.Request != lines[i] {
				t.Fatalf("line %d of %q accepted as %q, want %q", i+1, body, op.Request, lines[i])
			}
		}
	})
}

// FuzzGatewayCreateJobJSON posts JSON bodies to the real REST gateway.
// Besides checkCommon: a 200 means the service received the operations of
// the body (counted and compared with encoding/json, a parser independent of
// the gateway's protojson), with the default type expr; an unauthenticated
// request is never 200.
func FuzzGatewayCreateJobJSON(f *testing.F) {
	for _, b := range exampleBodies(f) {
		ops := make([]map[string]string, 0)
		for _, l := range textPlainLines(string(b)) {
			ops = append(ops, map[string]string{"request": l})
		}
		js, err := json.Marshal(map[string]any{"operations": ops, "request_id": "req-1"})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(js, uint8(0))
		f.Add(js, uint8(1))
		f.Add(js, uint8(fuzzChunkedFlag|3))
	}
	for _, s := range []string{
		`{"operations":[{"request":"1 + 2"}]}`,
		`{"operations":[{"type":"encrypt","request":"x"}],"request_id":"r","partition_key":"k"}`,
		`{"operations":[{"type":"sql","request":"1"}]}`,
		`{"operations":[{"type":"Bad Type","request":"1"}]}`,
		`{"operations":[{"request":"1"}],"requestId":"camel","partitionKey":"k"}`,
		`{"operations":[{"request":"1"}]} trailing`,
		`{"operations":[{"request":"1"},{"request":"  "}]}`,
		`{"operations":[{"request":"\ud800"}]}`,
		`{"operations":[{"request":"1"}],"operations":[]}`,
		`{"operations":[{"request":"1","Request":"2"}]}`,
		`{"Operations":[{"request":"1"}]}`,
		`{"operations":[null]}`, `{"operations":null}`, `{"operations":[]}`,
		`{}`, `[]`, `null`, ``, `{`, `"x"`, `{"unknown":1}`,
		`{"operations":[{"request":"` + strings.Repeat("1", fuzzMaxReqBytes+1) + `"}]}`,
		`{"operations":[` + strings.TrimSuffix(strings.Repeat(`{"request":"1"},`, fuzzMaxOps+1), ",") + `]}`,
		`{"operations":[{"request":"1"}],"request_id":"` + strings.Repeat("r", fuzzMaxBody) + `"}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	g := newFuzzGateway(f)
	f.Fuzz(func(t *testing.T, body []byte, flags uint8) {
		res := g.post(t, "/v1/jobs", "application/json", body, flags)
		checkCommon(t, body, flags, res)
		if res.status != http.StatusOK {
			return
		}
		var sent struct {
			Operations []struct {
				Type    string `json:"type"`
				Request string `json:"request"`
			} `json:"operations"`
		}
		// The gateway reads the first JSON value of the body, like this.
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&sent); err != nil {
			t.Fatalf("HTTP 200 for a body encoding/json rejects (%v): %q", err, body)
		}
		if len(sent.Operations) != len(res.accepted) {
			t.Fatalf("HTTP 200 with %d operations accepted for %d sent: %q", len(res.accepted), len(sent.Operations), body)
		}
		for i, op := range sent.Operations {
			want := store.OpInput{Type: op.Type, Request: op.Request}
			if want.Type == "" {
				want.Type = "expr"
			}
			if res.accepted[i] != want {
				t.Fatalf("operation %d sent as %+v, accepted as %+v: %q", i, want, res.accepted[i], body)
			}
		}
	})
}

// TestGatewayFuzzSetup checks that the fuzz harness reaches each outcome it
// claims to check, so that the properties are not vacuous.
func TestGatewayFuzzSetup(t *testing.T) {
	t.Parallel()
	g := newFuzzGateway(t)
	tests := []struct {
		ct     string
		body   string
		flags  uint8
		status int
	}{
		{"text/plain", "69\n1 + 2\n", 0, http.StatusOK},
		{"text/plain", "69\n\n", 0, http.StatusBadRequest},
		{"text/plain", "69\n", 1, http.StatusUnauthorized},
		{"text/plain", "69\n", 2, http.StatusUnauthorized},
		{"text/plain", strings.Repeat("1", fuzzMaxBody+1), 0, http.StatusRequestEntityTooLarge},
		{"text/plain", strings.Repeat("1", fuzzMaxBody+1), fuzzChunkedFlag, http.StatusRequestEntityTooLarge},
		{"application/json", `{"operations":[{"request":"1"}]}`, 3, http.StatusOK},
		{"application/json", `{`, 0, http.StatusBadRequest},
	}
	for _, tt := range tests {
		res := g.post(t, "/v1/jobs", tt.ct, []byte(tt.body), tt.flags)
		if res.status != tt.status {
			t.Errorf("%s %q flags %d: HTTP %d, want %d: %s", tt.ct, tt.body, tt.flags, res.status, tt.status, res.body)
			continue
		}
		if res.status == http.StatusOK && len(res.accepted) == 0 {
			t.Errorf("%s %q: HTTP 200 but the service recorded no operations", tt.ct, tt.body)
		}
	}
	for body, want := range map[string][]string{"": nil, "\r\n": nil, "1\r\n2\r\n": {"1", "2"}, "1\n\n": {"1", ""}, "\r": {"\r"}} {
		if got := textPlainLines(body); !slices.Equal(got, want) {
			t.Errorf("textPlainLines(%q) = %q, want %q", body, got, want)
		}
	}
}
