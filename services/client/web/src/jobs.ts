import { ApiError, call, get, type FieldViolation, type Job } from "./api";
import { badge, errorBox, every, fmtTime, h, replace, stateLabel, toast } from "./dom";

const STATES = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];
const PAGE_SIZE = 20;
// The counts are found by listing each state with this page size: above it
// the count says "100+".
const COUNT_LIMIT = 100;

interface ListJobs { jobs?: Job[]; next_page_token?: string }

export async function jobsPage(root: HTMLElement, _: string[], signal: AbortSignal): Promise<void> {
  const params = new URLSearchParams(location.hash.split("?")[1] ?? "");
  let filter = STATES.includes(params.get("state") ?? "") ? (params.get("state") as string) : "";
  // tokens[i] is the page token of page i (page 0: "").
  let tokens: string[] = [""];
  let next = "";

  const counts = h("ul", { class: "counts", "aria-label": "Jobs by state" });
  const select = h("select", { id: "state-filter" },
    h("option", { value: "" }, "All states"),
    STATES.map((s) => h("option", { value: s }, s.toLowerCase())));
  select.value = filter;
  const auto = h("input", { type: "checkbox", id: "auto-refresh", checked: true });
  const status = h("span", { class: "muted", "aria-live": "polite" });
  const tbody = h("tbody");
  const prev = h("button", { type: "button", disabled: true }, "← Newer");
  const nextBtn = h("button", { type: "button", disabled: true }, "Older →");
  const pageLabel = h("span", { class: "muted" });
  const listError = h("div");

  const load = async () => {
    try {
      const q = new URLSearchParams({ page_size: String(PAGE_SIZE) });
      if (filter) q.set("filter", `state=${filter}`);
      const tok = tokens[tokens.length - 1];
      if (tok) q.set("page_token", tok);
      const res = await get<ListJobs>(`/v1/jobs?${q}`, signal);
      next = res.next_page_token ?? "";
      replace(tbody, (res.jobs ?? []).map(jobRow));
      // A filtered page looks at a bounded number of jobs, so it can be empty
      // and still have older pages.
      const none = !filter ? "No jobs yet: create one below."
        : next ? `No ${filter.toLowerCase()} jobs on this page: older ones follow (Older →).`
        : `No ${filter.toLowerCase()} jobs.`;
      if (!res.jobs?.length) replace(tbody, h("tr", {}, h("td", { colspan: 6, class: "muted" }, none)));
      prev.disabled = tokens.length <= 1;
      nextBtn.disabled = !next;
      pageLabel.textContent = `Page ${tokens.length}`;
      status.textContent = `Updated ${new Date().toLocaleTimeString(undefined, { hour12: false })}`;
      replace(listError);
    } catch (err) {
      if (!signal.aborted) replace(listError, errorBox(err));
    }
  };
  const loadCounts = async () => {
    const results = await Promise.all(STATES.map(async (s) => {
      try {
        const res = await get<ListJobs>(`/v1/jobs?page_size=${COUNT_LIMIT}&filter=state%3D${s}`, signal);
        const n = res.jobs?.length ?? 0;
        return [s, res.next_page_token ? `${n}+` : String(n)];
      } catch { return [s, "?"]; }
    }));
    replace(counts, results.map(([s, n]) => h("li", {},
      h("button", { type: "button", class: `count s-${s.toLowerCase()}`, "aria-pressed": String(filter === s), onclick: () => setFilter(filter === s ? "" : s) },
        h("span", { class: "n" }, n), " ", s.toLowerCase()))));
  };
  const setFilter = (s: string) => {
    filter = s;
    select.value = s;
    tokens = [""];
    history.replaceState(null, "", s ? `#/jobs?state=${s}` : "#/jobs");
    void load();
    void loadCounts();
  };
  select.addEventListener("change", () => setFilter(select.value));
  prev.addEventListener("click", () => { tokens.pop(); void load(); });
  nextBtn.addEventListener("click", () => { tokens.push(next); void load(); });

  root.append(
    h("div", { class: "page-head" }, h("h1", {}, "Jobs"), h("button", { type: "button", class: "primary", onclick: () => { const t = document.getElementById("ops"); t?.scrollIntoView({ block: "center" }); t?.focus(); } }, "New job")),
    counts,
    h("div", { class: "toolbar" },
      h("label", { for: "state-filter" }, "State"), select,
      h("label", { class: "check" }, auto, " Auto-refresh (5 s)"),
      h("button", { type: "button", onclick: () => { void load(); void loadCounts(); } }, "Refresh"),
      status),
    listError,
    h("div", { class: "table-wrap" }, h("table", { class: "jobs" },
      h("caption", { class: "sr-only" }, "Jobs, newest first"),
      h("thead", {}, h("tr", {}, ["Job", "State", "Progress", "Operations", "Created", "Completed"].map((c) => h("th", { scope: "col" }, c)))),
      tbody)),
    h("div", { class: "pager" }, prev, pageLabel, nextBtn),
    createForm(signal),
  );
  every(5000, async () => {
    if (!auto.checked && tbody.childElementCount) return;
    await Promise.all([load(), loadCounts()]);
  }, signal);
}

function done(j: Job): number {
  const c = j.operation_counts ?? {};
  return (c.succeeded ?? 0) + (c.failed ?? 0) + (c.cancelled ?? 0);
}

function jobRow(j: Job): HTMLElement {
  const total = j.total_operations ?? 0;
  const c = j.operation_counts ?? {};
  return h("tr", {},
    h("td", {}, h("a", { href: `#/jobs/${j.id}`, class: "mono" }, j.id)),
    h("td", {}, badge(j.state)),
    h("td", {}, progress(j, true)),
    h("td", { class: "num" }, `${done(j)} / ${total}`, c.failed ? h("span", { class: "fail-note" }, ` (${c.failed} failed)`) : null),
    h("td", {}, fmtTime(j.create_time)),
    h("td", {}, fmtTime(j.complete_time)));
}

// progress is a bar of the finished operations, segmented by outcome.
export function progress(j: Job, small = false): HTMLElement {
  const total = Math.max(j.total_operations ?? 0, 1);
  const c = j.operation_counts ?? {};
  const pct = (n?: number) => `${((100 * (n ?? 0)) / total).toFixed(2)}%`;
  const d = done(j);
  const label = `${d} of ${j.total_operations ?? 0} operations finished (${c.succeeded ?? 0} succeeded, ${c.failed ?? 0} failed, ${c.cancelled ?? 0} cancelled), job ${stateLabel(j.state)}`;
  const bar = h("div", { class: small ? "progress small" : "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": j.total_operations ?? 0, "aria-valuenow": d, "aria-label": label, title: label },
    h("span", { class: "seg ok" }), h("span", { class: "seg bad" }), h("span", { class: "seg gone" }));
  const [ok, bad, gone] = bar.children as unknown as HTMLElement[];
  ok.style.width = pct(c.succeeded);
  bad.style.width = pct(c.failed);
  gone.style.width = pct(c.cancelled);
  return bar;
}

// lineOf maps a violation to its 1-based line: "(line N of the text/plain
// body)" in the description, else operations[i].
function lineOf(v: FieldViolation): number {
  const m = /\(line (\d+) of the text\/plain body\)/.exec(v.description);
  if (m) return Number(m[1]);
  const f = /^operations\[(\d+)\]/.exec(v.field);
  return f ? Number(f[1]) + 1 : 0;
}

const EXAMPLE = "1 + 2 * 3\n(10 - 4) / 3\n2 ^ 10\n";

function createForm(signal: AbortSignal): HTMLElement {
  const LINE = 22; // px, must match .editor line-height in style.css
  const text = h("textarea", { id: "ops", name: "ops", rows: 8, wrap: "off", spellcheck: "false", "aria-describedby": "ops-help ops-errors", autocomplete: "off" });
  text.value = EXAMPLE;
  const gutter = h("div", { class: "gutter", "aria-hidden": "true" });
  const notes = h("div", { class: "notes", "aria-hidden": "true" });
  const errors = h("div", { id: "ops-errors", "aria-live": "assertive" });
  const requestId = h("input", { id: "request-id", name: "request_id", maxlength: 128, autocomplete: "off" });
  const partitionKey = h("input", { id: "partition-key", name: "partition_key", autocomplete: "off" });
  const submit = h("button", { type: "submit", class: "primary" }, "Create job");
  let marks = new Map<number, string[]>();

  const paint = () => {
    const n = Math.max(text.value.split("\n").length, 1);
    replace(gutter, Array.from({ length: n }, (_, i) => h("div", { class: marks.has(i + 1) ? "ln bad" : "ln" }, String(i + 1))));
    replace(notes, [...marks.entries()].filter(([l]) => l > 0).map(([l, msgs]) => {
      const el = h("div", { class: "note" }, "⚠ ", msgs.join("; "));
      el.style.top = `${(l - 1) * LINE}px`;
      return el;
    }));
    gutter.style.transform = notes.style.transform = `translateY(${-text.scrollTop}px)`;
  };
  text.addEventListener("input", () => { if (marks.size) { marks = new Map(); text.removeAttribute("aria-invalid"); } paint(); });
  text.addEventListener("scroll", paint);

  const goToLine = (line: number) => {
    const lines = text.value.split("\n");
    const start = lines.slice(0, line - 1).reduce((a, l) => a + l.length + 1, 0);
    text.focus();
    text.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
    text.scrollTop = Math.max(0, (line - 3) * LINE);
  };

  const form = h("form", { id: "create", class: "card", "aria-labelledby": "create-title", novalidate: true },
    h("h2", { id: "create-title" }, "New job"),
    h("label", { for: "ops" }, "Operations"),
    h("p", { id: "ops-help", class: "muted" }, "One expression per line, e.g. ", h("code", {}, "1 + 2 * 3"), ". Problems are shown next to their line."),
    h("div", { class: "editor" }, h("div", { class: "gutter-wrap" }, gutter), text, h("div", { class: "notes-wrap" }, notes)),
    errors,
    h("div", { class: "row" },
      h("div", {}, h("label", { for: "request-id" }, "Request id (optional, idempotency)"), requestId),
      h("div", {}, h("label", { for: "partition-key" }, "Partition key (optional, runs in order)"), partitionKey)),
    h("div", { class: "actions" }, submit));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    replace(errors);
    try {
      const q = new URLSearchParams();
      if (requestId.value.trim()) q.set("request_id", requestId.value.trim());
      if (partitionKey.value.trim()) q.set("partition_key", partitionKey.value.trim());
      const res = await call<{ job: Job; operations_created: number }>("POST", `/v1/jobs${q.size ? `?${q}` : ""}`, text.value, "text/plain; charset=utf-8", signal);
      toast(`Job created with ${res.operations_created} operations`);
      location.hash = `#/jobs/${res.job.id}`;
    } catch (err) {
      if (signal.aborted) return;
      marks = new Map();
      const general: string[] = [];
      if (err instanceof ApiError && err.violations.length) {
        for (const v of err.violations) {
          const line = lineOf(v);
          const msg = v.description.replace(/ \(line \d+ of the text\/plain body\)/, "");
          if (line > 0) marks.set(line, [...(marks.get(line) ?? []), msg]);
          else general.push(`${v.field}: ${v.description}`);
        }
      }
      if (!marks.size && !general.length) general.push(err instanceof Error ? err.message : String(err));
      text.setAttribute("aria-invalid", marks.size ? "true" : "false");
      replace(errors, h("div", { class: "alert error", role: "alert" },
        h("p", {}, marks.size ? `The job was not created: ${marks.size} line${marks.size > 1 ? "s have" : " has"} a problem.` : "The job was not created."),
        h("ul", {},
          [...marks.entries()].sort((a, b) => a[0] - b[0]).map(([l, msgs]) => h("li", {},
            h("button", { type: "button", class: "link", onclick: () => goToLine(l) }, `Line ${l}`), `: ${msgs.join("; ")}`)),
          general.map((g) => h("li", {}, g)))));
      paint();
    } finally {
      submit.disabled = false;
    }
  });
  paint();
  return form;
}
