package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jobplane/jobplane/pkg/metricsagg"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/telemetry"
	"github.com/segmentio/kafka-go"
)

// metricAggregator consumes the metric topic: each batch of a partition is
// grouped by name and merged into each name's document (the batch's names
// read by `_id` together, merged, the changed ones replaced by `_id`), then
// the partition's watermark is written, then the consumer commits. The partition's consumer is the only writer of
// those documents. A redelivered batch is skipped by the offset each
// document records; an undecodable message is logged and skipped.
type metricAggregator struct {
	store   *store.Store
	topic   string
	metrics *telemetry.Metrics
	log     *slog.Logger
}

func (a *metricAggregator) handle(ctx context.Context, partition int, msgs []kafka.Message) error {
	a.metrics.ConsumerReceived.WithLabelValues(a.topic).Add(float64(len(msgs)))
	groups := map[string][]metricsagg.Point{}
	var names []string
	for i := range msgs {
		s, err := metricsagg.Decode(&msgs[i])
		if err != nil {
			a.metrics.ConsumerErrors.WithLabelValues(a.topic).Inc()
			a.log.Error("undecodable metric sample skipped", "partition", partition, "offset", msgs[i].Offset, "err", err)
			continue
		}
		n := s.GetMetricName()
		if _, ok := groups[n]; !ok {
			names = append(names, n)
		}
		groups[n] = append(groups[n], metricsagg.Point{Value: s.GetValue(), Time: s.GetTime().AsTime(), Offset: msgs[i].Offset})
	}
	current, err := a.store.GetMetrics(ctx, names)
	if err != nil {
		return err
	}
	var changed []*store.Metric
	for i, n := range names {
		m := current[i]
		if m == nil {
			m = &store.Metric{Name: n, Partition: partition, Offset: -1}
		}
		added, err := metricsagg.Merge(m, partition, groups[n])
		if err != nil {
			return fmt.Errorf("merge metric %s: %w", n, err)
		}
		if added > 0 {
			changed = append(changed, m)
		}
	}
	if err := a.store.PutMetrics(ctx, changed); err != nil {
		return err
	}
	return a.store.SetMetricWatermark(ctx, a.topic, partition, msgs[len(msgs)-1].Offset)
}
