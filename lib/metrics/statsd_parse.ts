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

/** Longest statsd key or set member (a longer one is a bad line). */
export const MAX_KEY_CHARS = 900;

/**
 * A key as aggregated and routed: sanitized, and when tagged (`name;tag=value`, graphite 1.1)
 * validated and made canonical (tags sorted), so one series gets every order of its tags.
 */
export function statsdKey(raw: string): string | StatsdBad {
  const name = sanitizeKey(raw);
  if (name === "") return { bad: "empty name" };
  // its flushed names (`stats.timers.<key>.upper_90`...) must fit the store's 1 024 characters
  if (name.length > MAX_KEY_CHARS) return { bad: `name longer than ${MAX_KEY_CHARS} characters` };
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

/** DogStatsD's client timestamp section (`|T1656581400`): statsd stamps at the flush, so it is ignored. */
const CLIENT_TIME = /^T\d+$/;

/** What becomes of DogStatsD tags (`|#env:prod,region:eu`): dropped, or graphite tags of the series. */
export type StatsdTags = "ignore" | "graphite";

/**
 * Parses one line into its samples; a group that does not parse yields a `StatsdBad` in its
 * place (the other groups of the line still count). An empty line yields nothing. A line with a
 * DogStatsD tag section (`|#`) is read as DogStatsD writes it (parseDogStatsd).
 */
export function parseStatsdLine(line: string, tags: StatsdTags = "ignore"): Array<StatsdSample | StatsdBad> {
  const colon = line.indexOf(":");
  if (colon <= 0) return line.trim() === "" ? [] : [{ bad: "no name:value" }];
  const key = statsdKey(line.slice(0, colon));
  if (typeof key !== "string") return [key];
  const next = line.indexOf(":", colon + 1);
  if (next < 0) return [parseGroup(key, line.slice(colon + 1))]; // one group: the common line
  // a DogStatsD tag holds ':' (`|#env:prod`), which etsy's format uses between groups
  if (line.includes("|#", colon)) return parseDogStatsd(key, line.slice(colon + 1), tags);
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

/**
 * DogStatsD's line after the name: `<value>[:<value>...]|<type>[|@<rate>][|#<tag>[:<value>],...][|c:<container>]
 * [|T<timestamp>]`. Its tags hold `:`, which etsy's format uses between groups (`a:1|c:2|ms`), so a
 * line with a tag section is one group whose values share the type. With `tags: "graphite"` each
 * `key:value` tag becomes a graphite tag of the series (`name;key=value`, canonical; a tag without a
 * value is left out); container ids and client timestamps are ignored (statsd stamps at the flush).
 */
function parseDogStatsd(name: string, rest: string, tags: StatsdTags): Array<StatsdSample | StatsdBad> {
  const sections = rest.split("|");
  if (sections.length < 2) return [{ bad: "no |type" }];
  let meta = "";
  const extra: string[] = [];
  for (const sec of sections.slice(2)) {
    if (sec.startsWith("#")) {
      if (tags === "graphite") {
        for (const t of sec.slice(1).split(",")) {
          const at = t.indexOf(":");
          if (at > 0 && at < t.length - 1) extra.push(`;${t.slice(0, at)}=${t.slice(at + 1)}`);
        }
      }
    } else if (sec.startsWith("@")) meta = `|${sec}`;
    else if (sec !== "" && !sec.startsWith("c:") && !CLIENT_TIME.test(sec)) {
      return [{ bad: `unknown field ${sec.slice(0, 20)}` }];
    }
  }
  if (extra.length) {
    const c = canonicalName(name + extra.join(""));
    if ("bad" in c) return [c];
    name = c.path;
  }
  return sections[0].split(":").map((v) => parseGroup(name, `${v}|${sections[1]}${meta}`));
}

function parseGroup(name: string, group: string): StatsdSample | StatsdBad {
  const bar = group.indexOf("|");
  if (bar < 0) return { bad: "no |type" };
  const rawValue = group.slice(0, bar);
  let kindEnd = group.indexOf("|", bar + 1);
  if (kindEnd < 0) kindEnd = group.length;
  // trimmed as etsy trims it (`x:1|c ` from a sloppy script is a counter there)
  const kindText = group.slice(bar + 1, kindEnd).trim();
  let rate = 1;
  if (kindEnd < group.length) {
    const extra = group.slice(kindEnd + 1);
    // `@rate`, and a tag section without `:` (`#a`; those with one are DogStatsD lines)
    for (const part of extra.split("|")) {
      if (part.startsWith("@")) {
        rate = Number(part.slice(1));
        if (!(rate > 0 && rate <= 1)) return { bad: "sample rate not in (0, 1]" };
      } else if (!part.startsWith("#") && part !== "" && !CLIENT_TIME.test(part)) {
        return { bad: `unknown field ${part.slice(0, 20)}` };
      }
    }
  }
  let kind: StatsdKind;
  if (kindText === "c" || kindText === "ms" || kindText === "g" || kindText === "s") kind = kindText;
  else if (kindText === "h" || kindText === "d") kind = "ms";
  else return { bad: `unknown type ${kindText.slice(0, 10)}` };
  if (kind === "s") {
    if (rawValue === "") return { bad: "empty set member" };
    if (rawValue.length > MAX_KEY_CHARS) return { bad: `set member longer than ${MAX_KEY_CHARS} characters` };
    return { name, kind, value: NaN, rate, delta: false, member: rawValue };
  }
  // spaces around the number are allowed as etsy's Number() allows them (`x: 1|c`); none at all is not
  if (rawValue.trim() === "") return { bad: "value is not a number" };
  const value = Number(rawValue);
  if (!Number.isFinite(value)) return { bad: "value is not a finite number" };
  if (kindText === "ms" && value < 0) return { bad: "negative timing" }; // as etsy (`h`, `d` may be)
  const first = rawValue.charCodeAt(0); // as sent: etsy's `/^[-+]/` (` +3` sets 3)
  const delta = kind === "g" && (first === 43 /* + */ || first === 45 /* - */);
  return { name, kind, value, rate, delta, member: "" };
}
