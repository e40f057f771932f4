// Package sdk is the Go client of jobplane: a typed gRPC client for jobs
// (create, read, list, watch, cancel, delete, aggregate), cluster stats and
// metrics, with bearer-token and TLS options.
//
//	c, err := sdk.Dial("127.0.0.1:50051", sdk.WithToken("local-dev-token-123"))
//	if err != nil { ... }
//	defer c.Close()
//	job, err := c.CreateJob(ctx, []string{"1 + 2", "3 * 4"})
//	job, err = c.WatchJob(ctx, job.GetId(), func(j *jobsv1.Job) { ... })
//
// Errors are the services' gRPC statuses (status.Code(err) tells
// NotFound, InvalidArgument, Unauthenticated, ...).
package sdk

import (
	"context"
	"crypto/tls"
	"errors"
	"io"

	clusterv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/cluster/v1"
	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	metricsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/metrics/v1"
	"github.com/jobplane/jobplane/pkg/tlsconfig"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Option configures Dial.
type Option func(*options) error

type options struct {
	token string
	tls   *tls.Config
	dial  []grpc.DialOption
}

// WithToken sends `Authorization: Bearer <token>` with every call.
func WithToken(token string) Option {
	return func(o *options) error { o.token = token; return nil }
}

// WithTLS uses TLS with the given configuration (nil: the system roots).
func WithTLS(cfg *tls.Config) Option {
	return func(o *options) error {
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS13}
		}
		o.tls = cfg
		return nil
	}
}

// WithTLSFiles uses TLS 1.3 trusting the CA certificates in caFile (empty:
// the system roots) and, for mutual TLS, presenting certFile/keyFile (both
// empty: no client certificate) — the files `devstack --tls` writes.
func WithTLSFiles(caFile, certFile, keyFile string) Option {
	return func(o *options) error {
		cfg, err := tlsconfig.Client(caFile, certFile, keyFile)
		if err != nil {
			return err
		}
		o.tls = cfg
		return nil
	}
}

// WithDialOptions adds gRPC dial options.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) error { o.dial = append(o.dial, opts...); return nil }
}

// bearer is the per-call token. It is sent over plaintext too (the local
// stack); use TLS anywhere else.
type bearer struct{ token string }

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}
func (b bearer) RequireTransportSecurity() bool { return false }

// Client is a connection to a client service. Safe for concurrent use.
type Client struct {
	conn    *grpc.ClientConn
	Jobs    jobsv1.JobServiceClient
	Cluster clusterv1.ClusterServiceClient
	Nodes   clusterv1.NodeServiceClient
	Metrics metricsv1.MetricServiceClient
}

// Dial returns a client of the service at addr (host:port). It connects
// lazily, on the first call.
func Dial(addr string, opts ...Option) (*Client, error) {
	o := &options{}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	creds := insecure.NewCredentials()
	if o.tls != nil {
		creds = credentials.NewTLS(o.tls)
	}
	dial := append([]grpc.DialOption{grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20), grpc.MaxCallSendMsgSize(16<<20))}, o.dial...)
	if o.token != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(bearer{o.token}))
	}
	conn, err := grpc.NewClient(addr, dial...)
	if err != nil {
		return nil, err
	}
	return &Client{conn: conn, Jobs: jobsv1.NewJobServiceClient(conn), Cluster: clusterv1.NewClusterServiceClient(conn),
		Nodes: clusterv1.NewNodeServiceClient(conn), Metrics: metricsv1.NewMetricServiceClient(conn)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// CreateJob creates a job of `expr` operations, one per expression.
func (c *Client) CreateJob(ctx context.Context, exprs []string) (*jobsv1.Job, error) {
	req := &jobsv1.CreateJobRequest{Operations: make([]*jobsv1.OperationInput, len(exprs))}
	for i, e := range exprs {
		req.Operations[i] = &jobsv1.OperationInput{Request: e}
	}
	resp, err := c.Jobs.CreateJob(ctx, req)
	return resp.GetJob(), err
}

// GetJob returns a job.
func (c *Client) GetJob(ctx context.Context, id string) (*jobsv1.Job, error) {
	resp, err := c.Jobs.GetJob(ctx, &jobsv1.GetJobRequest{Id: id})
	return resp.GetJob(), err
}

// ListJobs returns a page of jobs (newest first) and the next page token.
func (c *Client) ListJobs(ctx context.Context, filter string, pageSize int32, pageToken string) ([]*jobsv1.Job, string, error) {
	resp, err := c.Jobs.ListJobs(ctx, &jobsv1.ListJobsRequest{Filter: filter, PageSize: pageSize, PageToken: pageToken})
	return resp.GetJobs(), resp.GetNextPageToken(), err
}

// ListOperations returns a page of a job's operations and the next page
// token.
func (c *Client) ListOperations(ctx context.Context, jobID, filter string, pageSize int32, pageToken string) ([]*jobsv1.Operation, string, error) {
	resp, err := c.Jobs.ListJobOperations(ctx, &jobsv1.ListJobOperationsRequest{JobId: jobID, Filter: filter, PageSize: pageSize, PageToken: pageToken})
	return resp.GetOperations(), resp.GetNextPageToken(), err
}

// CancelJob cancels the job's unfinished operations.
func (c *Client) CancelJob(ctx context.Context, id string) (*jobsv1.Job, error) {
	resp, err := c.Jobs.CancelJob(ctx, &jobsv1.CancelJobRequest{Id: id})
	return resp.GetJob(), err
}

// DeleteJob deletes a job and its operations.
func (c *Client) DeleteJob(ctx context.Context, id string) error {
	_, err := c.Jobs.DeleteJob(ctx, &jobsv1.DeleteJobRequest{Id: id})
	return err
}

// AggregateJob returns the statistics of a job's numeric results.
func (c *Client) AggregateJob(ctx context.Context, id string) (*jobsv1.AggregateJobResponse, error) {
	return c.Jobs.AggregateJob(ctx, &jobsv1.AggregateJobRequest{Id: id})
}

// WatchJob follows a job until it is terminal, calling progress (if not
// nil) with every change, and returns the terminal job.
func (c *Client) WatchJob(ctx context.Context, id string, progress func(*jobsv1.Job)) (*jobsv1.Job, error) {
	stream, err := c.Jobs.WatchJob(ctx, &jobsv1.WatchJobRequest{Id: id})
	if err != nil {
		return nil, err
	}
	var last *jobsv1.Job
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if last == nil {
				return nil, errors.New("watch ended without any update")
			}
			return last, nil
		}
		if err != nil {
			return last, err
		}
		last = resp.GetJob()
		if progress != nil {
			progress(last)
		}
	}
}

// ClusterStats asks every node for its stats (see ClusterService).
func (c *Client) ClusterStats(ctx context.Context) (*clusterv1.GetClusterStatsResponse, error) {
	return c.Cluster.GetClusterStats(ctx, &clusterv1.GetClusterStatsRequest{})
}

// RecordMetric records one sample, observed now.
func (c *Client) RecordMetric(ctx context.Context, name string, value float64) error {
	_, err := c.Metrics.RecordMetric(ctx, &metricsv1.RecordMetricRequest{MetricName: name, Value: value})
	return err
}

// RecordMetrics records many samples at once (all or none).
func (c *Client) RecordMetrics(ctx context.Context, samples []*metricsv1.Sample) error {
	_, err := c.Metrics.BatchRecordMetrics(ctx, &metricsv1.BatchRecordMetricsRequest{Samples: samples})
	return err
}

// GetMetric returns a metric's recent values.
func (c *Client) GetMetric(ctx context.Context, name string) (*metricsv1.GetMetricResponse, error) {
	return c.Metrics.GetMetric(ctx, &metricsv1.GetMetricRequest{MetricName: name})
}

// AggregateMetric returns a metric's aggregates.
func (c *Client) AggregateMetric(ctx context.Context, name string) (*metricsv1.AggregateMetricResponse, error) {
	return c.Metrics.AggregateMetric(ctx, &metricsv1.AggregateMetricRequest{MetricName: name})
}

// IsTerminal reports whether a job state is final.
func IsTerminal(s jobsv1.JobState) bool {
	return s == jobsv1.JobState_JOB_STATE_SUCCEEDED || s == jobsv1.JobState_JOB_STATE_FAILED || s == jobsv1.JobState_JOB_STATE_CANCELLED
}
