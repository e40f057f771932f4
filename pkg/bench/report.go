package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the result as a table.
func (r *Result) WriteTable(w io.Writer) error {
	var b strings.Builder
	name := ""
	if r.Workload != "" {
		name = r.Workload + ": "
	}
	rate := "as fast as possible"
	if r.TargetJobsPerSecond > 0 {
		rate = fmt.Sprintf("paced at %.1f jobs/s (%.0f operations/s)", r.TargetJobsPerSecond, r.TargetJobsPerSecond*float64(r.OpsPerJob))
	}
	fmt.Fprintf(&b, "%s%d jobs × %d ops = %d operations, concurrency %d, %s\n", name, r.Jobs, r.OpsPerJob, r.Operations, r.Concurrency, rate)
	fmt.Fprintf(&b, "submitted in      %8.2fs", r.SubmitSeconds)
	if r.SubmitJobsPerSecond > 0 {
		fmt.Fprintf(&b, "   (%.1f jobs/s, %.0f operations/s)", r.SubmitJobsPerSecond, r.SubmitJobsPerSecond*float64(r.OpsPerJob))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "all complete in   %8.2fs\n", r.TotalSeconds)
	fmt.Fprintf(&b, "throughput        %8.0f operations/s\n", r.OpsPerSecond)
	fmt.Fprintf(&b, "jobs not succeeded %d\n\n", r.Failed)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "latency (ms)\tcount\tp50\tp95\tp99\tmax")
	var bases []string
	for _, l := range []*Latency{r.JobLatency, r.OperationLatency} {
		if l != nil {
			label, _, _ := strings.Cut(l.Basis, ":")
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\n", label, l.Count, l.P50ms, l.P95ms, l.P99ms, l.MaxMs)
			bases = append(bases, l.Basis)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "(%s)\n", strings.Join(bases, "; "))
	if len(r.Services) > 0 {
		b.WriteString("\n")
		writeServices(&b, r.Services)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeServices(b *strings.Builder, services []ServiceUsage) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "service\tcpu s\tcpu %\twriter busy %\tpeak rss MB\tsamples")
	for _, s := range services {
		if s.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t%.1f\t%d\t%s\n", s.Name, s.PeakRSSMB, s.Samples, s.Error)
			continue
		}
		busy := "-"
		if s.WriterBusyPercent != nil {
			busy = fmt.Sprintf("%.1f", *s.WriterBusyPercent)
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.1f\t%s\t%.1f\t%d\n", s.Name, s.CPUSeconds, s.CPUPercent, busy, s.PeakRSSMB, s.Samples)
	}
	_ = tw.Flush() // a strings.Builder does not fail
}

// WriteTable prints the sweep: one row per step, then the verdict.
func (s *SweepResult) WriteTable(w io.Writer) error {
	var b strings.Builder
	how := "given"
	if s.Peak != nil {
		how = fmt.Sprintf("measured with %d jobs unpaced", s.Peak.Jobs)
	}
	fmt.Fprintf(&b, "%s: rate sweep, jobs of %d ops, concurrency %d, p99 target %.0f ms, peak %.0f operations/s (%s)\n\n",
		s.Workload, s.OpsPerJob, s.Concurrency, s.TargetP99ms, s.PeakOpsPerSecond, how)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "step\tof peak\ttarget ops/s\toffered ops/s\tdone ops/s\tjobs\tp50 ms\tp99 ms\tmax ms\tp99 ok")
	for i, st := range s.Steps {
		r := st.Result
		fmt.Fprintf(tw, "%d\t%.0f%%\t%.0f\t%.0f\t%.0f\t%d\t%.1f\t%.1f\t%.1f\t%s\n", i+1, 100*st.Fraction, st.TargetOpsPerSecond,
			st.OfferedOpsPerSecond, r.OpsPerSecond, r.Jobs, r.JobLatency.P50ms, st.P99ms, r.JobLatency.MaxMs, yesNo(st.Passed))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("\n")
	if s.MaxOpsPerSecond > 0 {
		fmt.Fprintf(&b, "highest rate with job p99 < %.0f ms: %.0f operations/s offered\n", s.TargetP99ms, s.MaxOpsPerSecond)
	} else {
		fmt.Fprintf(&b, "no step kept job p99 under %.0f ms\n", s.TargetP99ms)
	}
	if s.CrossedOpsPerSecond > 0 {
		fmt.Fprintf(&b, "job p99 passes %.0f ms at %.0f operations/s offered\n", s.TargetP99ms, s.CrossedOpsPerSecond)
	} else {
		fmt.Fprintf(&b, "job p99 stayed under %.0f ms up to the last step\n", s.TargetP99ms)
	}
	fmt.Fprintf(&b, "sweep took %.0fs\n", s.TotalSeconds)
	if n := len(s.Steps); n > 0 && len(s.Steps[n-1].Result.Services) > 0 {
		fmt.Fprintf(&b, "\nlast step's services:\n")
		writeServices(&b, s.Steps[n-1].Result.Services)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
