// Package metricsagg aggregates metric samples: exact count, sum, min and
// max, and a DDSketch (github.com/DataDog/sketches-go, 1% relative
// accuracy) for the percentiles. Sketches merge, so a batch of samples is
// folded into the stored aggregate of its name without keeping every value.
// It also defines the Kafka wire format of a sample.
package metricsagg

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	ddstore "github.com/DataDog/sketches-go/ddsketch/store"
	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// RelativeAccuracy of the percentiles.
const RelativeAccuracy = 0.01

// RecentValues is how many of the latest values a metric keeps.
const RecentValues = 100

// SampleSchema is the schema header of a metric sample message.
var SampleSchema = string((&queuev1.MetricSample{}).ProtoReflect().Descriptor().FullName())

var namePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,127}$`)

// ValidName reports whether name is a valid metric name: letters, digits,
// `_`, `.` and `-`, starting with a letter or `_`, at most 128 characters.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// ValidValue reports whether v can be aggregated (finite).
func ValidValue(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Encode builds the Kafka message of a sample, keyed by its name.
func Encode(topic string, s *queuev1.MetricSample) (kafka.Message, error) {
	v, err := proto.Marshal(s)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode metric sample: %w", err)
	}
	return kafka.Message{
		Topic: topic, Key: []byte(s.GetMetricName()), Value: v,
		Headers: []kafka.Header{{Key: queue.SchemaHeader, Value: []byte(SampleSchema)}},
	}, nil
}

// Decode decodes a sample message; failures wrap queue.ErrUndecodable.
func Decode(m *kafka.Message) (*queuev1.MetricSample, error) {
	if got, _ := queue.Header(m, queue.SchemaHeader); got != SampleSchema {
		return nil, fmt.Errorf("%w: schema %q, want %q", queue.ErrUndecodable, got, SampleSchema)
	}
	s := &queuev1.MetricSample{}
	if err := proto.Unmarshal(m.Value, s); err != nil {
		return nil, fmt.Errorf("%w: %v", queue.ErrUndecodable, err)
	}
	if !ValidName(s.GetMetricName()) || !ValidValue(s.GetValue()) || s.GetTime() == nil {
		return nil, fmt.Errorf("%w: invalid metric sample", queue.ErrUndecodable)
	}
	return s, nil
}

// NewSample returns the wire sample of a value observed at t.
func NewSample(name string, value float64, t time.Time) *queuev1.MetricSample {
	return &queuev1.MetricSample{MetricName: name, Value: value, Time: timestamppb.New(t)}
}

// Point is a decoded sample with the offset of its message.
type Point struct {
	Value  float64
	Time   time.Time
	Offset int64
}

// Merge folds points (of one name, from one partition, in offset order)
// into m and returns how many were new. Points at or below the offset m
// already includes from this partition are skipped (a redelivered batch).
func Merge(m *store.Metric, partition int, points []Point) (int, error) {
	var sk *ddsketch.DDSketch
	var err error
	if len(m.Sketch) > 0 {
		sk, err = ddsketch.DecodeDDSketch(m.Sketch, ddstore.DenseStoreConstructor, nil)
	} else {
		sk, err = ddsketch.NewDefaultDDSketch(RelativeAccuracy)
	}
	if err != nil {
		return 0, fmt.Errorf("metric %s sketch: %w", m.Name, err)
	}
	fresh := m.Count == 0
	if m.Partition != partition {
		// The name's partition changed (never with a fixed partition count):
		// offsets of the old partition mean nothing here.
		m.Partition, m.Offset = partition, -1
	}
	added := 0
	for _, p := range points {
		if p.Offset <= m.Offset {
			continue
		}
		if err := sk.Add(p.Value); err != nil {
			return 0, fmt.Errorf("metric %s: %w", m.Name, err)
		}
		if fresh {
			m.Min, m.Max, m.FirstTime, m.LastTime = p.Value, p.Value, p.Time, p.Time
			fresh = false
		}
		m.Count++
		m.Sum += p.Value
		m.Min = math.Min(m.Min, p.Value)
		m.Max = math.Max(m.Max, p.Value)
		if p.Time.Before(m.FirstTime) {
			m.FirstTime = p.Time
		}
		if p.Time.After(m.LastTime) {
			m.LastTime = p.Time
		}
		m.Recent = append(m.Recent, store.MetricPoint{Value: p.Value, Time: p.Time})
		m.Offset = p.Offset
		added++
	}
	if n := len(m.Recent); n > RecentValues {
		m.Recent = append([]store.MetricPoint(nil), m.Recent[n-RecentValues:]...)
	}
	var b []byte
	sk.Encode(&b, false)
	m.Sketch = b
	return added, nil
}

// Summary is what AggregateMetric answers.
type Summary struct {
	Count               int64
	Sum, Mean, Min, Max float64
	P50, P90, P99       float64
	FirstTime, LastTime time.Time
}

// ErrEmpty means the metric has no samples.
var ErrEmpty = errors.New("no samples")

// Summarize computes the summary of a stored aggregate. Percentiles are
// clamped to [min, max].
func Summarize(m *store.Metric) (Summary, error) {
	if m.Count == 0 {
		return Summary{}, ErrEmpty
	}
	sk, err := ddsketch.DecodeDDSketch(m.Sketch, ddstore.DenseStoreConstructor, nil)
	if err != nil {
		return Summary{}, fmt.Errorf("metric %s sketch: %w", m.Name, err)
	}
	qs, err := sk.GetValuesAtQuantiles([]float64{0.5, 0.9, 0.99})
	if err != nil {
		return Summary{}, fmt.Errorf("metric %s quantiles: %w", m.Name, err)
	}
	clamp := func(v float64) float64 { return math.Min(math.Max(v, m.Min), m.Max) }
	return Summary{
		Count: m.Count, Sum: m.Sum, Mean: m.Sum / float64(m.Count), Min: m.Min, Max: m.Max,
		P50: clamp(qs[0]), P90: clamp(qs[1]), P99: clamp(qs[2]),
		FirstTime: m.FirstTime, LastTime: m.LastTime,
	}, nil
}
