/**
 * The mongodb collector with the real driver, in its sandboxed Worker, against a loopback server
 * speaking the MongoDB wire protocol (OP_MSG and legacy OP_QUERY handshakes, BSON documents).
 */
import assert from "node:assert/strict";
import { deserialize, serialize } from "bson";
import { CollectorRuntime, defaultGroups } from "../../lib/collectors/mod.ts";
import { mongoResult } from "../../lib/collectors/parsers/mongodb.ts";
import { Sandbox } from "../../lib/sandbox/mod.ts";
import { RealClock } from "../../lib/clock/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { freePort } from "../helpers.ts";

type Doc = Record<string, unknown>;
const params = { interval: 10_000, timeout: 30_000, disabled: [], intervals: {} };

function header(len: number, reqId: number, respTo: number, op: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setInt32(0, len, true);
  v.setInt32(4, reqId, true);
  v.setInt32(8, respTo, true);
  v.setInt32(12, op, true);
  return b;
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A tiny MongoDB server: answers hello, serverStatus, listDatabases, dbStats; counts commands. */
function fakeMongo(port: number) {
  let commands = 0;
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const conns = new Set<Deno.Conn>();
  const answer = (cmd: Doc): Doc => {
    commands++;
    const name = Object.keys(cmd)[0];
    switch (name.toLowerCase()) {
      case "hello":
      case "ismaster":
        return {
          ismaster: true,
          isWritablePrimary: true,
          helloOk: true,
          maxBsonObjectSize: 16777216,
          maxMessageSizeBytes: 48000000,
          maxWriteBatchSize: 100000,
          localTime: new Date(),
          logicalSessionTimeoutMinutes: 30,
          connectionId: 1,
          minWireVersion: 0,
          maxWireVersion: 21,
          readOnly: false,
          ok: 1,
        };
      case "serverstatus":
        return {
          host: "fake",
          version: "7.0.99-fake",
          uptime: 100,
          globalLock: {
            totalTime: 1000,
            currentQueue: { total: 1, readers: 1, writers: 0 },
            activeClients: { total: 2, readers: 1, writers: 1 },
          },
          mem: { resident: 64, virtual: 1024 },
          connections: { current: 3, available: 800 },
          extra_info: { heap_usage_bytes: 12345, page_faults: 7 },
          opcounters: { insert: 10, query: 20, update: 0, delete: 0, getmore: 0, command: commands },
          asserts: { regular: 0, warning: 0, msg: 0, user: 2, rollovers: 0 },
          metrics: { cursor: { open: { total: 4 } } },
          ok: 1,
        };
      case "replsetgetstatus":
        return { ok: 0, errmsg: "not running with --replSet", code: 76, codeName: "NoReplicationEnabled" };
      case "listdatabases":
        return { databases: [{ name: "admin" }, { name: "app" }], ok: 1 };
      case "dbstats":
        return {
          db: cmd.$db,
          collections: 3,
          objects: 10,
          dataSize: 1000,
          storageSize: 4096,
          indexes: 3,
          indexSize: 2048,
          ok: 1,
        };
      default:
        return { ok: 1 };
    }
  };
  const serve = async (conn: Deno.Conn) => {
    conns.add(conn);
    let buf: Uint8Array = new Uint8Array(0);
    const chunk = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await conn.read(chunk);
        if (n === null) break;
        buf = concat([buf, chunk.subarray(0, n)]);
        while (buf.length >= 16) {
          const v = new DataView(buf.buffer, buf.byteOffset);
          const len = v.getInt32(0, true);
          if (buf.length < len) break;
          const msg = buf.subarray(0, len);
          buf = buf.slice(len);
          const mv = new DataView(msg.buffer, msg.byteOffset);
          const reqId = mv.getInt32(4, true);
          const op = mv.getInt32(12, true);
          if (op === 2013) { // OP_MSG: flags, kind-0 section
            const doc = deserialize(msg.subarray(21));
            const body = serialize(answer(doc));
            const out = concat([header(16 + 4 + 1 + body.length, 1, reqId, 2013), new Uint8Array(5), body]);
            await conn.write(out);
          } else if (op === 2004) { // OP_QUERY: flags, cstring ns, skip, limit, query
            let p = 20;
            while (msg[p] !== 0) p++;
            const doc = deserialize(msg.subarray(p + 1 + 8));
            const body = serialize(answer(doc));
            const fields = new Uint8Array(20);
            new DataView(fields.buffer).setInt32(16, 1, true); // numberReturned
            await conn.write(concat([header(16 + 20 + body.length, 1, reqId, 1), fields, body]));
          } else break;
        }
      }
    } catch {
      /* client went away */
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };
  const loop = (async () => {
    try {
      for await (const c of listener) void serve(c);
    } catch { /* closed */ }
  })();
  return {
    commands: () => commands,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await loop;
    },
  };
}

Deno.test("mongodb: serverStatus fields through the real driver in the sandbox; rates move", async () => {
  const port = freePort();
  const server = fakeMongo(port);
  const data = { mongodb_server: `mongodb://127.0.0.1:${port}` };
  const sandbox = new Sandbox();
  const groups = defaultGroups(data).filter((g) => g.name === "collectors-services");
  const rt = new CollectorRuntime({
    sandbox,
    clock: new RealClock(),
    log: silentLogger,
    params,
    data,
    groups,
  });
  try {
    const e1 = await rt.runOnce("mongodb");
    assert.equal(e1.active, true, e1.log);
    const r = e1.results as Record<string, Doc>;
    assert.equal(r.available, true);
    assert.equal(r.version, "7.0.99-fake");
    assert.deepEqual(r.connections, { current: 3, available: 800 });
    assert.deepEqual((r.globalLock as Doc).currentQueue, { total: 1, readers: 1, writers: 0 });
    assert.equal((r.extraInfo as Doc).heapUsage, 12345);
    assert.equal((r.cursors as Doc).totalOpen, 4);
    assert.deepEqual(Object.keys(r.dbStats).sort(), ["admin", "app"]);
    assert.equal((r.dbStats as Record<string, Doc>).app.objects, 10);
    assert.equal(r.replSet, undefined, "not a replica set");
    await new Promise((res) => setTimeout(res, 100));
    const e2 = await rt.runOnce("mongodb");
    assert.ok(((e2.results!.opcounters as Doc).commandPS as number) > 0, "commands per second between runs");
    assert.ok(server.commands() > 4);
  } finally {
    rt.stop();
    sandbox.stopAll();
    await server.close();
  }
});

Deno.test("mongodb: result mapping of older servers (lock ratio, btree counters, replica set)", () => {
  const prev = {
    indexCounters: { btree: { accesses: 100, hits: 100, misses: 0, resets: 0 } },
    opcounters: { insert: 0 },
  };
  const cur = {
    version: "2.4.9",
    globalLock: { lockTime: 25, totalTime: 100 },
    mem: { resident: 1, virtual: 2, mapped: 3 },
    backgroundFlushing: { flushes: 5, average_ms: 2.5, last_ms: 1 },
    indexCounters: { btree: { accesses: 300, hits: 290, misses: 10, resets: 0 } },
    opcounters: { insert: 50 },
  };
  const r = mongoResult(cur, prev, 10, { replSet: { set: "rs0", myState: 1, members: [{}, {}, {}] } });
  assert.equal((r.globalLock as Doc).ratio, 0.25);
  assert.deepEqual(r.mem, { resident: 1, virtual: 2, mapped: 3 });
  assert.equal(((r.indexCounters as Doc).btree as Doc).accessesPS, 20);
  assert.equal((r.opcounters as Doc).insertPS, 5);
  assert.deepEqual(r.replSet, { setName: "rs0", myState: 1, members: 3 });
  assert.equal((r.backgroundFlushing as Doc).flushes, 5);
});
