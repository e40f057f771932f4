// The REST API (grpc-gateway, proto field names) with the bearer token from
// session storage. A 401 clears the token and brings the sign-in dialog back,
// then the call is retried with the new token.

const TOKEN_KEY = "jobplane.token";

export interface FieldViolation { field: string; description: string }
export class ApiError extends Error {
  constructor(public status: number, message: string, public violations: FieldViolation[] = [], public reason = "") {
    super(message);
  }
}

export function token(): string { return sessionStorage.getItem(TOKEN_KEY) ?? ""; }
export function clearToken(): void { sessionStorage.removeItem(TOKEN_KEY); }

let pending: Promise<string> | null = null;

// askToken shows the sign-in dialog once, however many calls wait on it.
export function askToken(reason?: string): Promise<string> {
  if (pending) return pending;
  pending = new Promise<string>((resolve) => {
    const dlg = document.getElementById("login") as HTMLDialogElement;
    const form = document.getElementById("login-form") as HTMLFormElement;
    const input = document.getElementById("login-token") as HTMLInputElement;
    const why = document.getElementById("login-reason") as HTMLElement;
    why.textContent = reason ?? "Enter the API bearer token (AUTH_TOKENS of the client service).";
    why.className = reason ? "error" : "";
    input.value = "";
    const done = (ev: Event) => {
      ev.preventDefault();
      const t = input.value.trim();
      if (!t) { input.focus(); return; }
      sessionStorage.setItem(TOKEN_KEY, t);
      form.removeEventListener("submit", done);
      dlg.removeEventListener("cancel", keep);
      dlg.close();
      pending = null;
      resolve(t);
    };
    // Escape does not dismiss the dialog: nothing works without a token.
    const keep = (ev: Event) => ev.preventDefault();
    form.addEventListener("submit", done);
    dlg.addEventListener("cancel", keep);
    dlg.showModal();
    input.focus();
  });
  return pending;
}

async function authedFetch(path: string, init: RequestInit = {}): Promise<Response> {
  let t = token() || (await askToken());
  for (;;) {
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${t}`);
    const res = await fetch(path, { ...init, headers });
    if (res.status !== 401) return res;
    clearToken();
    t = await askToken("That token was refused (401). Enter a valid bearer token.");
  }
}

async function toError(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const body = JSON.parse(text);
    const violations: FieldViolation[] = [];
    let reason = "";
    for (const d of body.details ?? []) {
      for (const v of d.field_violations ?? d.fieldViolations ?? []) violations.push({ field: v.field, description: v.description });
      if (d.reason) reason = d.reason;
    }
    return new ApiError(res.status, body.message || res.statusText, violations, reason);
  } catch {
    return new ApiError(res.status, text.trim() || res.statusText);
  }
}

export async function call<T>(method: string, path: string, body?: string, contentType = "application/json", signal?: AbortSignal): Promise<T> {
  const init: RequestInit = { method, signal };
  if (body !== undefined) init.body = body, init.headers = { "Content-Type": contentType };
  const res = await authedFetch(path, init);
  if (!res.ok) throw await toError(res);
  const text = await res.text();
  return (text ? JSON.parse(text) : {}) as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => call<T>("GET", path, undefined, undefined, signal);

// watch reads an NDJSON server stream (grpc-gateway: one {"result": …} or
// {"error": …} object per line) until it ends or signal aborts.
export async function watch<T>(path: string, onMessage: (m: T) => void, signal: AbortSignal): Promise<void> {
  const res = await authedFetch(path, { signal });
  if (!res.ok) throw await toError(res);
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line);
      if (msg.error) throw new ApiError(msg.error.http_code ?? 500, msg.error.message ?? "stream error");
      onMessage(msg.result as T);
    }
  }
}

// metricsText fetches this client instance's Prometheus /metrics.
export async function metricsText(signal?: AbortSignal): Promise<string> {
  const res = await fetch("/metrics", { signal });
  if (!res.ok) throw new ApiError(res.status, `/metrics: ${res.statusText}`);
  return res.text();
}

export interface UIConfig { jaeger_ui_url?: string; trace_service?: string }
let cfg: Promise<UIConfig> | null = null;
export function uiConfig(): Promise<UIConfig> {
  cfg ??= fetch("config.json").then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
  return cfg;
}

// Types of the API (proto field names).
export interface Counts { pending?: number; succeeded?: number; failed?: number; cancelled?: number }
export interface Job {
  id: string; state: string; request_id?: string; partition_key?: string; total_operations?: number;
  operation_counts?: Counts; create_time?: string; update_time?: string; complete_time?: string | null;
}
export interface Operation {
  id: string; job_id: string; index?: number; type?: string; request?: string; state: string; result?: string;
  error?: string; attempts?: number; worker_node?: string; create_time?: string; complete_time?: string | null;
}
export interface TaskStats {
  type?: string; received?: string | number; accepted?: string | number; completed?: string | number; failed?: string | number;
  in_flight?: string | number; total_task_seconds?: number; average_task_seconds?: number;
}
export interface NodeStats {
  node_id: string; role: string; address?: string; version?: string; start_time?: string; uptime_seconds?: number;
  totals?: TaskStats; by_type?: TaskStats[]; assigned_partitions?: number[];
}
export interface NodeEntry {
  node_id: string; role: string; address?: string; version?: string; start_time?: string; heartbeat_time?: string;
  responding?: boolean; error?: string; stats?: NodeStats | null;
}
export interface ClusterStats {
  nodes?: NodeEntry[]; totals?: TaskStats; by_type?: TaskStats[]; is_partial?: boolean; total_nodes?: number; responding_nodes?: number;
}
