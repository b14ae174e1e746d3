/**
 * The "services" collectors Worker: net only to the configured redis/mysql/mongodb/status-URL
 * servers (see ../groups.ts), no files. Each run opens a fresh connection, like the reference.
 */
import type { Connection } from "mysql2/promise";
import { serve } from "../../sandbox/worker_kit.ts";
import { readCapped } from "../../read_capped.ts";
import {
  addRates,
  mongoHostPort,
  mysqlResult,
  parseApacheStatus,
  parseNginxStatus,
  parseRedisInfo,
  rate,
  REDIS_RATE_KEYS,
  statusMap,
} from "../parsers/services.ts";
import { mongoResult } from "../parsers/mongodb.ts";
import type { RunReply, RunRequest } from "../protocol.ts";
import { reason, setting, tcpAnswers } from "../precheck.ts";

type Data = Record<string, unknown>;
/** Largest status page read (Apache's, nginx's, RabbitMQ's API answers are a few KB). */
const STATUS_PAGE_MAX = 4 * 1024 * 1024;
const prevSamples = new Map<string, { at: number; v: Record<string, unknown> }>();

function remember(
  key: string,
  v: Record<string, unknown>,
): { prev: Record<string, unknown> | null; dt: number } {
  const now = performance.now();
  const p = prevSamples.get(key);
  prevSamples.set(key, { at: now, v });
  return { prev: p?.v ?? null, dt: p ? (now - p.at) / 1000 : 0 };
}

/** Cleanup problems of the current run (a close that failed), sent back in `warnings`. */
let warnings: string[] = [];

/** Runs a cleanup step; a failure is kept as a warning of the run, never dropped. */
async function cleanup(what: string, step: () => Promise<unknown>): Promise<void> {
  try {
    await step();
  } catch (err) {
    warnings.push(`${what}: ${reason(err)}`);
  }
}

/**
 * Opens and closes a TCP connection (a late one closed): the npm clients (tens of MB once loaded)
 * are imported only after a server answers, so a host without redis/mysql keeps this Worker small.
 */
const probe = (hostname: string, port: number) => tcpAnswers(hostname, port, 3000);

async function redis(data: Data): Promise<RunReply> {
  const host = setting(data, "redis_server", "127.0.0.1");
  const port = Number(setting(data, "redis_port", "6379"));
  const password = typeof data.redis_password === "string" && data.redis_password
    ? data.redis_password
    : undefined;
  try {
    await probe(host, port);
  } catch (err) {
    return {
      results: { available: false },
      inactive: `no redis server reachable at ${host}:${port}: ${reason(err)}`,
    };
  }
  const { createClient } = await import("redis");
  const client = createClient({
    socket: { host, port, connectTimeout: 3000, reconnectStrategy: false },
    password,
  });
  client.on("error", () => {});
  const t0 = performance.now();
  try {
    await client.connect();
  } catch (err) {
    return {
      results: { available: false },
      inactive: `no redis server reachable at ${host}:${port}: ${reason(err)}`,
    };
  }
  const latency = Math.round((performance.now() - t0) * 100) / 100;
  try {
    const info = parseRedisInfo(await client.info());
    const { prev, dt } = remember("redis", info);
    const result: Record<string, unknown> = { ...info, available: true, connexion_latency_ms: latency };
    addRates(result, prev, REDIS_RATE_KEYS, dt);
    return { results: result };
  } finally {
    client.destroy();
  }
}

async function mysqlRun(data: Data): Promise<RunReply> {
  const host = setting(data, "mysql_server", "127.0.0.1");
  const port = Number(setting(data, "mysql_port", "3306"));
  const socketPath = typeof data.mysql_socket === "string" && data.mysql_socket
    ? data.mysql_socket
    : undefined;
  const where = socketPath ?? `${host}:${port}`;
  let conn: Connection;
  try {
    if (!socketPath) await probe(host === "localhost" ? "127.0.0.1" : host, port);
    const mysql = (await import("mysql2/promise")).default;
    conn = await mysql.createConnection({
      host: host === "localhost" ? "127.0.0.1" : host,
      port,
      socketPath,
      user: setting(data, "mysql_user", "root"),
      password: typeof data.mysql_password === "string" ? data.mysql_password : "root",
      connectTimeout: 3000,
    });
  } catch (err) {
    return { results: { available: false }, inactive: `cannot connect to mysql at ${where}: ${reason(err)}` };
  }
  try {
    const [rows] = await conn.query("SHOW GLOBAL STATUS");
    const status = statusMap(rows as Array<Record<string, unknown>>);
    const [ver] = await conn.query("SELECT VERSION() AS v");
    status.version = String((ver as Array<{ v: string }>)[0]?.v ?? "");
    let behind: number | null = null;
    if (!data.mysql_norepl) {
      try {
        const [slave] = await conn.query("SHOW SLAVE STATUS");
        const v = (slave as Array<Record<string, unknown>>)[0]?.Seconds_Behind_Master;
        behind = v === undefined || v === null ? null : Number(v);
      } catch { /* no privilege for replication status: leave null */ }
    }
    const { prev, dt } = remember("mysql", status);
    return { results: mysqlResult(status, prev as Record<string, number | string> | null, dt, behind) };
  } finally {
    await cleanup("closing the MySQL connection", () => conn.end());
  }
}

/** serverStatus through the official driver (loaded only after a server answers the probe). */
async function mongodb(data: Data): Promise<RunReply> {
  const uri = setting(data, "mongodb_server", "mongodb://127.0.0.1");
  const hp = mongoHostPort(uri);
  const i = hp.lastIndexOf(":");
  const hostname = hp.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(hp.slice(i + 1));
  try {
    await probe(hostname, port);
  } catch (err) {
    return {
      results: { available: false },
      inactive: `no MongoDB server reachable at ${hp}: ${reason(err)}`,
    };
  }
  const { MongoClient } = await import("mongodb");
  const t0 = performance.now();
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: 3000,
    connectTimeoutMS: 3000,
    directConnection: !data.MongoDBReplSet,
    replicaSet: typeof data.MongoDBReplSet === "string" && data.MongoDBReplSet
      ? data.MongoDBReplSet
      : undefined,
  });
  try {
    await client.connect();
  } catch (err) {
    await cleanup("closing the MongoDB client", () => client.close());
    return { results: { available: false }, inactive: `cannot talk to MongoDB at ${hp}: ${reason(err)}` };
  }
  try {
    const admin = client.db("admin");
    const status = await admin.command({ serverStatus: 1 });
    const latency = Math.round((performance.now() - t0) * 100) / 100;
    let replSet: Record<string, unknown> | null = null;
    try {
      replSet = await admin.command({ replSetGetStatus: 1 });
    } catch { /* not a replica set member */ }
    const dbStats: Record<string, Record<string, unknown>> = {};
    try {
      const list = await admin.command({ listDatabases: 1, nameOnly: true });
      for (const d of ((list.databases ?? []) as Array<{ name: string }>).slice(0, 50)) {
        dbStats[d.name] = await client.db(d.name).command({ dbStats: 1 });
      }
    } catch { /* not allowed to list: no dbStats */ }
    const { prev, dt } = remember("mongodb", status);
    return {
      results: { ...mongoResult(status, prev, dt, { replSet, dbStats }), connexion_latency_ms: latency },
    };
  } finally {
    await cleanup("closing the MongoDB client", () => client.close());
  }
}

async function fetchText(url: string, user?: unknown, pass?: unknown): Promise<string> {
  const headers: Record<string, string> = {};
  if (typeof user === "string" && user) {
    headers.authorization = `Basic ${btoa(`${user}:${String(pass ?? "")}`)}`;
  }
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  const text = new TextDecoder().decode(await readCapped(res, STATUS_PAGE_MAX));
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return text;
}

function notSet(key: string): RunReply {
  return { results: null, inactive: `${key} is not set in the configuration data` };
}

async function apache(data: Data): Promise<RunReply> {
  const url = data.apacheStatusUrl;
  if (typeof url !== "string" || !url) return notSet("apacheStatusUrl");
  const full = url.includes("?auto") ? url : `${url}${url.includes("?") ? "&" : "?"}auto`;
  const s = parseApacheStatus(await fetchText(full, data.apacheStatusUser, data.apacheStatusPass));
  const { prev, dt } = remember("apache", s);
  return {
    results: {
      reqPerSec: rate(prev?.["Total Accesses"] as number | undefined, s["Total Accesses"], dt),
      busyWorkers: s.BusyWorkers ?? 0,
      idleWorkers: s.IdleWorkers ?? 0,
      totalAccesses: s["Total Accesses"] ?? 0,
    },
  };
}

async function nginx(data: Data): Promise<RunReply> {
  const url = data.nginxStatusUrl;
  if (typeof url !== "string" || !url) return notSet("nginxStatusUrl");
  const s = parseNginxStatus(await fetchText(url));
  const { prev, dt } = remember("nginx", s);
  return { results: { ...s, reqPerSec: rate(prev?.requests as number | undefined, s.requests, dt) } };
}

async function rabbitmq(data: Data): Promise<RunReply> {
  const url = data.rabbitMQStatusUrl;
  if (typeof url !== "string" || !url) return notSet("rabbitMQStatusUrl");
  const base = url.replace(/\/+$/, "");
  const get = async (p: string) =>
    JSON.parse(await fetchText(base + p, data.rabbitMQUser, data.rabbitMQPass));
  const conns = await get("/api/connections");
  const queues = await get("/api/queues") as Array<Record<string, unknown>>;
  return {
    results: {
      connections: Array.isArray(conns) ? conns.length : 0,
      queues: Array.isArray(queues)
        ? queues.map((q) => ({
          name: q.name,
          vhost: q.vhost,
          messages: q.messages ?? 0,
          consumers: q.consumers ?? 0,
        }))
        : [],
    },
  };
}

const collectors: Record<string, (d: Data) => Promise<RunReply>> = {
  redis,
  mysql: mysqlRun,
  mongodb,
  apache,
  nginx,
  rabbitmq,
};

serve({
  async run(req: RunRequest): Promise<RunReply> {
    const fn = collectors[req.name];
    if (!fn) throw new Error(`services worker has no collector ${req.name}`);
    warnings = [];
    const reply = await fn(req.data ?? {});
    return warnings.length ? { ...reply, warnings } : reply;
  },
});
