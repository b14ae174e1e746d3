/**
 * Pure parts of the service collectors: redis INFO, mysql status rows, apache/nginx status pages,
 * and the `/s` rate helper they share.
 */

/** Number when the text is a plain number, else the text. */
function scalar(v: string): string | number {
  return /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
}

/** Parses redis INFO text; `dbN:keys=1,expires=0` lines become nested objects. */
export function parseRedisInfo(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const i = line.indexOf(":");
    if (i < 0) continue;
    const key = line.slice(0, i);
    const val = line.slice(i + 1);
    if (/^db\d+$/.test(key) && val.includes("=")) {
      out[key] = Object.fromEntries(
        val.split(",").map((kv) => {
          const [k, v] = kv.split("=");
          return [k, scalar(v ?? "")];
        }),
      );
    } else out[key] = scalar(val);
  }
  return out;
}

/** Redis counters also reported as `<key>/s`. */
export const REDIS_RATE_KEYS = [
  "total_commands_processed",
  "used_cpu_sys",
  "used_cpu_user",
  "used_cpu_sys_children",
  "used_cpu_user_children",
];

/** `(cur - prev) / dt` rounded to 2 decimals; 0 without a previous value. */
export function rate(prev: number | undefined, cur: number | undefined, dtSec: number): number {
  if (
    prev === undefined || cur === undefined || dtSec <= 0 || !Number.isFinite(prev) || !Number.isFinite(cur)
  ) return 0;
  return Math.round((Math.max(0, cur - prev) / dtSec) * 100) / 100;
}

/** Adds `<key>/s` for each key of `keys` present in both samples. */
export function addRates(
  result: Record<string, unknown>,
  prev: Record<string, unknown> | null,
  keys: string[],
  dtSec: number,
): void {
  for (const k of keys) {
    if (typeof result[k] !== "number") continue;
    result[`${k}/s`] = rate(prev?.[k] as number | undefined, result[k] as number, dtSec);
  }
}

/** `SHOW GLOBAL STATUS` rows -> `{Variable_name: value}`. */
export function statusMap(rows: Array<Record<string, unknown>>): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const r of rows) {
    const name = String(r.Variable_name ?? r.variable_name ?? "");
    if (name) out[name] = scalar(String(r.Value ?? r.value ?? ""));
  }
  return out;
}

/** The reference's mysql result from two status samples (rates per second since the previous run). */
export function mysqlResult(
  cur: Record<string, number | string>,
  prev: Record<string, number | string> | null,
  dtSec: number,
  secondsBehindMaster: number | null,
): Record<string, unknown> {
  const n = (k: string) => typeof cur[k] === "number" ? cur[k] as number : 0;
  const p = (k: string) => prev && typeof prev[k] === "number" ? prev[k] as number : undefined;
  return {
    available: true,
    version: cur.version ?? null,
    connections: rate(p("Connections"), n("Connections"), dtSec),
    connections_total: n("Connections"),
    createdTmpDiskTables: n("Created_tmp_disk_tables"),
    maxUsedConnections: n("Max_used_connections"),
    openFiles: n("Open_files"),
    slowQueries: rate(p("Slow_queries"), n("Slow_queries"), dtSec),
    slowQueries_total: n("Slow_queries"),
    tableLocksWaited: n("Table_locks_waited"),
    threadsConnected: n("Threads_connected"),
    questions: n("Questions"),
    "questions/s": rate(p("Questions"), n("Questions"), dtSec),
    uptime: n("Uptime"),
    secondsBehindMaster,
  };
}

/** mod_status `?auto` text -> counters. */
export function parseApacheStatus(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^([^:]+):\s*([\d.]+)\s*$/.exec(line.trim());
    if (m) out[m[1]] = Number(m[2]);
  }
  if (out["Total Accesses"] === undefined && out.BusyWorkers === undefined) {
    throw new Error("apache status page has no 'Total Accesses' or 'BusyWorkers' (is it mod_status ?auto?)");
  }
  return out;
}

/** nginx stub_status text -> `{connections, accepts, handled, requests, reading, writing, waiting}`. */
export function parseNginxStatus(text: string): Record<string, number> {
  const act = /Active connections:\s*(\d+)/.exec(text);
  const nums = /\n\s*(\d+)\s+(\d+)\s+(\d+)\s*\n/.exec(text);
  if (!act || !nums) throw new Error("nginx status page is not stub_status output");
  const rw = /Reading:\s*(\d+)\s*Writing:\s*(\d+)\s*Waiting:\s*(\d+)/.exec(text);
  return {
    connections: Number(act[1]),
    accepts: Number(nums[1]),
    handled: Number(nums[2]),
    requests: Number(nums[3]),
    reading: rw ? Number(rw[1]) : 0,
    writing: rw ? Number(rw[2]) : 0,
    waiting: rw ? Number(rw[3]) : 0,
  };
}

/** host:port of a `mongodb://host[:port][/...]` URI (first host). */
export function mongoHostPort(uri: string): string {
  const m = /^mongodb(?:\+srv)?:\/\/(?:[^@/]*@)?([^/,?]+)/.exec(uri);
  const hostPart = m ? m[1] : uri;
  const [h, p] = hostPart.startsWith("[")
    ? [hostPart.slice(0, hostPart.indexOf("]") + 1), hostPart.split("]:")[1]]
    : hostPart.split(":");
  return `${h === "localhost" ? "127.0.0.1" : h}:${p || "27017"}`;
}
