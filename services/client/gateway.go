package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	clusterv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/cluster/v1"
	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	metricsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/metrics/v1"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
)

// newGateway returns the REST handler: grpc-gateway over a gRPC connection to
// this service (so that auth, validation and error conversion are the same
// for both APIs), JSON with proto field names, text/plain job bodies, a body
// size limit (413), 404 for unknown routes and 405 for wrong methods.
func newGateway(ctx context.Context, conn *grpc.ClientConn, maxBody int64) (http.Handler, error) {
	jsonpb := &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, jsonpb),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
		runtime.WithIncomingHeaderMatcher(func(key string) (string, bool) {
			if strings.EqualFold(key, sourceHeader) {
				return sourceHeader, true
			}
			if strings.EqualFold(key, invalidUTF8Header) {
				return invalidUTF8Header, true
			}
			return runtime.DefaultHeaderMatcher(key)
		}),
	)
	for _, register := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		jobsv1.RegisterJobServiceHandler, clusterv1.RegisterClusterServiceHandler, metricsv1.RegisterMetricServiceHandler,
	} {
		if err := register(ctx, mux, conn); err != nil {
			return nil, fmt.Errorf("register gateway: %w", err)
		}
	}
	return limitBody(maxBody, textPlainJobs(mux)), nil
}

// routingErrorHandler answers 405 for a known path with the wrong method
// (grpc-gateway would answer 501) and 404 for unknown paths.
func routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if httpStatus == http.StatusMethodNotAllowed {
		writeStatus(w, http.StatusMethodNotAllowed, codes.Unimplemented, fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path))
		return
	}
	runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
}

// writeStatus writes a google.rpc.Status JSON body.
func writeStatus(w http.ResponseWriter, httpStatus int, code codes.Code, msg string) {
	body, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(&status.Status{Code: int32(code), Message: msg}) // #nosec G115 -- gRPC codes are 0..16
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}

// limitBody reads request bodies up to max bytes; larger bodies get 413.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		tooLarge := func() {
			writeStatus(w, http.StatusRequestEntityTooLarge, codes.ResourceExhausted, fmt.Sprintf("request body exceeds %d bytes", max))
		}
		if r.ContentLength > max {
			tooLarge()
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				tooLarge()
				return
			}
			writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, "could not read request body")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// textPlainJobs turns a text/plain `POST /v1/jobs` into the JSON
// CreateJobRequest: one `expr` operation per line. A final newline and CRLF
// line endings are tolerated; blank lines are kept so that validation names
// them by line number. `request_id` and `partition_key` may be given as query
// parameters.
func textPlainJobs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if r.Method != http.MethodPost || r.URL.Path != "/v1/jobs" || mt != "text/plain" {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		ops := ParseTextPlain(string(body))
		req := map[string]any{"operations": ops}
		// JSON cannot carry invalid UTF-8 (json.Marshal would replace it
		// with U+FFFD): name the fields that had it, so that validation,
		// after authentication, rejects them with their line number.
		var invalid []string
		for i, op := range ops {
			if !utf8.ValidString(op.Request) {
				invalid = append(invalid, fmt.Sprintf("operations[%d].request", i))
			}
		}
		q := r.URL.Query()
		for _, name := range []string{"request_id", "partition_key"} {
			if v := q.Get(name); v != "" {
				req[name] = v
				// request_id must be printable ASCII, which the U+FFFD that
				// JSON puts for invalid bytes is not; partition_key may be
				// any UTF-8, so its invalid bytes are flagged.
				if name == "partition_key" && !utf8.ValidString(v) {
					invalid = append(invalid, name)
				}
			}
		}
		js, _ := json.Marshal(req)
		r.Body = io.NopCloser(bytes.NewReader(js))
		r.ContentLength = int64(len(js))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(sourceHeader, "text/plain")
		r.Header.Del(invalidUTF8Header)
		if len(invalid) > 0 {
			r.Header.Set(invalidUTF8Header, strings.Join(invalid, ","))
		}
		next.ServeHTTP(w, r)
	})
}

// textOp is one operation of a text/plain body.
type textOp struct {
	Request string `json:"request"`
}

// ParseTextPlain splits a text/plain job body into operations, one per line.
// A single final line ending (LF or CRLF) is dropped and the CR of every CRLF
// removed; empty and blank lines are returned as they are (validation rejects
// them with their line number). An empty body has no operations.
func ParseTextPlain(body string) []textOp {
	if strings.HasSuffix(body, "\n") {
		body = strings.TrimSuffix(strings.TrimSuffix(body, "\n"), "\r")
	}
	if body == "" {
		return []textOp{}
	}
	lines := strings.Split(body, "\n")
	ops := make([]textOp, len(lines))
	for i, l := range lines {
		if i < len(lines)-1 { // followed by LF: a CR before it is part of CRLF
			l = strings.TrimSuffix(l, "\r")
		}
		ops[i] = textOp{Request: l}
	}
	return ops
}
