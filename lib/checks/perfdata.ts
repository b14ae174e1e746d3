/**
 * Nagios plugin output (floor 0, pure): status text, long text and performance data
 * (`'label'=value[UOM];warn;crit;min;max`), and the exit-code mapping.
 *
 * ```ts
 * const p = parsePluginOutput("LOAD OK|load1=0.5;1;2;0;");
 * p.text; // "LOAD OK"
 * p.perf[0]; // { label: "load1", value: 0.5, uom: "", warn: "1", crit: "2", min: 0, max: null }
 * ```
 */
import type { CheckStateName } from "../types.ts";

export interface PerfDatum {
  label: string;
  value: number;
  uom: string;
  warn: string | null;
  crit: string | null;
  min: number | null;
  max: number | null;
}

export interface PluginOutput {
  /** First line without perfdata. */
  text: string;
  /** Following lines without perfdata (Nagios "long output"). */
  long: string;
  /** The raw perfdata text (all parts joined by a space). */
  perfText: string;
  perf: PerfDatum[];
}

/** Exit code → state: 0..3 as Nagios, anything else (127, signals) UNKNOWN. */
export function stateOfExitCode(
  code: number | null,
): { state: Exclude<CheckStateName, "pending">; state_id: number } {
  switch (code) {
    case 0:
      return { state: "ok", state_id: 0 };
    case 1:
      return { state: "warning", state_id: 1 };
    case 2:
      return { state: "critical", state_id: 2 };
    default:
      return { state: "unknown", state_id: 3 };
  }
}

/** Splits plugin output into text, long text and perfdata (first `|` of line 1, then of a later line). */
export function parsePluginOutput(raw: string): PluginOutput {
  const lines = raw.replace(/\r\n/g, "\n").replace(/\n+$/, "").split("\n");
  const perfParts: string[] = [];
  const first = lines[0] ?? "";
  const bar = first.indexOf("|");
  const text = (bar >= 0 ? first.slice(0, bar) : first).trim();
  if (bar >= 0) perfParts.push(first.slice(bar + 1).trim());
  const longLines: string[] = [];
  let inPerf = false;
  for (const line of lines.slice(1)) {
    if (inPerf) {
      perfParts.push(line.trim());
      continue;
    }
    const b = line.indexOf("|");
    if (b >= 0) {
      longLines.push(line.slice(0, b));
      perfParts.push(line.slice(b + 1).trim());
      inPerf = true;
    } else longLines.push(line);
  }
  const perfText = perfParts.filter(Boolean).join(" ");
  return { text, long: longLines.join("\n").trimEnd(), perfText, perf: parsePerfdata(perfText) };
}

const NUM = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/;

function numOrNull(s: string | undefined): number | null {
  if (s === undefined || s.trim() === "") return null;
  const n = Number(s.trim());
  return Number.isFinite(n) ? n : null;
}

/** Parses a perfdata text; malformed items are skipped, a `U` value is skipped. */
export function parsePerfdata(text: string): PerfDatum[] {
  const out: PerfDatum[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i])) i++;
    if (i >= n) break;
    let label = "";
    if (text[i] === "'") {
      i++;
      while (i < n) {
        if (text[i] === "'" && text[i + 1] === "'") {
          label += "'";
          i += 2;
        } else if (text[i] === "'") {
          i++;
          break;
        } else label += text[i++];
      }
    } else {
      while (i < n && text[i] !== "=" && !/\s/.test(text[i])) label += text[i++];
    }
    if (text[i] !== "=") {
      while (i < n && !/\s/.test(text[i])) i++; // skip the malformed word
      continue;
    }
    i++;
    let rest = "";
    while (i < n && !/\s/.test(text[i])) rest += text[i++];
    const [valueUom, warn, crit, min, max] = rest.split(";");
    const m = NUM.exec(valueUom ?? "");
    if (!m || !label) continue;
    const value = Number(m[0]);
    if (!Number.isFinite(value)) continue;
    const uom = valueUom.slice(m[0].length);
    const d: PerfDatum = {
      label,
      value,
      uom,
      warn: warn?.trim() ? warn.trim() : null,
      crit: crit?.trim() ? crit.trim() : null,
      min: numOrNull(min),
      max: numOrNull(max),
    };
    if (uom === "%") {
      d.min ??= 0;
      d.max ??= 100;
    }
    out.push(d);
  }
  return out;
}

/** Graphite-safe path part: anything but letters, digits, `_` and `-` becomes `_`. */
export function metricPart(s: string): string {
  const t = s.replace(/[^A-Za-z0-9_-]+/g, "_");
  return t || "_";
}

/** `<node>.<check id with / → .>.<label>` (each part made graphite-safe). */
export function perfMetricName(node: string, checkId: string, label: string): string {
  const check = checkId.split(/[/:]/).map(metricPart).join(".");
  return `${metricPart(node)}.${check}.${metricPart(label)}`;
}
