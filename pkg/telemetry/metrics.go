// Package telemetry holds the Prometheus metrics and logging set-up shared by
// the services.
package telemetry

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus metrics of a service. Labels never carry
// unbounded values (no job or operation ids).
type Metrics struct {
	Registry *prometheus.Registry

	ConsumerReceived *prometheus.CounterVec // {topic}
	ConsumerErrors   *prometheus.CounterVec // {topic}
	ProducerSent     *prometheus.CounterVec // {topic}
	ProducerErrors   *prometheus.CounterVec // {topic}

	JobsCreated prometheus.Counter
	// JobsFinished counts jobs reaching a terminal state (succeeded, failed,
	// cancelled), by state.
	JobsFinished      *prometheus.CounterVec // {state}
	OperationsCreated prometheus.Counter
	// OperationsFinished counts operations reaching a terminal state, by state.
	OperationsFinished *prometheus.CounterVec // {state}
	DuplicateResults   prometheus.Counter
	// ProcessingSeconds is the handler time on the server, by type and outcome.
	ProcessingSeconds *prometheus.HistogramVec // {type, outcome}
	// ResultLatencySeconds is submit-to-applied latency, by type and
	// outcome (the operation's terminal state).
	ResultLatencySeconds *prometheus.HistogramVec // {type, outcome}
	DeadLetters          *prometheus.CounterVec   // {reason}
	// ConsumerLag is, per partition this instance consumes, the messages
	// between the last processed offset and the partition's high watermark
	// at fetch time (see queue.LagObserver). 60 partitions per topic.
	ConsumerLag *prometheus.GaugeVec // {topic, partition}

	// RelayRepublished counts messages the outbox relay sent again, by
	// reason (unpublished, no_result, uncounted_outcome), and jobs it
	// reconciled from their stored outcomes (reconciled).
	RelayRepublished *prometheus.CounterVec // {reason}
	// RelayFailed counts operations the relay failed after too many dispatches.
	RelayFailed prometheus.Counter
	// RelayLeader is 1 on the client instance holding the relay lease.
	RelayLeader prometheus.Gauge

	// StoreWriteWait and StoreWriteSeconds time the process's MongoDB
	// writes: the wait for the store's write lock (writes take turns, see
	// store.Store) and the write itself. rate(…_seconds_sum) summed over
	// the labels is the share of time the writer is busy; near 1, the
	// writer is the bound (see BENCHMARKS.md).
	StoreWriteWait    *prometheus.HistogramVec // {op, collection}
	StoreWriteSeconds *prometheus.HistogramVec // {op, collection}
	// BatchItems is the size of the group commits: jobs per create batch
	// (create_jobs), results per merged result application
	// (apply_results).
	BatchItems *prometheus.HistogramVec // {batch}
}

// ObserveStoreWrite records one store write (a store.WriteObserver).
func (m *Metrics) ObserveStoreWrite(op, collection string, wait, held time.Duration) {
	m.StoreWriteWait.WithLabelValues(op, collection).Observe(wait.Seconds())
	m.StoreWriteSeconds.WithLabelValues(op, collection).Observe(held.Seconds())
}

// NewMetrics registers the metrics of a service on a fresh registry with the
// Go runtime and process collectors.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: r,
		ConsumerReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "consumer_messages_received_total", Help: "Kafka messages received by consumers.",
		}, []string{"topic"}),
		ConsumerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "consumer_messages_error_total", Help: "Kafka messages that could not be processed.",
		}, []string{"topic"}),
		ProducerSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "producer_messages_sent_total", Help: "Kafka messages acknowledged by the brokers.",
		}, []string{"topic"}),
		ProducerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "producer_messages_error_total", Help: "Kafka messages that could not be produced.",
		}, []string{"topic"}),
		JobsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jobplane_jobs_created_total", Help: "Jobs created.",
		}),
		JobsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobplane_jobs_finished_total", Help: "Jobs that reached a terminal state, by state.",
		}, []string{"state"}),
		OperationsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jobplane_operations_created_total", Help: "Operations created.",
		}),
		OperationsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobplane_operations_finished_total", Help: "Operations that reached a terminal state.",
		}, []string{"state"}),
		DuplicateResults: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jobplane_results_duplicate_total", Help: "Results dropped because the operation already had an outcome.",
		}),
		ProcessingSeconds: histogramVec("jobplane_operation_processing_seconds", "Handler execution time.",
			prometheus.ExponentialBuckets(0.00001, 4, 12), "type", "outcome"),
		ResultLatencySeconds: histogramVec("jobplane_operation_latency_seconds", "Time from submission to the applied result.",
			prometheus.ExponentialBuckets(0.001, 2, 16), "type", "outcome"),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobplane_dead_letters_total", Help: "Messages sent to the dead-letter topic, by reason.",
		}, []string{"reason"}),
		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "jobplane_consumer_lag_messages", Help: "Messages between the last processed offset and the high watermark, per consumed partition.",
		}, []string{"topic", "partition"}),
		RelayRepublished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobplane_relay_republished_total", Help: "Messages the outbox relay published again, by reason.",
		}, []string{"reason"}),
		RelayFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jobplane_relay_failed_operations_total", Help: "Operations failed by the relay after too many dispatches without a result.",
		}),
		RelayLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "jobplane_relay_leader", Help: "1 if this client instance holds the relay lease.",
		}),
		StoreWriteWait: histogramVec("jobplane_store_write_wait_seconds", "Time a MongoDB write waited for the process's write lock.",
			writeBuckets, "op", "collection"),
		StoreWriteSeconds: histogramVec("jobplane_store_write_seconds", "Time a MongoDB write took (holding the process's write lock).",
			writeBuckets, "op", "collection"),
		BatchItems: histogramVec("jobplane_batch_items", "Items per group commit: jobs per create batch, results per result application.",
			prometheus.ExponentialBuckets(1, 2, 14), "batch"),
	}
	r.MustRegister(m.ConsumerReceived, m.ConsumerErrors, m.ProducerSent, m.ProducerErrors,
		m.JobsCreated, m.JobsFinished, m.OperationsCreated, m.OperationsFinished, m.DuplicateResults,
		m.ProcessingSeconds, m.ResultLatencySeconds, m.DeadLetters, m.ConsumerLag,
		m.RelayRepublished, m.RelayFailed, m.RelayLeader,
		m.StoreWriteWait, m.StoreWriteSeconds, m.BatchItems)
	return m
}

// writeBuckets are the store write histograms' buckets: 0.1 ms to 3.3 s.
var writeBuckets = prometheus.ExponentialBuckets(0.0001, 2, 16)

// histogramVec is a histogram family with the given buckets and labels.
func histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// ObserveLag sets the lag of a consumed partition (queue.LagObserver).
func (m *Metrics) ObserveLag(topic string, partition int, lag int64) {
	m.ConsumerLag.WithLabelValues(topic, strconv.Itoa(partition)).Set(float64(max(lag, 0)))
}

// ForgetLag drops the series of a partition this instance no longer
// consumes (queue.LagObserver), so that a sum over instances counts each
// partition once.
func (m *Metrics) ForgetLag(topic string, partition int) {
	m.ConsumerLag.DeleteLabelValues(topic, strconv.Itoa(partition))
}
