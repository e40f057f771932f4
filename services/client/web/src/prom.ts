// A minimal reader of the Prometheus text exposition format: enough for the
// client's own histograms and gauges on /metrics.

export interface Sample { name: string; labels: Record<string, string>; value: number }

export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3]) {
      for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, "$1");
    }
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

// buckets sums the cumulative buckets of histogram name over all label sets:
// upper bound -> count, sorted by bound (+Inf last).
export function buckets(samples: Sample[], name: string): [number, number][] {
  const sum = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    sum.set(le, (sum.get(le) ?? 0) + s.value);
  }
  return [...sum.entries()].sort((a, b) => a[0] - b[0]);
}

// quantile estimates the q-quantile of the observations between two
// snapshots of cumulative buckets (as histogram_quantile does: linear within
// the bucket). NaN when nothing was observed.
export function quantile(q: number, now: [number, number][], before: [number, number][]): number {
  const prev = new Map(before);
  const b = now.map(([le, c]) => [le, Math.max(0, c - (prev.get(le) ?? 0))] as [number, number]);
  const total = b.length ? b[b.length - 1][1] : 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  let lower = 0, below = 0;
  for (const [le, c] of b) {
    if (c >= rank) {
      if (!Number.isFinite(le)) return lower;
      return lower + (le - lower) * ((rank - below) / Math.max(c - below, 1e-12));
    }
    lower = Number.isFinite(le) ? le : lower;
    below = c;
  }
  return lower;
}
