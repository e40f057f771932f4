package sdk_test

import (
	"context"
	"fmt"
	"log"
	"net"

	clusterv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/cluster/v1"
	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	metricsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/metrics/v1"
	"github.com/jobplane/jobplane/pkg/sdk"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// fake stands in for a client service in the examples (a real one is
// `make run`, on 127.0.0.1:50051 with token local-dev-token-123).
type fake struct {
	jobsv1.UnimplementedJobServiceServer
	clusterv1.UnimplementedClusterServiceServer
	metricsv1.UnimplementedMetricServiceServer
	values []float64
}

func authorized(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("authorization"); len(v) == 0 || v[0] != "Bearer local-dev-token-123" {
		return status.Error(codes.Unauthenticated, "invalid bearer token")
	}
	return nil
}

func (f *fake) CreateJob(ctx context.Context, req *jobsv1.CreateJobRequest) (*jobsv1.CreateJobResponse, error) {
	if err := authorized(ctx); err != nil {
		return nil, err
	}
	n := int32(len(req.GetOperations())) // #nosec G115 -- a handful in the examples
	return &jobsv1.CreateJobResponse{Job: &jobsv1.Job{Id: "0190f8a2-1234-7abc-8def-0123456789ab", State: jobsv1.JobState_JOB_STATE_PENDING,
		TotalOperations: n, OperationCounts: &jobsv1.OperationCounts{Pending: n}}, OperationsCreated: n}, nil
}

func (f *fake) WatchJob(req *jobsv1.WatchJobRequest, s jobsv1.JobService_WatchJobServer) error {
	for done := int32(1); done <= 2; done++ {
		state := jobsv1.JobState_JOB_STATE_RUNNING
		if done == 2 {
			state = jobsv1.JobState_JOB_STATE_SUCCEEDED
		}
		j := &jobsv1.Job{Id: req.GetId(), State: state, TotalOperations: 2, OperationCounts: &jobsv1.OperationCounts{Succeeded: done, Pending: 2 - done}}
		if err := s.Send(&jobsv1.WatchJobResponse{Job: j}); err != nil {
			return err
		}
	}
	return nil
}

func (f *fake) GetClusterStats(context.Context, *clusterv1.GetClusterStatsRequest) (*clusterv1.GetClusterStatsResponse, error) {
	return &clusterv1.GetClusterStatsResponse{TotalNodes: 3, RespondingNodes: 2, IsPartial: true,
		Nodes: []*clusterv1.NodeEntry{{NodeId: "client-0", Responding: true}, {NodeId: "server-0", Responding: true}, {NodeId: "server-1", Error: "Unavailable: connection refused"}}}, nil
}

func (f *fake) RecordMetric(_ context.Context, req *metricsv1.RecordMetricRequest) (*metricsv1.RecordMetricResponse, error) {
	f.values = append(f.values, req.GetValue())
	return &metricsv1.RecordMetricResponse{Success: true}, nil
}

func (f *fake) AggregateMetric(_ context.Context, req *metricsv1.AggregateMetricRequest) (*metricsv1.AggregateMetricResponse, error) {
	r := &metricsv1.AggregateMetricResponse{MetricName: req.GetMetricName(), Count: int64(len(f.values))}
	for i, v := range f.values {
		r.Sum += v
		if i == 0 || v < r.Min {
			r.Min = v
		}
		if i == 0 || v > r.Max {
			r.Max = v
		}
	}
	r.Mean = r.Sum / float64(r.Count)
	return r, nil
}

// serve starts the fake and returns its address and a stop function.
func serve() (string, func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer()
	f := &fake{}
	jobsv1.RegisterJobServiceServer(s, f)
	clusterv1.RegisterClusterServiceServer(s, f)
	metricsv1.RegisterMetricServiceServer(s, f)
	go func() { _ = s.Serve(lis) }()
	return lis.Addr().String(), s.Stop
}

func Example() {
	addr, stop := serve()
	defer stop()
	ctx := context.Background()

	c, err := sdk.Dial(addr, sdk.WithToken("local-dev-token-123"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	job, err := c.CreateJob(ctx, []string{"1 + 2", "3 * 4"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(job.GetState(), job.GetTotalOperations())
	final, err := c.WatchJob(ctx, job.GetId(), func(j *jobsv1.Job) {
		fmt.Printf("%d/%d done\n", j.GetOperationCounts().GetSucceeded(), j.GetTotalOperations())
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(final.GetState())
	// Output:
	// JOB_STATE_PENDING 2
	// 1/2 done
	// 2/2 done
	// JOB_STATE_SUCCEEDED
}

func ExampleWithToken() {
	addr, stop := serve()
	defer stop()
	c, err := sdk.Dial(addr) // no token
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	_, err = c.CreateJob(context.Background(), []string{"69"})
	fmt.Println(status.Code(err))
	// Output: Unauthenticated
}

func ExampleClient_ClusterStats() {
	addr, stop := serve()
	defer stop()
	c, err := sdk.Dial(addr, sdk.WithToken("local-dev-token-123"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	st, err := c.ClusterStats(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("partial=%v responding=%d/%d\n", st.GetIsPartial(), st.GetRespondingNodes(), st.GetTotalNodes())
	for _, n := range st.GetNodes() {
		fmt.Println(n.GetNodeId(), n.GetResponding())
	}
	// Output:
	// partial=true responding=2/3
	// client-0 true
	// server-0 true
	// server-1 false
}

func ExampleClient_AggregateMetric() {
	addr, stop := serve()
	defer stop()
	ctx := context.Background()
	c, err := sdk.Dial(addr, sdk.WithToken("local-dev-token-123"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for _, v := range []float64{75.5, 80.2, 70.1} {
		if err := c.RecordMetric(ctx, "cpu_usage", v); err != nil {
			log.Fatal(err)
		}
	}
	a, err := c.AggregateMetric(ctx, "cpu_usage")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("count %d sum %.1f mean %.2f min %.1f max %.1f\n", a.GetCount(), a.GetSum(), a.GetMean(), a.GetMin(), a.GetMax())
	// Output: count 3 sum 225.8 mean 75.27 min 70.1 max 80.2
}

func ExampleWithTLSFiles() {
	// With `make run ARGS=--tls`: the development CA and client certificate.
	_, err := sdk.Dial("127.0.0.1:50051", sdk.WithToken("local-dev-token-123"),
		sdk.WithTLSFiles("does-not-exist/ca.pem", "", ""))
	fmt.Println(err != nil)
	// Output: true
}
