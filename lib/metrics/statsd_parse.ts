/**
 * The etsy statsd wire format, one line at a time (pure; never throws):
 * `name:value|type[|@rate]`, several `value|type` groups after one name (`a:1|c:2|c`), and
 * several lines per packet separated by `\n`. Types: `c` counter, `ms`/`h` timer, `g` gauge
 * (`+n`/`-n` change it), `s` set. Keys are made Graphite-safe the way etsy does it.
 *
 * ```ts
 * parseStatsdLine("api.hits:3|c|@0.5"); // [{ name: "api.hits", kind: "c", value: 3, rate: 0.5, ... }]
 * ```
 */

import { canonicalName } from "./tag_names.ts";

export type StatsdKind = "c" | "ms" | "g" | "s";

/** One parsed sample. */
export interface StatsdSample {
  name: string;
  kind: StatsdKind;
  /** Number for c/ms/g; NaN for sets (see `member`). */
  value: number;
  /** Sampling rate in (0, 1]. */
  rate: number;
  /** Gauge given as `+n`/`-n`: a change, not an absolute value. */
  delta: boolean;
  /** Set member as sent. */
  member: string;
}

/** A rejected line or group, with why. */
export interface StatsdBad {
  bad: string;
}

const SAFE = /^[A-Za-z0-9_.\-;=]+$/;

/** etsy's key sanitation: spaces → `_`, `/` → `-`, anything else outside `[A-Za-z0-9_.-;=]` dropped. */
export function sanitizeKey(key: string): string {
  if (SAFE.test(key)) return key;
  return key.replace(/\s+/g, "_").replace(/\//g, "-").replace(/[^A-Za-z0-9_.\-;=]/g, "");
}

/**
 * A key as aggregated and routed: sanitized, and when tagged (`name;tag=value`, graphite 1.1)
 * validated and made canonical (tags sorted), so one series gets every order of its tags.
 */
export function statsdKey(raw: string): string | StatsdBad {
  const name = sanitizeKey(raw);
  if (name === "") return { bad: "empty name" };
  if (!name.includes(";")) return name;
  const c = canonicalName(name);
  return "bad" in c ? c : c.path;
}

/**
 * The name a flushed statistic is written under: `prefix.key.suffix`, a tagged key's tags after
 * the suffix as etsy statsd's graphite backend puts them (`stats.timers.api;env=prod` → `..mean;env=prod`).
 */
export function statsName(prefix: string, key: string, suffix: string): string {
  const semi = key.indexOf(";");
  const head = suffix ? `.${suffix}` : "";
  return semi < 0 ? `${prefix}.${key}${head}` : `${prefix}.${key.slice(0, semi)}${head}${key.slice(semi)}`;
}

/**
 * Parses one line into its samples; a group that does not parse yields a `StatsdBad` in its
 * place (the other groups of the line still count). An empty line yields nothing.
 */
export function parseStatsdLine(line: string): Array<StatsdSample | StatsdBad> {
  const colon = line.indexOf(":");
  if (colon <= 0) return line.trim() === "" ? [] : [{ bad: "no name:value" }];
  const key = statsdKey(line.slice(0, colon));
  if (typeof key !== "string") return [key];
  const name = key;
  const out: Array<StatsdSample | StatsdBad> = [];
  let start = colon + 1;
  while (start <= line.length) {
    let end = line.indexOf(":", start);
    if (end < 0) end = line.length;
    out.push(parseGroup(name, line.slice(start, end)));
    start = end + 1;
  }
  return out;
}

function parseGroup(name: string, group: string): StatsdSample | StatsdBad {
  const bar = group.indexOf("|");
  if (bar < 0) return { bad: "no |type" };
  const rawValue = group.slice(0, bar);
  let kindEnd = group.indexOf("|", bar + 1);
  if (kindEnd < 0) kindEnd = group.length;
  const kindText = group.slice(bar + 1, kindEnd);
  let rate = 1;
  if (kindEnd < group.length) {
    const extra = group.slice(kindEnd + 1);
    // `@rate`, and tag sections (`#a:b`) that some clients add: tags are ignored
    for (const part of extra.split("|")) {
      if (part.startsWith("@")) {
        rate = Number(part.slice(1));
        if (!(rate > 0 && rate <= 1)) return { bad: "sample rate not in (0, 1]" };
      } else if (!part.startsWith("#") && part !== "") return { bad: `unknown field ${part.slice(0, 20)}` };
    }
  }
  let kind: StatsdKind;
  if (kindText === "c" || kindText === "ms" || kindText === "g" || kindText === "s") kind = kindText;
  else if (kindText === "h" || kindText === "d") kind = "ms";
  else return { bad: `unknown type ${kindText.slice(0, 10)}` };
  if (kind === "s") {
    if (rawValue === "") return { bad: "empty set member" };
    return { name, kind, value: NaN, rate, delta: false, member: rawValue };
  }
  if (rawValue === "" || rawValue.trim() !== rawValue) return { bad: "value is not a number" };
  const value = Number(rawValue);
  if (!Number.isFinite(value)) return { bad: "value is not a finite number" };
  const first = rawValue.charCodeAt(0);
  const delta = kind === "g" && (first === 43 /* + */ || first === 45 /* - */);
  return { name, kind, value, rate, delta, member: "" };
}
