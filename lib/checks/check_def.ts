/**
 * Check definitions (reference §6.1): normalises a loaded `check` object, or a service's embedded
 * check, into what the scheduler needs — id, activation rule, interval, kind (floor 0, pure).
 */
import { dirname } from "node:path";
import { parseDuration } from "../clock/mod.ts";

export type CheckKind = "evaluated" | "nagios" | "passive";

/** A loaded check, ready to schedule. */
export interface CheckDef {
  /** Registry id: the config id (e.g. `linux/cpu`) or `service:<name>`. */
  id: string;
  /** Where it came from: `file:<path>` or `from:http`. */
  from: string;
  /** Absolute path of the file that defines it ("" when embedded in a service from HTTP). */
  file: string;
  /** The validated fields, extra keys kept (they are data for lookups). */
  value: Record<string, unknown>;
  /** `*` or a tag. */
  applyOn: string;
  intervalMs: number;
  /** Plugin timeout (Nagios checks). */
  timeoutMs: number;
  kind: CheckKind;
  /** The service this check belongs to, if any. */
  service?: string;
  /** Problems found when loading (e.g. a syntax error in `critical_if`); the check runs UNKNOWN. */
  problems: string[];
  /** Said when loading (an interval raised to 1 s) and shown with the problems; the check runs. */
  warnings: string[];
  /**
   * Why the plugin cannot be run, as of the last look (load, then each run): not frozen with the
   * problems, since installing the plugin or making it executable fixes it without a reload.
   */
  pluginProblem?: string;
}

const PACK_ID = /^packs\/([^/]+)\/(?:checks|services|detectors)\/(.+)$/;

/** `packs/<pack>/checks/<name>` → `<pack>/<name>`; other ids unchanged. */
export function shortObjectId(id: string): string {
  const m = PACK_ID.exec(id);
  return m ? `${m[1]}/${m[2]}` : id;
}

/** Default `apply_on`: the pack name, else the parent directory of the id, else `*`. */
export function defaultApplyOn(configId: string): string {
  const m = PACK_ID.exec(configId);
  if (m) return m[1];
  const d = dirname(configId);
  return d === "." || d === "" ? "*" : d.split("/").pop()!;
}

/** True when a check/service with this `apply_on` is active on a node with these tags. */
export function appliesTo(applyOn: string, tags: string[]): boolean {
  return applyOn === "*" || applyOn === "" || tags.includes(applyOn);
}

function kindOf(v: Record<string, unknown>): CheckKind {
  if (typeof v.script === "string" && v.script.trim()) return "nagios";
  if (
    (typeof v.critical_if === "string" && v.critical_if.trim()) ||
    (typeof v.warning_if === "string" && v.warning_if.trim())
  ) {
    return "evaluated";
  }
  return "passive";
}

export interface DefInput {
  id: string;
  file: string;
  value: Record<string, unknown>;
  /** The config id (path relative to its root) used for the default `apply_on`. */
  configId?: string;
  service?: string;
  /** `apply_on` imposed by the owning service. */
  applyOn?: string;
  defaultTimeoutMs: number;
}

/** Builds a CheckDef; never throws (bad durations fall back to the defaults and are noted). */
export function makeCheckDef(input: DefInput): CheckDef {
  const v = input.value;
  const problems: string[] = [];
  const warnings: string[] = [];
  let intervalMs = parseDuration(v.interval ?? "10s") ?? 10_000;
  if (intervalMs < 1000) {
    warnings.push(`interval ${JSON.stringify(v.interval)} is below 1s; using 1s`);
    intervalMs = 1000;
  }
  const timeoutMs = v.timeout !== undefined
    ? parseDuration(v.timeout) ?? input.defaultTimeoutMs
    : input.defaultTimeoutMs;
  const applyOn = input.applyOn ??
    (typeof v.apply_on === "string" ? v.apply_on : defaultApplyOn(input.configId ?? input.id));
  return {
    id: input.id,
    from: input.file ? `file:${input.file}` : "from:http",
    file: input.file,
    value: v,
    applyOn,
    intervalMs,
    timeoutMs: Math.max(100, timeoutMs),
    kind: kindOf(v),
    service: input.service,
    problems,
    warnings,
  };
}
