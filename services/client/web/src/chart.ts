import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

// lineChart draws time series with uPlot; data[0] is unix seconds.
// windowS, when set, pins the x axis to the last windowS seconds.
export function lineChart(el: HTMLElement, title: string, series: { label: string; color: string; unit: string }[], data: uPlot.AlignedData, signal: AbortSignal, windowS = 0): uPlot {
  const width = Math.max(320, el.clientWidth || 800);
  const fmt = (unit: string) => (_: uPlot, v: number | null) => (v === null || !Number.isFinite(v) ? "—" : `${v.toFixed(unit === "ms" && v < 10 ? 2 : 1)} ${unit}`);
  const plot = new uPlot({
    title, width, height: 260,
    cursor: { drag: { x: false, y: false } },
    scales: { x: windowS ? { time: true, range: () => { const now = Date.now() / 1000; return [now - windowS, now]; } } : { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [{ stroke: "#333" }, { stroke: "#333", label: series[0].unit, size: 60 }],
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, value: fmt(s.unit), spanGaps: false }))],
  }, data, el);
  const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(320, el.clientWidth), height: 260 }));
  resize.observe(el);
  signal.addEventListener("abort", () => { resize.disconnect(); plot.destroy(); });
  return plot;
}
