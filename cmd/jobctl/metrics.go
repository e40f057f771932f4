package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	metricsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/metrics/v1"
)

const metricsUsage = `Usage: jobctl metrics <record|get|aggregate> ...

  record NAME VALUE [VALUE...]   record samples (one batch)
  get NAME                       the latest values with their times
  aggregate NAME                 count, sum, mean, min, max, p50/p90/p99
`

func cmdMetrics(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(env.stderr, metricsUsage)
		if len(args) == 0 {
			return usagef("metrics: missing subcommand")
		}
		return nil
	}
	switch args[0] {
	case "record":
		return metricsRecord(ctx, env, args[1:])
	case "get":
		return metricsGet(ctx, env, args[1:])
	case "aggregate":
		return metricsAggregate(ctx, env, args[1:])
	}
	fmt.Fprint(env.stderr, metricsUsage)
	return usagef("metrics: unknown subcommand %q", args[0])
}

func metricsRecord(ctx context.Context, env *cmdEnv, args []string) error {
	c := newCommon(env, "metrics record", "metrics record NAME VALUE [VALUE...]", 30*time.Second)
	pos, err := c.parse(args, 2, -1)
	if err != nil {
		return err
	}
	req := &metricsv1.BatchRecordMetricsRequest{}
	for _, s := range pos[1:] {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return usagef("value %q is not a number", s)
		}
		req.Samples = append(req.Samples, &metricsv1.Sample{MetricName: pos[0], Value: v})
	}
	cl, err := c.dial()
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := cl.Metrics.BatchRecordMetrics(ctx, req)
	if err != nil {
		return err
	}
	if c.output == "json" {
		return printJSON(env.stdout, resp)
	}
	fmt.Fprintf(env.stdout, "recorded %d samples of %s\n", resp.GetRecorded(), pos[0])
	return nil
}

func metricsGet(ctx context.Context, env *cmdEnv, args []string) error {
	c := newCommon(env, "metrics get", "metrics get NAME", 30*time.Second)
	pos, cl, ctx, done, err := c.prepare(ctx, args, 1, 1)
	if err != nil {
		return err
	}
	defer done()
	m, err := cl.GetMetric(ctx, pos[0])
	if err != nil {
		return err
	}
	if c.output == "json" {
		return printJSON(env.stdout, m)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tVALUE")
	for i, v := range m.GetValues() {
		t := "-"
		if i < len(m.GetTimestamps()) {
			t = m.GetTimestamps()[i].AsTime().Local().Format(time.RFC3339Nano)
		}
		fmt.Fprintf(tw, "%s\t%s\n", t, num(v))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%s: %d samples in total, latest %d shown\n", m.GetMetricName(), m.GetCount(), len(m.GetValues()))
	return nil
}

func metricsAggregate(ctx context.Context, env *cmdEnv, args []string) error {
	c := newCommon(env, "metrics aggregate", "metrics aggregate NAME", 30*time.Second)
	pos, cl, ctx, done, err := c.prepare(ctx, args, 1, 1)
	if err != nil {
		return err
	}
	defer done()
	a, err := cl.AggregateMetric(ctx, pos[0])
	if err != nil {
		return err
	}
	if c.output == "json" {
		return printJSON(env.stdout, a)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tCOUNT\tSUM\tMEAN\tMIN\tMAX\tP50\tP90\tP99\tFIRST\tLAST\tPARTIAL")
	ts := func(has bool, t time.Time) string {
		if !has {
			return "-"
		}
		return t.Local().Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "%s\t%d\t%s\t%.2f\t%s\t%s\t%.4g\t%.4g\t%.4g\t%s\t%s\t%v\n", a.GetMetricName(), a.GetCount(), num(a.GetSum()), a.GetMean(),
		num(a.GetMin()), num(a.GetMax()), a.GetP50(), a.GetP90(), a.GetP99(),
		ts(a.GetFirstTimestamp() != nil, a.GetFirstTimestamp().AsTime()), ts(a.GetLastTimestamp() != nil, a.GetLastTimestamp().AsTime()), a.GetIsPartial())
	return tw.Flush()
}
