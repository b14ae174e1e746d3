/**
 * The reference's mongodb result (§8) from `serverStatus` (and optional dbStats / replSetGetStatus)
 * documents; counters become per-second rates (`…PS`) since the previous run.
 */
import { rate } from "./services.ts";

type Doc = Record<string, unknown>;

function num(v: unknown): number | null {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (
    v && typeof v === "object" && "toNumber" in v &&
    typeof (v as { toNumber: unknown }).toNumber === "function"
  ) {
    return (v as { toNumber(): number }).toNumber();
  }
  return null;
}

function get(d: unknown, path: string): unknown {
  let cur = d;
  for (const k of path.split(".")) {
    if (!cur || typeof cur !== "object") return undefined;
    cur = (cur as Doc)[k];
  }
  return cur;
}

const n = (d: unknown, path: string) => num(get(d, path));

function rates(cur: Doc, prev: Doc | null, base: string, keys: string[], dt: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) {
    out[`${k}PS`] = rate(
      prev ? n(prev, `${base}.${k}`) ?? undefined : undefined,
      n(cur, `${base}.${k}`) ?? undefined,
      dt,
    );
  }
  return out;
}

/** Result keys of the reference from a serverStatus document. */
export function mongoResult(
  status: Doc,
  prev: Doc | null,
  dtSec: number,
  extra: { dbStats?: Record<string, Doc>; replSet?: Doc | null } = {},
): Doc {
  const lockTime = n(status, "globalLock.lockTime");
  const totalTime = n(status, "globalLock.totalTime");
  const out: Doc = {
    available: true,
    version: get(status, "version") ?? null,
    uptime: n(status, "uptime"),
    globalLock: {
      ratio: lockTime !== null && totalTime ? lockTime / totalTime : null,
      currentQueue: {
        total: n(status, "globalLock.currentQueue.total"),
        readers: n(status, "globalLock.currentQueue.readers"),
        writers: n(status, "globalLock.currentQueue.writers"),
      },
      activeClients: {
        total: n(status, "globalLock.activeClients.total"),
        readers: n(status, "globalLock.activeClients.readers"),
        writers: n(status, "globalLock.activeClients.writers"),
      },
    },
    mem: {
      resident: n(status, "mem.resident"),
      virtual: n(status, "mem.virtual"),
      mapped: n(status, "mem.mapped"),
    },
    connections: { current: n(status, "connections.current"), available: n(status, "connections.available") },
    extraInfo: {
      heapUsage: n(status, "extra_info.heap_usage_bytes"),
      pageFaults: n(status, "extra_info.page_faults"),
    },
    opcounters: rates(status, prev, "opcounters", [
      "insert",
      "query",
      "update",
      "delete",
      "getmore",
      "command",
    ], dtSec),
    asserts: rates(status, prev, "asserts", ["regular", "warning", "msg", "user", "rollovers"], dtSec),
    cursors: {
      totalOpen: n(status, "metrics.cursor.open.total") ?? n(status, "cursors.totalOpen"),
    },
  };
  if (get(status, "backgroundFlushing")) {
    out.backgroundFlushing = {
      flushes: n(status, "backgroundFlushing.flushes"),
      average_ms: n(status, "backgroundFlushing.average_ms"),
      last_ms: n(status, "backgroundFlushing.last_ms"),
    };
  }
  if (get(status, "indexCounters")) {
    const base = get(status, "indexCounters.btree") ? "indexCounters.btree" : "indexCounters";
    out.indexCounters = { btree: rates(status, prev, base, ["accesses", "hits", "misses", "resets"], dtSec) };
  }
  if (extra.replSet) {
    const members = get(extra.replSet, "members");
    out.replSet = {
      setName: get(extra.replSet, "set") ?? null,
      myState: n(extra.replSet, "myState"),
      members: Array.isArray(members) ? members.length : 0,
    };
  }
  if (extra.dbStats) {
    const dbs: Doc = {};
    for (const [name, s] of Object.entries(extra.dbStats)) {
      dbs[name] = {
        collections: n(s, "collections"),
        objects: n(s, "objects"),
        dataSize: n(s, "dataSize"),
        storageSize: n(s, "storageSize"),
        indexes: n(s, "indexes"),
        indexSize: n(s, "indexSize"),
      };
    }
    out.dbStats = dbs;
  }
  return out;
}
