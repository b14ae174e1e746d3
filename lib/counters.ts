/**
 * The agent's own counters and gauges, rendered as Prometheus text on `GET /metrics`.
 *
 * ```ts
 * counters.inc("gossip_packets_dropped_total", { reason: "auth" });
 * counters.set("gossip_members", 8, { state: "alive" });
 * ```
 */
export type Labels = Record<string, string>;

interface Series {
  name: string;
  labels: Labels;
  value: number;
}

export class Counters {
  #series = new Map<string, Series>();
  #help = new Map<string, { help: string; type: "counter" | "gauge" }>();

  /** Declares help text and type (optional; undeclared names render as untyped). */
  describe(name: string, type: "counter" | "gauge", help: string): void {
    this.#help.set(name, { help, type });
  }

  inc(name: string, labels: Labels = {}, n = 1): void {
    const s = this.#get(name, labels);
    s.value += n;
  }

  set(name: string, value: number, labels: Labels = {}): void {
    this.#get(name, labels).value = value;
  }

  get(name: string, labels: Labels = {}): number {
    return this.#series.get(key(name, labels))?.value ?? 0;
  }

  #get(name: string, labels: Labels): Series {
    const k = key(name, labels);
    let s = this.#series.get(k);
    if (!s) this.#series.set(k, s = { name, labels, value: 0 });
    return s;
  }

  /** Prometheus text exposition format 0.0.4. */
  render(prefix = "kunai_"): string {
    const byName = new Map<string, Series[]>();
    for (const s of this.#series.values()) {
      const list = byName.get(s.name) ?? [];
      list.push(s);
      byName.set(s.name, list);
    }
    const lines: string[] = [];
    for (const name of [...byName.keys()].sort()) {
      const full = prefix + name;
      const h = this.#help.get(name);
      if (h) {
        lines.push(`# HELP ${full} ${h.help}`);
        lines.push(`# TYPE ${full} ${h.type}`);
      }
      for (const s of byName.get(name)!) {
        const lab = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
        lines.push(`${full}${lab ? `{${lab}}` : ""} ${Number.isFinite(s.value) ? s.value : 0}`);
      }
    }
    return lines.join("\n") + "\n";
  }
}

function key(name: string, labels: Labels): string {
  return name + JSON.stringify(Object.entries(labels).sort());
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
