package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	metricsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/metrics/v1"
	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/jobplane/jobplane/pkg/metricsagg"
	"github.com/jobplane/jobplane/pkg/partition"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// maxBatchSamples bounds BatchRecordMetrics.
const maxBatchSamples = 10000

// metricService implements MetricService: samples go to the metric topic
// keyed by name; reads come from the aggregate the server pool keeps in
// MongoDB, and Kafka's end offsets tell whether it is behind.
type metricService struct {
	metricsv1.UnimplementedMetricServiceServer
	cfg    *Config
	store  *store.Store
	writer *kafka.Writer
	kafka  *kafka.Client
	log    *slog.Logger
}

func newMetricService(cfg *Config, st *store.Store, writer *kafka.Writer, conn queue.Conn, log *slog.Logger) *metricService {
	kc := &kafka.Client{Addr: kafka.TCP(cfg.Kafka.Brokers...), Timeout: 5 * time.Second}
	if conn.Transport != nil {
		kc.Transport = conn.Transport
	}
	return &metricService{cfg: cfg, store: st, writer: writer, kafka: kc, log: log}
}

func checkSample(v *validationError, field, name string, value float64) {
	if !metricsagg.ValidName(name) {
		v.add(field+"metric_name", "%q is not a metric name (letters, digits, _ . -, starting with a letter or _, at most 128)", name)
	}
	if !metricsagg.ValidValue(value) {
		v.add(field+"value", "must be a finite number")
	}
}

func sampleTime(ts *timestamppb.Timestamp, now time.Time) time.Time {
	if ts == nil {
		return now
	}
	return ts.AsTime()
}

func (s *metricService) publish(ctx context.Context, samples []*queuev1.MetricSample) error {
	msgs := make([]kafka.Message, 0, len(samples))
	for _, smp := range samples {
		m, err := metricsagg.Encode(s.cfg.Kafka.MetricTopic, smp)
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	if err := s.writer.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("%w: publish metric samples: %v", errUnavailable, err)
	}
	return nil
}

func (s *metricService) RecordMetric(ctx context.Context, req *metricsv1.RecordMetricRequest) (*metricsv1.RecordMetricResponse, error) {
	v := &validationError{}
	checkSample(v, "", req.GetMetricName(), req.GetValue())
	if req.GetTime() != nil && !req.GetTime().IsValid() {
		v.add("time", "is not a valid timestamp")
	}
	if err := v.errOrNil(); err != nil {
		return nil, err
	}
	smp := metricsagg.NewSample(req.GetMetricName(), req.GetValue(), sampleTime(req.GetTime(), time.Now()))
	if err := s.publish(ctx, []*queuev1.MetricSample{smp}); err != nil {
		return nil, err
	}
	p := partition.Partition([]byte(req.GetMetricName()), s.cfg.Kafka.Partitions)
	return &metricsv1.RecordMetricResponse{Success: true, Message: fmt.Sprintf("metric recorded on partition %d", p)}, nil
}

func (s *metricService) BatchRecordMetrics(ctx context.Context, req *metricsv1.BatchRecordMetricsRequest) (*metricsv1.BatchRecordMetricsResponse, error) {
	v := &validationError{}
	switch n := len(req.GetSamples()); {
	case n == 0:
		v.add("samples", "at least one sample is required")
	case n > maxBatchSamples:
		v.add("samples", "%d samples exceed the maximum of %d", n, maxBatchSamples)
	}
	now := time.Now()
	samples := make([]*queuev1.MetricSample, 0, len(req.GetSamples()))
	for i, smp := range req.GetSamples() {
		if len(v.violations) >= 20 {
			v.add("samples", "too many problems, stopped at sample %d", i)
			break
		}
		checkSample(v, fmt.Sprintf("samples[%d].", i), smp.GetMetricName(), smp.GetValue())
		if smp.GetTime() != nil && !smp.GetTime().IsValid() {
			v.add(fmt.Sprintf("samples[%d].time", i), "is not a valid timestamp")
		}
		samples = append(samples, metricsagg.NewSample(smp.GetMetricName(), smp.GetValue(), sampleTime(smp.GetTime(), now)))
	}
	if err := v.errOrNil(); err != nil {
		return nil, err
	}
	if err := s.publish(ctx, samples); err != nil {
		return nil, err
	}
	return &metricsv1.BatchRecordMetricsResponse{Success: true, Recorded: count32(int64(len(samples)))}, nil
}

func (s *metricService) getMetric(ctx context.Context, name string) (*store.Metric, error) {
	if !metricsagg.ValidName(name) {
		return nil, invalid("metric_name", "%q is not a metric name", name)
	}
	m, err := s.store.GetMetric(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &notFoundError{reason: "METRIC_NOT_FOUND", resource: "metric", id: name}
	}
	return m, err
}

func (s *metricService) GetMetric(ctx context.Context, req *metricsv1.GetMetricRequest) (*metricsv1.GetMetricResponse, error) {
	m, err := s.getMetric(ctx, req.GetMetricName())
	if err != nil {
		return nil, err
	}
	resp := &metricsv1.GetMetricResponse{MetricName: m.Name, Count: m.Count,
		Values: make([]float64, 0, len(m.Recent)), Timestamps: make([]*timestamppb.Timestamp, 0, len(m.Recent))}
	for _, p := range m.Recent {
		resp.Values = append(resp.Values, p.Value)
		resp.Timestamps = append(resp.Timestamps, timestamppb.New(p.Time))
	}
	if len(m.Recent) > 0 {
		resp.Timestamp = timestamppb.New(m.Recent[len(m.Recent)-1].Time)
	}
	return resp, nil
}

func (s *metricService) AggregateMetric(ctx context.Context, req *metricsv1.AggregateMetricRequest) (*metricsv1.AggregateMetricResponse, error) {
	name := req.GetMetricName()
	if !metricsagg.ValidName(name) {
		return nil, invalid("metric_name", "%q is not a metric name", name)
	}
	behind := s.behind(ctx, name)
	m, err := s.store.GetMetric(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		if behind {
			// Accepted samples may be of this metric: not aggregated yet.
			return &metricsv1.AggregateMetricResponse{MetricName: name, IsPartial: true}, nil
		}
		return nil, &notFoundError{reason: "METRIC_NOT_FOUND", resource: "metric", id: name}
	}
	if err != nil {
		return nil, err
	}
	sum, err := metricsagg.Summarize(m)
	if err != nil {
		return nil, err
	}
	return &metricsv1.AggregateMetricResponse{
		MetricName: name, Count: sum.Count, Sum: sum.Sum, Mean: sum.Mean, Min: sum.Min, Max: sum.Max,
		P50: sum.P50, P90: sum.P90, P99: sum.P99,
		FirstTimestamp: timestamppb.New(sum.FirstTime), LastTimestamp: timestamppb.New(sum.LastTime),
		Timestamp: timestamppb.New(m.UpdateTime), IsPartial: behind,
	}, nil
}

// behind reports whether the name's partition holds samples that are not
// merged yet: its end offset is past the aggregator's watermark. When Kafka
// cannot be asked, the answer is conservatively true.
func (s *metricService) behind(ctx context.Context, name string) bool {
	p := partition.Partition([]byte(name), s.cfg.Kafka.Partitions)
	topic := s.cfg.Kafka.MetricTopic
	resp, err := s.kafka.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(p)}},
	})
	if err != nil || len(resp.Topics[topic]) != 1 || resp.Topics[topic][0].Error != nil {
		s.log.WarnContext(ctx, "metric partition end offset unknown", "partition", p, "err", err)
		return true
	}
	end := resp.Topics[topic][0].LastOffset // the next offset to be written
	wm, err := s.store.MetricWatermark(ctx, topic, p)
	if err != nil {
		return true
	}
	return wm+1 < end
}
