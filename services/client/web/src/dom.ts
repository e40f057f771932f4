// A tiny element builder: h("a", {href: "#/x", class: "c"}, "text", child).
// Strings become text nodes, so API data is never parsed as HTML.

type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
export type Child = Node | string | number | null | undefined | false | Child[];

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v as EventListener);
    } else if (v === true) {
      el.setAttribute(k, "");
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
}

export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

export function fmtTime(ts?: string | null): string {
  if (!ts) return "—";
  const d = new Date(ts);
  if (Number.isNaN(d.getTime()) || d.getTime() <= 0) return "—";
  return d.toLocaleString(undefined, { hour12: false });
}

export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 1e-3) return `${(seconds * 1e6).toFixed(0)} µs`;
  if (seconds < 1) return `${(seconds * 1e3).toFixed(seconds < 0.01 ? 2 : 1)} ms`;
  if (seconds < 120) return `${seconds.toFixed(2)} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function between(a?: string | null, b?: string | null): string {
  if (!a || !b) return "—";
  const d = (new Date(b).getTime() - new Date(a).getTime()) / 1000;
  return d >= 0 ? fmtDuration(d) : "—";
}

export function fmtNum(n: number | string | undefined, digits = 0): string {
  const v = Number(n ?? 0);
  if (!Number.isFinite(v)) return String(n);
  return v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

// stateLabel turns JOB_STATE_SUCCEEDED / OPERATION_STATE_FAILED into "succeeded".
export function stateLabel(state?: string): string {
  return (state ?? "").replace(/^(JOB|OPERATION)_STATE_/, "").toLowerCase() || "unknown";
}

export function badge(state?: string): HTMLElement {
  const s = stateLabel(state);
  return h("span", { class: `badge s-${s}` }, s);
}

let toastTimer = 0;
export function toast(msg: string, error = false): void {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = msg;
  el.className = error ? "show error" : "show";
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => (el.className = ""), 5000);
}

export function errorBox(err: unknown): HTMLElement {
  const el = document.createElement("p");
  el.className = "alert error";
  el.setAttribute("role", "alert");
  el.textContent = err instanceof Error ? err.message : String(err);
  return el;
}

// every runs fn now and then every ms while signal is live, skipping while
// the tab is hidden; errors are shown by fn itself.
export function every(ms: number, fn: () => Promise<void> | void, signal: AbortSignal): void {
  let timer = 0;
  const tick = async () => {
    if (signal.aborted) return;
    if (!document.hidden) {
      try { await fn(); } catch { /* fn reports */ }
    }
    if (!signal.aborted) timer = window.setTimeout(tick, ms);
  };
  signal.addEventListener("abort", () => window.clearTimeout(timer));
  void tick();
}

