import { get, metricsText, type ClusterStats, type NodeEntry, type TaskStats } from "./api";
import { errorBox, every, fmtDuration, fmtNum, fmtTime, h, replace } from "./dom";
import { parseProm } from "./prom";

const role = (r: string) => r.replace(/^NODE_ROLE_/, "").toLowerCase();

export async function clusterPage(root: HTMLElement, _: string[], signal: AbortSignal): Promise<void> {
  const summary = h("div");
  const nodes = h("div");
  const types = h("div");
  const lag = h("div");
  const status = h("span", { class: "muted", "aria-live": "polite" });
  root.append(
    h("div", { class: "page-head" }, h("h1", {}, "Cluster"), status),
    summary,
    h("section", { "aria-labelledby": "nodes-title" }, h("h2", { id: "nodes-title" }, "Nodes"), nodes),
    h("section", { "aria-labelledby": "types-title" }, h("h2", { id: "types-title" }, "By operation type or API method"), types),
    h("section", { "aria-labelledby": "lag-title" }, h("h2", { id: "lag-title" }, "Consumer lag"), lag));

  every(3000, async () => {
    try {
      const s = await get<ClusterStats>("/v1/cluster/stats", signal);
      paint(s);
      status.textContent = `Updated ${new Date().toLocaleTimeString(undefined, { hour12: false })} · every 3 s`;
    } catch (err) {
      if (!signal.aborted) replace(summary, errorBox(err));
    }
    try {
      replace(lag, lagTable(parseProm(await metricsText(signal))));
    } catch {
      replace(lag, h("p", { class: "muted" }, "Consumer lag is not available (this client's /metrics did not answer)."));
    }
  }, signal);

  function paint(s: ClusterStats) {
    const t = s.totals ?? {};
    replace(summary,
      s.is_partial ? h("p", { class: "alert warn", role: "alert", id: "partial" },
        `Partial result: ${s.responding_nodes ?? 0} of ${s.total_nodes ?? 0} nodes answered. The totals leave out the nodes that did not.`) : null,
      h("ul", { class: "tiles" },
        tile("Nodes responding", `${s.responding_nodes ?? 0} / ${s.total_nodes ?? 0}`),
        tile("Received", fmtNum(t.received)),
        tile("Completed", fmtNum(t.completed)),
        tile("Failed", fmtNum(t.failed)),
        tile("In flight", fmtNum(t.in_flight)),
        tile("Average task", fmtDuration(t.average_task_seconds ?? 0))));
    replace(nodes, h("div", { class: "table-wrap" }, h("table", { id: "nodes" },
      h("thead", {}, h("tr", {}, ["Node", "Role", "Address", "Version", "Up", "Heartbeat", "Status", "Received", "Completed", "Failed", "In flight", "Avg", "Partitions"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, (s.nodes ?? []).map(nodeRow)))));
    replace(types, statsTable(s.by_type ?? []));
  }
}

function tile(k: string, v: string): HTMLElement {
  return h("li", { class: "tile" }, h("span", { class: "k" }, k), h("span", { class: "v" }, v));
}

function nodeRow(n: NodeEntry): HTMLElement {
  const t = n.stats?.totals ?? {};
  const parts = n.stats?.assigned_partitions ?? [];
  return h("tr", { class: n.responding ? "" : "down" },
    h("td", { class: "mono" }, n.node_id),
    h("td", {}, role(n.role)),
    h("td", { class: "mono" }, n.address ?? ""),
    h("td", {}, n.version || "—"),
    h("td", {}, n.stats ? fmtDuration(n.stats.uptime_seconds ?? 0) : "—"),
    h("td", {}, fmtTime(n.heartbeat_time)),
    h("td", {}, n.responding ? h("span", { class: "badge s-succeeded" }, "up") : h("span", { class: "badge s-failed", title: n.error ?? "" }, "not answering"), n.responding ? null : h("div", { class: "err small" }, n.error ?? "")),
    h("td", { class: "num" }, fmtNum(t.received)),
    h("td", { class: "num" }, fmtNum(t.completed)),
    h("td", { class: "num" }, fmtNum(t.failed)),
    h("td", { class: "num" }, fmtNum(t.in_flight)),
    h("td", { class: "num" }, n.stats ? fmtDuration(t.average_task_seconds ?? 0) : "—"),
    h("td", { class: "num", title: parts.join(", ") }, String(parts.length)));
}

function statsTable(rows: TaskStats[]): HTMLElement {
  if (!rows.length) return h("p", { class: "muted" }, "Nothing yet.");
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, ["Type or method", "Received", "Accepted", "Completed", "Failed", "In flight", "Avg"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", {},
      h("td", { class: "mono" }, r.type || "—"),
      h("td", { class: "num" }, fmtNum(r.received)),
      h("td", { class: "num" }, fmtNum(r.accepted)),
      h("td", { class: "num" }, fmtNum(r.completed)),
      h("td", { class: "num" }, fmtNum(r.failed)),
      h("td", { class: "num" }, fmtNum(r.in_flight)),
      h("td", { class: "num" }, fmtDuration(r.average_task_seconds ?? 0)))))));
}

function lagTable(samples: ReturnType<typeof parseProm>): HTMLElement {
  const byTopic = new Map<string, { total: number; parts: number; max: number }>();
  for (const s of samples) {
    if (s.name !== "jobplane_consumer_lag_messages") continue;
    const e = byTopic.get(s.labels.topic) ?? { total: 0, parts: 0, max: 0 };
    e.total += s.value; e.parts++; e.max = Math.max(e.max, s.value);
    byTopic.set(s.labels.topic, e);
  }
  if (!byTopic.size) return h("p", { class: "muted" }, "No partitions are assigned to this client yet.");
  return h("div", {},
    h("p", { class: "muted" }, "As seen by this client instance (its partitions of the response topic), from its /metrics. Servers report theirs on their admin port."),
    h("div", { class: "table-wrap" }, h("table", { id: "lag" },
      h("thead", {}, h("tr", {}, ["Topic", "Partitions", "Lag (messages)", "Worst partition"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, [...byTopic.entries()].map(([topic, e]) => h("tr", {},
        h("td", { class: "mono" }, topic), h("td", { class: "num" }, String(e.parts)), h("td", { class: "num" }, fmtNum(e.total)), h("td", { class: "num" }, fmtNum(e.max))))))));
}
