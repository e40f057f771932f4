package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// MetricPoint is one recent sample of a metric.
type MetricPoint struct {
	Value float64   `bson:"v"`
	Time  time.Time `bson:"t"`
}

// Metric is the aggregate of one metric name (collection `metrics`, `_id` =
// name). Its single writer is the consumer of the metric-topic partition
// the name hashes to; a batch of that partition is merged into it with one
// replace by `_id`. Partition and Offset record the last message merged, so
// a redelivered batch is not counted twice.
type Metric struct {
	Name       string    `bson:"_id"`
	Count      int64     `bson:"count"`
	Sum        float64   `bson:"sum"`
	Min        float64   `bson:"min"`
	Max        float64   `bson:"max"`
	FirstTime  time.Time `bson:"first_time"`
	LastTime   time.Time `bson:"last_time"`
	UpdateTime time.Time `bson:"update_time"`
	// Sketch is a serialized DDSketch of every value (package metricsagg).
	Sketch []byte `bson:"sketch"`
	// Recent holds the latest values, oldest first.
	Recent    []MetricPoint `bson:"recent"`
	Partition int           `bson:"partition"`
	Offset    int64         `bson:"offset"`
}

// metricWatermark is the last offset of a metric-topic partition whose
// samples are all merged (collection `metric_watermarks`, `_id` =
// `{topic}/{partition}`); its single writer is the partition's consumer.
type metricWatermark struct {
	ID     string `bson:"_id"`
	Offset int64  `bson:"offset"`
}

// GetMetric returns the aggregate of a metric, or ErrNotFound.
func (s *Store) GetMetric(ctx context.Context, name string) (*Metric, error) {
	var m Metric
	err := s.db.Collection("metrics").FindOne(ctx, byID(name)).Decode(&m)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("metric %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get metric: %w", err)
	}
	return &m, nil
}

// GetMetrics returns the aggregates of names (reads by `_id`, in parallel);
// a name without one is nil.
func (s *Store) GetMetrics(ctx context.Context, names []string) ([]*Metric, error) {
	return findByID[Metric](ctx, s.db.Collection("metrics"), names)
}

// PutMetrics writes metric aggregates (replace by `_id`, upsert), one call
// each under the store's write lock: FerretDB v1.24 never answered a bulk
// write of many updates, and concurrent writers only make SQLite's single
// writer sleep. Only the consumer of the names' partition calls it.
func (s *Store) PutMetrics(ctx context.Context, ms []*Metric) error {
	coll := s.db.Collection("metrics")
	for _, m := range ms {
		m.UpdateTime = s.now()
		if err := s.locked(ctx, write{"replace", coll.Name()}, func() error {
			_, err := coll.ReplaceOne(ctx, byID(m.Name), m, options.Replace().SetUpsert(true))
			return err
		}); err != nil {
			return fmt.Errorf("put metric %s: %w", m.Name, err)
		}
	}
	return nil
}

func watermarkID(topic string, partition int) string { return topic + "/" + strconv.Itoa(partition) }

// MetricWatermark returns the last merged offset of a metric-topic
// partition, or -1 when nothing was merged yet.
func (s *Store) MetricWatermark(ctx context.Context, topic string, partition int) (int64, error) {
	var w metricWatermark
	err := s.db.Collection("metric_watermarks").FindOne(ctx, byID(watermarkID(topic, partition))).Decode(&w)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get metric watermark: %w", err)
	}
	return w.Offset, nil
}

// SetMetricWatermark records that every sample of the partition up to
// offset is merged. Only the partition's consumer calls it.
func (s *Store) SetMetricWatermark(ctx context.Context, topic string, partition int, offset int64) error {
	w := metricWatermark{ID: watermarkID(topic, partition), Offset: offset}
	if err := s.locked(ctx, write{"replace", "metric_watermarks"}, func() error {
		_, err := s.db.Collection("metric_watermarks").ReplaceOne(ctx, byID(w.ID), w, options.Replace().SetUpsert(true))
		return err
	}); err != nil {
		return fmt.Errorf("set metric watermark: %w", err)
	}
	return nil
}
