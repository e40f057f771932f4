package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/jobplane/jobplane/pkg/metricsagg"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/telemetry"
	"github.com/segmentio/kafka-go"
)

// metricConcurrency bounds the names of a batch merged at once.
const metricConcurrency = 8

// metricAggregator consumes the metric topic: each batch of a partition is
// grouped by name and merged into each name's document (read by `_id`,
// merge, replace by `_id`), then the partition's watermark is written, then
// the consumer commits. The partition's consumer is the only writer of
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
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, metricConcurrency)
	)
	for _, n := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := a.merge(ctx, n, partition, groups[n]); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return a.store.SetMetricWatermark(ctx, a.topic, partition, msgs[len(msgs)-1].Offset)
}

func (a *metricAggregator) merge(ctx context.Context, name string, partition int, points []metricsagg.Point) error {
	m, err := a.store.GetMetric(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		m = &store.Metric{Name: name, Partition: partition, Offset: -1}
	case err != nil:
		return err
	}
	added, err := metricsagg.Merge(m, partition, points)
	if err != nil {
		return fmt.Errorf("merge metric %s: %w", name, err)
	}
	if added == 0 {
		return nil
	}
	return a.store.PutMetric(ctx, m)
}
