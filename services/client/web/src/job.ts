import { ApiError, call, get, uiConfig, watch, type Job, type Operation } from "./api";
import { badge, between, errorBox, fmtNum, fmtTime, h, replace, stateLabel, toast } from "./dom";
import { progress } from "./jobs";

const OP_PAGE = 100;
const TERMINAL = new Set(["JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"]);

interface Aggregate { count?: number; sum?: number; mean?: number; min?: number; max?: number; p50?: number; p90?: number; p99?: number; non_numeric?: number; failed?: number; cancelled?: number }

export async function jobPage(root: HTMLElement, [id]: string[], pageSignal: AbortSignal): Promise<void> {
  // Reads and the watch stop when the page goes or the job is deleted.
  const reads = new AbortController();
  pageSignal.addEventListener("abort", () => reads.abort());
  const signal = reads.signal;
  const cfg = await uiConfig();
  let job = (await get<{ job: Job }>(`/v1/jobs/${encodeURIComponent(id)}`, signal)).job;

  const title = h("h1", {}, "Job ", h("span", { class: "mono" }, id));
  const head = h("div", { class: "card" });
  const live = h("span", { class: "live", "aria-live": "polite" });
  const cancelBtn = h("button", { type: "button", id: "cancel-job" }, "Cancel job");
  const deleteBtn = h("button", { type: "button", id: "delete-job", class: "danger" }, "Delete job");
  const traceLink = cfg.jaeger_ui_url
    ? h("a", { class: "button", id: "trace-link", target: "_blank", rel: "noopener", href: `${cfg.jaeger_ui_url.replace(/\/$/, "")}/search?service=${encodeURIComponent(cfg.trace_service ?? "client-application")}&tags=${encodeURIComponent(JSON.stringify({ "jobplane.job_id": id }))}` }, "Trace in Jaeger ↗")
    : null;
  const agg = h("div");
  const opsFilter = h("select", { id: "op-filter" }, h("option", { value: "" }, "All states"),
    ["PENDING", "SUCCEEDED", "FAILED", "CANCELLED"].map((s) => h("option", { value: s }, s.toLowerCase())));
  const tbody = h("tbody");
  const opsError = h("div");
  const prev = h("button", { type: "button", disabled: true }, "← Previous");
  const next = h("button", { type: "button", disabled: true }, "Next →");
  const pageLabel = h("span", { class: "muted" });
  let tokens: string[] = [""];
  let nextToken = "";
  // Set once the job is deleted: nothing reloads it any more.
  let gone = false;

  const paintHead = () => {
    const c = job.operation_counts ?? {};
    replace(head,
      h("div", { class: "head-row" }, badge(job.state), live),
      progress(job),
      h("dl", { class: "facts" },
        fact("Operations", `${fmtNum(job.total_operations)} total: ${c.pending ?? 0} pending, ${c.succeeded ?? 0} succeeded, ${c.failed ?? 0} failed, ${c.cancelled ?? 0} cancelled`),
        fact("Created", fmtTime(job.create_time)),
        fact("Updated", fmtTime(job.update_time)),
        fact("Completed", fmtTime(job.complete_time)),
        fact("Duration", between(job.create_time, job.complete_time)),
        fact("Request id", job.request_id || "—"),
        fact("Partition key", job.partition_key || "—")),
      h("div", { class: "actions" }, cancelBtn, deleteBtn, traceLink));
    cancelBtn.disabled = TERMINAL.has(job.state);
  };

  const loadOps = async () => {
    try {
      const q = new URLSearchParams({ page_size: String(OP_PAGE) });
      if (opsFilter.value) q.set("filter", `state=${opsFilter.value}`);
      if (tokens[tokens.length - 1]) q.set("page_token", tokens[tokens.length - 1]);
      const res = await get<{ operations?: Operation[]; next_page_token?: string }>(`/v1/jobs/${encodeURIComponent(id)}/operations?${q}`, signal);
      nextToken = res.next_page_token ?? "";
      replace(tbody, (res.operations ?? []).map(opRow));
      if (!res.operations?.length) replace(tbody, h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No operations match.")));
      prev.disabled = tokens.length <= 1;
      next.disabled = !nextToken;
      pageLabel.textContent = `Page ${tokens.length}`;
      replace(opsError);
    } catch (err) {
      if (!signal.aborted) replace(opsError, errorBox(err));
    }
  };
  const loadAggregate = async () => {
    if (!TERMINAL.has(job.state)) { replace(agg); return; }
    try {
      const a = await get<Aggregate>(`/v1/jobs/${encodeURIComponent(id)}:aggregate`, signal);
      replace(agg, h("section", { class: "card", "aria-labelledby": "agg-title" }, h("h2", { id: "agg-title" }, "Results"),
        h("dl", { class: "facts" },
          ["count", "sum", "mean", "min", "max", "p50", "p90", "p99", "non_numeric", "failed", "cancelled"].map((k) =>
            fact(k.replace("_", "-"), fmtNum((a as Record<string, number>)[k] ?? 0, 4))))));
    } catch { replace(agg); }
  };

  // Operations are refreshed at most once a second while the job changes.
  let opsTimer = 0, opsDue = false;
  const scheduleOps = () => {
    if (gone || signal.aborted) return;
    if (opsTimer) { opsDue = true; return; }
    void loadOps();
    opsTimer = window.setTimeout(() => { opsTimer = 0; if (opsDue) { opsDue = false; scheduleOps(); } }, 1000);
  };
  signal.addEventListener("abort", () => window.clearTimeout(opsTimer));

  const follow = async () => {
    if (TERMINAL.has(job.state)) { live.textContent = ""; return; }
    live.textContent = "● live";
    live.className = "live on";
    try {
      await watch<{ job: Job }>(`/v1/jobs/${encodeURIComponent(id)}:watch`, (m) => {
        job = m.job;
        paintHead();
        scheduleOps();
      }, signal);
    } catch (err) {
      if (signal.aborted) return;
      if (!(err instanceof ApiError && err.status === 404)) toast(`Watch stopped: ${(err as Error).message}`, true);
    }
    if (signal.aborted || gone) return;
    live.textContent = "";
    live.className = "live";
    try { job = (await get<{ job: Job }>(`/v1/jobs/${encodeURIComponent(id)}`, signal)).job; } catch { /* deleted */ }
    paintHead();
    scheduleOps();
    void loadAggregate();
  };

  cancelBtn.addEventListener("click", async () => {
    cancelBtn.disabled = true;
    try {
      job = (await call<{ job: Job }>("POST", `/v1/jobs/${encodeURIComponent(id)}:cancel`, "{}", "application/json", signal)).job;
      toast("Job cancelled");
      paintHead();
      scheduleOps();
    } catch (err) {
      toast((err as Error).message, true);
      cancelBtn.disabled = TERMINAL.has(job.state);
    }
  });
  deleteBtn.addEventListener("click", async () => {
    if (!(await confirmDialog(`Delete job ${id} and its operations? This cannot be undone.`))) return;
    gone = true;
    reads.abort();
    try {
      await call("DELETE", `/v1/jobs/${encodeURIComponent(id)}`, undefined, undefined, pageSignal);
      toast("Job deleted");
      location.hash = "#/jobs";
    } catch (err) {
      toast((err as Error).message, true);
      window.dispatchEvent(new HashChangeEvent("hashchange")); // reload the page
    }
  });
  opsFilter.addEventListener("change", () => { tokens = [""]; void loadOps(); });
  prev.addEventListener("click", () => { tokens.pop(); void loadOps(); });
  next.addEventListener("click", () => { tokens.push(nextToken); void loadOps(); });

  root.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "Jobs"), " / ", id),
    title, head, agg,
    h("section", { "aria-labelledby": "ops-title" },
      h("div", { class: "page-head" }, h("h2", { id: "ops-title" }, "Operations"),
        h("div", { class: "toolbar" }, h("label", { for: "op-filter" }, "State"), opsFilter)),
      opsError,
      h("div", { class: "table-wrap" }, h("table", { class: "ops" },
        h("thead", {}, h("tr", {}, ["#", "Request", "State", "Result or error", "Attempts", "Worker", "Created", "Took"].map((c) => h("th", { scope: "col" }, c)))),
        tbody)),
      h("div", { class: "pager" }, prev, pageLabel, next)));
  paintHead();
  await loadOps();
  void loadAggregate();
  void follow();
}

function fact(k: string, v: string): HTMLElement[] {
  return [h("dt", {}, k), h("dd", {}, v)];
}

function opRow(o: Operation): HTMLElement {
  const failed = o.state === "OPERATION_STATE_FAILED";
  return h("tr", {},
    h("td", { class: "num" }, h("a", { href: `#/jobs/${o.job_id}/operations/${o.id}`, "aria-label": `Operation ${o.index ?? 0}` }, String(o.index ?? 0))),
    h("td", { class: "mono clip", title: o.request ?? "" }, o.request ?? ""),
    h("td", {}, badge(o.state)),
    h("td", { class: failed ? "mono clip err" : "mono clip", title: (failed ? o.error : o.result) ?? "" }, (failed ? o.error : o.result) || "—"),
    h("td", { class: "num" }, String(o.attempts ?? 0)),
    h("td", {}, o.worker_node || "—"),
    h("td", {}, fmtTime(o.create_time)),
    h("td", {}, between(o.create_time, o.complete_time)));
}

export async function operationPage(root: HTMLElement, [jobId, opId]: string[], signal: AbortSignal): Promise<void> {
  const o = (await get<{ operation: Operation }>(`/v1/jobs/${encodeURIComponent(jobId)}/operations/${encodeURIComponent(opId)}`, signal)).operation;
  root.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "Jobs"), " / ", h("a", { href: `#/jobs/${jobId}` }, jobId), " / operation ", String(o.index ?? 0)),
    h("h1", {}, "Operation ", h("span", { class: "mono" }, o.id)),
    h("div", { class: "card" },
      h("div", { class: "head-row" }, badge(o.state)),
      h("dl", { class: "facts wide" },
        fact("Type", o.type || "expr"),
        [h("dt", {}, "Request"), h("dd", {}, h("pre", { class: "mono" }, o.request ?? ""))],
        [h("dt", {}, "Result"), h("dd", {}, h("pre", { class: "mono", id: "op-result" }, o.result || "—"))],
        [h("dt", {}, "Error"), h("dd", {}, h("pre", { class: "mono err" }, o.error || "—"))],
        fact("State", stateLabel(o.state)),
        fact("Attempts", String(o.attempts ?? 0)),
        fact("Worker node", o.worker_node || "—"),
        fact("Created", fmtTime(o.create_time)),
        fact("Completed", fmtTime(o.complete_time)),
        fact("Took", between(o.create_time, o.complete_time)))),
    h("p", {}, h("a", { href: `#/jobs/${jobId}` }, "← Back to the job")));
}

// confirmDialog is a modal yes/no that is keyboard friendly (Escape = no).
function confirmDialog(text: string): Promise<boolean> {
  return new Promise((resolve) => {
    const dlg = h("dialog", { "aria-labelledby": "confirm-text" },
      h("form", { method: "dialog" },
        h("p", { id: "confirm-text" }, text),
        h("div", { class: "actions" },
          h("button", { value: "no", type: "submit", autofocus: true }, "Keep it"),
          h("button", { value: "yes", type: "submit", class: "danger", id: "confirm-yes" }, "Delete"))));
    document.body.append(dlg);
    dlg.addEventListener("close", () => { resolve(dlg.returnValue === "yes"); dlg.remove(); });
    dlg.showModal();
  });
}
