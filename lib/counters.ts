/**
 * The agent's own counters, gauges and histograms, rendered as Prometheus text on `GET /metrics`.
 * Every family gets `# HELP` and `# TYPE`: declared ones with `describe`, the others with their
 * name as help and a type inferred from the name (`_total` → counter, else gauge).
 *
 * ```ts
 * counters.inc("gossip_packets_dropped_total", { reason: "auth" });
 * counters.set("gossip_members", 8, { state: "alive" });
 * counters.observe("http_request_duration_seconds", 0.004, { route: "/kv/:key{.+}" });
 * ```
 */
export type Labels = Record<string, string>;

interface Series {
  name: string;
  labels: Labels;
  value: number;
}

/** Default histogram buckets (seconds): 1 ms to 10 s. */
export const DEFAULT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Histogram {
  name: string;
  labels: Labels;
  /** Cumulative count per upper bound of `buckets`. */
  counts: number[];
  sum: number;
  count: number;
}

/** Index of the first bucket whose upper bound holds `v` (buckets.length when none does). */
export function bucketIndex(buckets: number[], v: number): number {
  let i = 0;
  while (i < buckets.length && v > buckets[i]) i++;
  return i;
}

/** Type of an undeclared family, from Prometheus naming habits. */
export function inferType(name: string): "counter" | "gauge" {
  return name.endsWith("_total") ? "counter" : "gauge";
}

export class Counters {
  #series = new Map<string, Series>();
  /** The label-less series of #series by name: most sets and incs, with no key string to build. */
  #plain = new Map<string, Series>();
  #hist = new Map<string, Histogram>();
  #help = new Map<string, { help: string; type: "counter" | "gauge" | "histogram" }>();
  #refresh = new Set<() => void>();
  readonly buckets: number[] = DEFAULT_BUCKETS;

  /**
   * Runs `fn` before every `render`, so a subsystem that keeps its own tallies copies them in at
   * scrape time instead of on a timer (a scrape right after an event sees it). Returns the undo.
   */
  onRender(fn: () => void): () => void {
    this.#refresh.add(fn);
    return () => this.#refresh.delete(fn);
  }

  /** Declares help text and type (optional; undeclared names get their name as help). */
  describe(name: string, type: "counter" | "gauge" | "histogram", help: string): void {
    this.#help.set(name, { help, type });
  }

  /** Records one observation in a histogram family. */
  observe(name: string, value: number, labels: Labels = {}): void {
    const k = key(name, labels);
    let h = this.#hist.get(k);
    if (!h) this.#hist.set(k, h = { name, labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 });
    const i = bucketIndex(this.buckets, value);
    if (i < h.counts.length) h.counts[i]++;
    h.sum += value;
    h.count++;
  }

  /**
   * The series `name{labels}` as a function that adds to it: for hot paths that count the same
   * series on every request (no series key built per call).
   */
  counter(name: string, labels: Labels = {}): (n?: number) => void {
    const s = this.#get(name, labels);
    return (n = 1) => {
      s.value += n;
    };
  }

  /** The histogram `name{labels}` as a function that records one observation (see `counter`). */
  histogram(name: string, labels: Labels = {}): (value: number) => void {
    const k = key(name, labels);
    let h = this.#hist.get(k);
    if (!h) this.#hist.set(k, h = { name, labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 });
    const hist = h;
    return (value) => {
      const i = bucketIndex(this.buckets, value);
      if (i < hist.counts.length) hist.counts[i]++;
      hist.sum += value;
      hist.count++;
    };
  }

  inc(name: string, labels: Labels = {}, n = 1): void {
    const s = this.#get(name, labels);
    s.value += n;
  }

  set(name: string, value: number, labels: Labels = {}): void {
    this.#get(name, labels).value = value;
  }

  get(name: string, labels: Labels = {}): number {
    if (noLabels(labels)) return this.#plain.get(name)?.value ?? 0;
    return this.#series.get(key(name, labels))?.value ?? 0;
  }

  #get(name: string, labels: Labels): Series {
    const plain = noLabels(labels);
    let s = plain ? this.#plain.get(name) : undefined;
    if (s) return s;
    const k = key(name, labels);
    s = this.#series.get(k);
    if (!s) this.#series.set(k, s = { name, labels, value: 0 });
    if (plain) this.#plain.set(name, s);
    return s;
  }

  /** Prometheus text exposition format 0.0.4. */
  render(prefix = "kunai_"): string {
    for (const fn of this.#refresh) fn();
    const byName = new Map<string, Series[]>();
    for (const s of this.#series.values()) {
      const list = byName.get(s.name) ?? [];
      list.push(s);
      byName.set(s.name, list);
    }
    const histByName = new Map<string, Histogram[]>();
    for (const h of this.#hist.values()) histByName.set(h.name, [...histByName.get(h.name) ?? [], h]);
    const lines: string[] = [];
    for (const name of [...new Set([...byName.keys(), ...histByName.keys()])].sort()) {
      const full = prefix + name;
      const h = this.#help.get(name);
      const hists = histByName.get(name);
      lines.push(`# HELP ${full} ${h?.help ?? name.replaceAll("_", " ")}`);
      lines.push(`# TYPE ${full} ${hists ? "histogram" : h?.type ?? inferType(name)}`);
      for (const s of byName.get(name) ?? []) {
        lines.push(`${full}${labelText(s.labels)} ${Number.isFinite(s.value) ? s.value : 0}`);
      }
      for (const hs of hists ?? []) {
        let cum = 0;
        this.buckets.forEach((b, i) => {
          cum += hs.counts[i];
          lines.push(`${full}_bucket${labelText({ ...hs.labels, le: String(b) })} ${cum}`);
        });
        lines.push(`${full}_bucket${labelText({ ...hs.labels, le: "+Inf" })} ${hs.count}`);
        lines.push(`${full}_sum${labelText(hs.labels)} ${hs.sum}`);
        lines.push(`${full}_count${labelText(hs.labels)} ${hs.count}`);
      }
    }
    return lines.join("\n") + "\n";
  }
}

/** True for `{}` (checked without building the key array). */
function noLabels(labels: Labels): boolean {
  for (const _ in labels) return false;
  return true;
}

/** The series' map key: the name and its labels sorted by name (built by hand: it runs on every request). */
function key(name: string, labels: Labels): string {
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  let out = name + "[";
  for (let i = 0; i < names.length; i++) {
    out += `${i ? "," : ""}[${JSON.stringify(names[i])},${JSON.stringify(labels[names[i]])}]`;
  }
  return out + "]";
}

function labelText(labels: Labels): string {
  const lab = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
  return lab ? `{${lab}}` : "";
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
