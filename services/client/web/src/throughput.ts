import type uPlot from "uplot";
import { get, metricsText, type ClusterStats } from "./api";
import { errorBox, every, fmtNum, h, replace } from "./dom";
import { lineChart } from "./chart";
import { buckets, parseProm, quantile } from "./prom";

const POLL_MS = 2000;
const WINDOW_S = 10 * 60;

// One poll: per node (keyed by id and start time, so a restart is a new
// node) its finished tasks and task seconds, plus the client's latency
// histogram buckets.
interface Snapshot {
  t: number;
  servers: Map<string, { done: number; secs: number }>;
  clients: Map<string, number>;
  latency: [number, number][] | null;
}
interface Point { t: number; ops: number; calls: number; avgMs: number; p50: number; p90: number; p99: number }

// Kept across visits to the page (the polling runs only while it is open).
const points: Point[] = [];
let last: Snapshot | null = null;

function snapshot(s: ClusterStats, latency: [number, number][] | null): Snapshot {
  const servers = new Map<string, { done: number; secs: number }>();
  const clients = new Map<string, number>();
  for (const n of s.nodes ?? []) {
    if (!n.stats) continue;
    const key = `${n.node_id}@${n.start_time ?? ""}`;
    const t = n.stats.totals ?? {};
    if (n.role === "NODE_ROLE_SERVER") servers.set(key, { done: Number(t.completed ?? 0) + Number(t.failed ?? 0), secs: Number(t.total_task_seconds ?? 0) });
    else clients.set(key, Number(t.received ?? 0));
  }
  return { t: Date.now() / 1000, servers, clients, latency };
}

// rate derives a point from two snapshots: only nodes present in both count
// (a node that did not answer or restarted adds nothing rather than a spike).
function rate(a: Snapshot, b: Snapshot): Point {
  const dt = Math.max(b.t - a.t, 0.001);
  let done = 0, secs = 0, calls = 0;
  for (const [k, v] of b.servers) {
    const p = a.servers.get(k);
    if (p) { done += Math.max(0, v.done - p.done); secs += Math.max(0, v.secs - p.secs); }
  }
  for (const [k, v] of b.clients) {
    const p = a.clients.get(k);
    if (p !== undefined) calls += Math.max(0, v - p);
  }
  const q = (x: number) => (a.latency && b.latency ? quantile(x, b.latency, a.latency) * 1000 : NaN);
  return { t: b.t, ops: done / dt, calls: calls / dt, avgMs: done ? (1000 * secs) / done : NaN, p50: q(0.5), p90: q(0.9), p99: q(0.99) };
}

export async function throughputPage(root: HTMLElement, _: string[], signal: AbortSignal): Promise<void> {
  const opsEl = h("div", { class: "chart", role: "img", "aria-label": "Operations per second over the last 10 minutes" });
  const latEl = h("div", { class: "chart", role: "img", "aria-label": "Operation latency percentiles over the last 10 minutes" });
  const now = h("ul", { class: "tiles", "aria-live": "polite" });
  const err = h("div");
  root.append(
    h("div", { class: "page-head" }, h("h1", {}, "Throughput"), h("span", { class: "muted" }, `Last 10 minutes, sampled every ${POLL_MS / 1000} s while this page is open`)),
    err, now,
    h("section", { "aria-labelledby": "ops-chart" }, h("h2", { id: "ops-chart" }, "Operations per second"),
      h("p", { class: "muted" }, "Operations finished by the servers (GET /v1/cluster/stats, derived here) and API calls received by the clients."), opsEl),
    h("section", { "aria-labelledby": "lat-chart" }, h("h2", { id: "lat-chart" }, "Latency"),
      h("p", { class: "muted" }, "Submission to applied result: p50, p90, p99 from this client's jobplane_operation_latency_seconds histogram (/metrics); handler time: the servers' average."), latEl));

  const data = (): uPlot.AlignedData => {
    const cut = Date.now() / 1000 - WINDOW_S;
    while (points.length && points[0].t < cut) points.shift();
    const col = (f: (p: Point) => number) => points.map((p) => (Number.isFinite(f(p)) ? f(p) : null));
    return [points.map((p) => p.t), col((p) => p.ops), col((p) => p.calls), col((p) => p.p50), col((p) => p.p90), col((p) => p.p99), col((p) => p.avgMs)];
  };
  const d = data();
  const opsChart = lineChart(opsEl, "", [
    { label: "operations/s", color: "#1f5fbf", unit: "/s" },
    { label: "API calls/s", color: "#8a4b00", unit: "/s" }], [d[0], d[1], d[2]], signal, WINDOW_S);
  const latChart = lineChart(latEl, "", [
    { label: "p50", color: "#1b7a3a", unit: "ms" },
    { label: "p90", color: "#8a4b00", unit: "ms" },
    { label: "p99", color: "#b3261e", unit: "ms" },
    { label: "handler avg", color: "#5b3fa8", unit: "ms" }], [d[0], d[3], d[4], d[5], d[6]], signal, WINDOW_S);

  every(POLL_MS, async () => {
    try {
      const [stats, text] = await Promise.all([get<ClusterStats>("/v1/cluster/stats", signal), metricsText(signal).catch(() => "")]);
      const snap = snapshot(stats, text ? buckets(parseProm(text), "jobplane_operation_latency_seconds") : null);
      if (last && snap.t - last.t < 60) points.push(rate(last, snap));
      last = snap;
      replace(err);
    } catch (e) {
      if (!signal.aborted) replace(err, errorBox(e));
      return;
    }
    const d = data();
    opsEl.dataset.points = String(points.length);
    opsChart.setData([d[0], d[1], d[2]]);
    latChart.setData([d[0], d[3], d[4], d[5], d[6]]);
    const p = points[points.length - 1];
    const ms = (v?: number) => (v !== undefined && Number.isFinite(v) ? `${fmtNum(v, 1)} ms` : "—");
    replace(now,
      h("li", { class: "tile" }, h("span", { class: "k" }, "Operations/s"), h("span", { class: "v", id: "ops-rate" }, p ? fmtNum(p.ops, 1) : "—")),
      h("li", { class: "tile" }, h("span", { class: "k" }, "API calls/s"), h("span", { class: "v" }, p ? fmtNum(p.calls, 1) : "—")),
      h("li", { class: "tile" }, h("span", { class: "k" }, "p50"), h("span", { class: "v" }, ms(p?.p50))),
      h("li", { class: "tile" }, h("span", { class: "k" }, "p99"), h("span", { class: "v" }, ms(p?.p99))),
      h("li", { class: "tile" }, h("span", { class: "k" }, "Handler avg"), h("span", { class: "v" }, ms(p?.avgMs))));
  }, signal);
}
