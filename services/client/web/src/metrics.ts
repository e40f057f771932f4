import { ApiError, get } from "./api";
import { errorBox, fmtNum, fmtTime, h, replace } from "./dom";
import { lineChart } from "./chart";

// The API has no "list metric names" call: names looked up here are
// remembered in local storage (most recent first).
const RECENT_KEY = "jobplane.recentMetrics";
const NAME = /^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$/;

interface Agg { metric_name: string; count?: string | number; sum?: number; mean?: number; min?: number; max?: number; p50?: number; p90?: number; p99?: number; first_timestamp?: string; last_timestamp?: string; is_partial?: boolean }
interface Values { values?: number[]; timestamps?: string[]; count?: string | number }

function recent(): string[] {
  try { return (JSON.parse(localStorage.getItem(RECENT_KEY) ?? "[]") as string[]).filter((n) => NAME.test(n)).slice(0, 12); } catch { return []; }
}
function remember(name: string): void {
  localStorage.setItem(RECENT_KEY, JSON.stringify([name, ...recent().filter((n) => n !== name)].slice(0, 12)));
}

export async function metricsPage(root: HTMLElement, _: string[], signal: AbortSignal): Promise<void> {
  const input = h("input", { id: "metric-name", name: "metric", required: true, pattern: NAME.source, autocomplete: "off", "aria-describedby": "metric-help" });
  const detail = h("div");
  const table = h("div");
  let chartAbort: AbortController | null = null;
  signal.addEventListener("abort", () => chartAbort?.abort());

  const show = async (name: string) => {
    chartAbort?.abort();
    chartAbort = new AbortController();
    replace(detail, h("p", { class: "muted" }, `Loading ${name}…`));
    try {
      const [a, v] = await Promise.all([
        get<Agg>(`/v1/metrics/${encodeURIComponent(name)}:aggregate`, signal),
        get<Values>(`/v1/metrics/${encodeURIComponent(name)}`, signal)]);
      remember(name);
      const chart = h("div", { class: "chart", role: "img", "aria-label": `The latest ${v.values?.length ?? 0} values of ${name}` });
      replace(detail, h("section", { class: "card", "aria-labelledby": "metric-title" },
        h("h2", { id: "metric-title" }, name),
        a.is_partial ? h("p", { class: "alert warn" }, "Some accepted samples are not aggregated yet: ask again shortly.") : null,
        h("dl", { class: "facts" },
          ["count", "sum", "mean", "min", "max", "p50", "p90", "p99"].map((k) => [h("dt", {}, k), h("dd", {}, fmtNum((a as unknown as Record<string, number>)[k] ?? 0, 4))]),
          h("dt", {}, "first sample"), h("dd", {}, fmtTime(a.first_timestamp)),
          h("dt", {}, "last sample"), h("dd", {}, fmtTime(a.last_timestamp))),
        h("h3", {}, "Latest values"), chart));
      const ts = (v.timestamps ?? []).map((t) => new Date(t).getTime() / 1000);
      if (ts.length) lineChart(chart, "", [{ label: name, color: "#1f5fbf", unit: "" }], [ts, v.values ?? []], chartAbort.signal);
      else replace(chart, h("p", { class: "muted" }, "No values yet."));
      void paintTable();
    } catch (err) {
      if (signal.aborted) return;
      replace(detail, err instanceof ApiError && err.status === 404 ? h("p", { class: "alert warn", role: "alert" }, `No samples of ${name} yet.`) : errorBox(err));
    }
  };

  const paintTable = async () => {
    const names = recent();
    if (!names.length) { replace(table, h("p", { class: "muted" }, "Metrics you look up are listed here.")); return; }
    const rows = await Promise.all(names.map(async (n) => {
      try { return await get<Agg>(`/v1/metrics/${encodeURIComponent(n)}:aggregate`, signal); } catch { return { metric_name: n } as Agg; }
    }));
    replace(table, h("div", { class: "table-wrap" }, h("table", { id: "metrics-table" },
      h("thead", {}, h("tr", {}, ["Metric", "Count", "Mean", "Min", "Max", "p50", "p90", "p99", "Last sample"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.map((a, i) => h("tr", {},
        h("td", {}, h("button", { type: "button", class: "link mono", onclick: () => { input.value = names[i]; void show(names[i]); } }, names[i])),
        ["count", "mean", "min", "max", "p50", "p90", "p99"].map((k) => h("td", { class: "num" }, a.count === undefined ? "—" : fmtNum((a as unknown as Record<string, number>)[k] ?? 0, 3))),
        h("td", {}, fmtTime(a.last_timestamp))))))));
  };

  const form = h("form", { class: "toolbar", role: "search" },
    h("label", { for: "metric-name" }, "Metric name"), input, h("button", { type: "submit", class: "primary" }, "Look up"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = input.value.trim();
    if (!NAME.test(name)) { input.setAttribute("aria-invalid", "true"); replace(detail, h("p", { class: "alert error", role: "alert" }, "A name is letters, digits, _ . and -, starting with a letter or _ (at most 128).")); return; }
    input.removeAttribute("aria-invalid");
    void show(name);
  });
  root.append(
    h("div", { class: "page-head" }, h("h1", {}, "Metrics")),
    h("p", { id: "metric-help", class: "muted" }, "Samples recorded with POST /v1/metrics (or jobctl metrics record), aggregated by the servers. The API cannot list names, so type one; the ones you look up are remembered in this browser."),
    form, detail,
    h("section", { "aria-labelledby": "recent-title" }, h("h2", { id: "recent-title" }, "Recent metrics"), table));
  await paintTable();
}
