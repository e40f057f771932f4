import "./style.css";
import { askToken, clearToken, token } from "./api";
import { errorBox } from "./dom";
import { jobsPage } from "./jobs";
import { jobPage, operationPage } from "./job";
import { clusterPage } from "./cluster";
import { throughputPage } from "./throughput";
import { metricsPage } from "./metrics";

export type Page = (root: HTMLElement, params: string[], signal: AbortSignal) => void | Promise<void>;

const routes: [RegExp, Page, string][] = [
  [/^\/jobs\/?$/, jobsPage, "jobs"],
  [/^\/jobs\/([^/]+)\/operations\/([^/]+)$/, operationPage, "jobs"],
  [/^\/jobs\/([^/]+)$/, jobPage, "jobs"],
  [/^\/cluster$/, clusterPage, "cluster"],
  [/^\/throughput$/, throughputPage, "throughput"],
  [/^\/metrics$/, metricsPage, "metrics"],
];

let current: AbortController | null = null;

async function route(): Promise<void> {
  const path = decodeURIComponent(location.hash.replace(/^#/, "").split("?")[0]) || "/jobs";
  const root = document.getElementById("main") as HTMLElement;
  current?.abort();
  current = new AbortController();
  const signal = current.signal;
  const match = routes.find(([re]) => re.test(path));
  if (!match) {
    location.replace("#/jobs");
    return;
  }
  const [re, page, nav] = match;
  for (const a of document.querySelectorAll<HTMLAnchorElement>("[data-nav]")) {
    if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  root.replaceChildren();
  root.setAttribute("aria-busy", "true");
  try {
    await page(root, (re.exec(path) ?? []).slice(1), signal);
  } catch (err) {
    if (!signal.aborted) root.append(errorBox(err));
  } finally {
    root.removeAttribute("aria-busy");
  }
  // Move focus to the new page for keyboard and screen-reader users, unless
  // the page focused something itself.
  if (!signal.aborted && !root.contains(document.activeElement)) {
    const h1 = root.querySelector("h1");
    if (h1) { h1.tabIndex = -1; h1.focus({ preventScroll: true }); }
  }
}

document.getElementById("logout")?.addEventListener("click", async () => {
  clearToken();
  await askToken();
  void route();
});
window.addEventListener("hashchange", () => void route());

(async () => {
  if (!token()) await askToken();
  await route();
})();
