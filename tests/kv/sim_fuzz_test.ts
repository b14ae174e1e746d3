/**
 * Seeded randomized runs of a KV cluster on the simulated network (sim_cluster.ts): 3-5 nodes, a
 * few keys written from random nodes (puts, some with a ttl, deletes, compare-and-set puts), cuts
 * into random groups, heals, gossip following the cut (rings change), kill -9 and restart, spells of
 * lost messages and time passing, some writes left in flight across the next steps.
 * Then the network heals, hints and anti-entropy run for a few minutes, and every key is checked
 * against what its writers were told (`checkKey`).
 *
 * More seeds: KV_FUZZ_SEEDS=200 (how many), KV_FUZZ_FIRST=1 (from which), KV_FUZZ_STEPS=150;
 * KV_FUZZ_TRACE=1 prints the steps of a failing seed.
 */
import assert from "node:assert/strict";
import { compareVersion, type KvRecord } from "../../lib/kv/mod.ts";
import { isLive, type Version } from "../../lib/kv/record.ts";
import { dec, enc } from "./kv_helpers.ts";
import { type SimCluster, simCluster, type SimNode } from "./sim_cluster.ts";

const envInt = (name: string, dflt: number) => {
  const v = Deno.env.get(name);
  return v === undefined || v === "" ? dflt : Number(v);
};
const SEEDS = envInt("KV_FUZZ_SEEDS", 10);
const FIRST = envInt("KV_FUZZ_FIRST", 1);
const STEPS = envInt("KV_FUZZ_STEPS", 150);
const TRACE = Deno.env.get("KV_FUZZ_TRACE") === "1";

/** One write as its client saw it. Every put carries a value no other write uses (`w<id>`). */
export interface FuzzWrite {
  id: number;
  key: string;
  op: "put" | "delete";
  value: string;
  ttlMs: number;
  cas?: number;
  via: string;
  /** acked: ok true; refused: ok false (a CAS that lost: not applied); unknown: an error (503, timeout). */
  status: "pending" | "acked" | "refused" | "unknown";
  /** The index answered (acked or refused). */
  index?: number;
  error?: string;
  /** Virtual times it was sent and answered. */
  sentAt: number;
  doneAt?: number;
  /** Every node's gossip agreed (nobody believed anybody dead) from its sending to its answer. */
  calm: boolean;
}

/**
 * The versions each put was stamped with, as copies of it were stored: one, or more when its
 * forwarder, not hearing from the first owner, sent it to the next (both may have coordinated it).
 */
export type Stamps = Map<string, Version[]>;

/**
 * What a key's final copy may be, given its writes (the oracle). Let L be the acked write with the
 * highest index. An acked write is stored on `kv.write_acks` copies, so in the end every copy holds
 * it or a write with a higher index; a write that failed with an error (503, timeout) may or may
 * not have been applied, so it may be the final state, but only if its index is past L's; a CAS
 * answered ok=false was not applied and never may be. Each put carries its own value, and
 * `stamps` (seen as copies were stored) gives its version, so the final record names its write:
 * - a live value: a put, not refused, at its acked index if acked, at L's index or past it;
 * - an expiry tombstone (keeps the version and expiry of the put it ends): a put's, not refused,
 *   whose expiry passed, at L's index or past it;
 * - a delete's tombstone: a delete of the key, not refused, coordinated while its client waited
 *   (its modify_time in the window), at its acked index if acked, at L's index or past it;
 * - no row at all while an acked write exists: lost (tombstones live a day, the run minutes).
 * Two coordinators stamp the same index only in the same millisecond (they disagreed on the ring):
 * then the higher origin wins, and a tied acked put from a higher origin than the final record's is
 * lost (a tied delete's origin is not known: not checked).
 * Returns the problems found (empty: fine).
 */
export function checkKey(rec: KvRecord | null, writes: FuzzWrite[], stamps: Stamps, now: number): string[] {
  const acked = writes.filter((w) => w.status === "acked");
  const last = acked.reduce<FuzzWrite | null>((m, w) => !m || w.index! > m.index! ? w : m, null);
  const describe = (w: FuzzWrite | null | undefined) =>
    w ? `#${w.id} ${w.op}${w.op === "put" ? ` ${w.value}` : ""} (${w.status} ${w.index ?? "?"})` : "none";
  const problems: string[] = [];
  for (const w of acked) {
    const st = w.op === "put" ? stamps.get(w.value) ?? [] : [];
    if (w.op === "put" && !st.some((v) => v.modify_index === w.index)) {
      problems.push(
        `acked ${describe(w)} was stored at ${st.map((v) => v.modify_index).join(", ") || "no index"}`,
      );
    }
  }
  if (!rec) {
    if (last) problems.push(`no copy at all, last acked write ${describe(last)}`);
    return problems;
  }
  let w: FuzzWrite | undefined;
  let what: string;
  if (!rec.deleted) {
    what = "value";
    w = writes.find((x) => x.op === "put" && x.value === dec(rec.value));
  } else if (rec.expires > 0) {
    what = "expiry tombstone";
    w = writes.find((x) => {
      const st = x.op === "put" ? stamps.get(x.value) ?? [] : [];
      return st.some((v) => compareVersion(v, rec) === 0);
    });
  } else {
    what = "delete tombstone";
    const inWindow = writes.filter((x) =>
      x.op === "delete" && x.status !== "refused" && x.sentAt <= rec.modify_time &&
      rec.modify_time <= (x.doneAt ?? now)
    );
    w = inWindow.find((x) => x.index === rec.modify_index) ?? inWindow.find((x) => x.status !== "acked");
  }
  const at = `${what} at ${rec.modify_index}`;
  if (!w) return [...problems, `${at} is no write's`];
  if (w.status === "refused") problems.push(`${at} is a refused CAS's: ${describe(w)}`);
  if (w.status === "acked" && w.index !== rec.modify_index) problems.push(`${at} but ${describe(w)}`);
  if (!rec.deleted && !liveAt(rec, now)) problems.push(`${at}: expired, but not turned into a tombstone`);
  if (rec.deleted && rec.expires > now) problems.push(`${at}: its expiry ${rec.expires} has not come`);
  if (last && rec.modify_index < last.index!) {
    problems.push(`${at} (${describe(w)}) is older than acked ${describe(last)}`);
  }
  // a tie: writes of two coordinators stamped in the same millisecond, the higher origin wins
  const tied = acked.filter((x) => x.index === rec.modify_index && x !== w);
  for (const x of last && rec.modify_index === last.index ? tied : []) {
    const origin = x.op === "put"
      ? stamps.get(x.value)?.find((v) => v.modify_index === x.index)?.origin
      : undefined;
    if (origin !== undefined && origin > rec.origin) {
      problems.push(`${at} (${describe(w)}) won the tie over acked ${describe(x)} from a higher origin`);
    }
  }
  return problems;
}

/**
 * Two compare-and-sets of one key acked on the same base index: the second overwrote a write it
 * never saw (a lost update). Only while every node's gossip agreed on the ring from the sending to
 * the answer of both (README: once gossip on each side of a cut declares the other dead, both sides
 * can take writes). Base 0 (create if absent) is left out: a delete or an expiry between two such
 * writes makes the key absent again.
 */
export function casWinners(writes: FuzzWrite[]): string[] {
  const byBase = new Map<number, FuzzWrite[]>();
  for (const w of writes) {
    if (w.status !== "acked" || !w.cas || !w.calm) continue;
    byBase.set(w.cas, [...byBase.get(w.cas) ?? [], w]);
  }
  return [...byBase].filter(([, ws]) => ws.length > 1).map(([base, ws]) =>
    `${ws.length} CAS acked on base ${base}: ${ws.map((w) => `#${w.id} ${w.op} (${w.index})`).join(", ")}`
  );
}

/** isLive without narrowing (the oracle goes on with the record when it is not live). */
function liveAt(r: KvRecord, now: number): boolean {
  return isLive(r, now);
}

interface FuzzRun {
  c: SimCluster;
  keys: string[];
  writes: FuzzWrite[];
  stamps: Stamps;
  /** The current cut (one group: none). */
  groups: SimNode[][];
  inflight: Set<Promise<void>>;
  trace: string[];
  /** Some node's gossip believes another dead (rings may differ: two sides may both take a write). */
  diverged: boolean;
  /** How many nodes each node's gossip believes dead. */
  believed: Map<string, number>;
}

const pick = <T>(c: SimCluster, xs: T[]): T => xs[Math.floor(c.rng() * xs.length)];
/** Log-uniform in [lo, hi]. */
const spread = (c: SimCluster, lo: number, hi: number) => Math.round(lo * Math.pow(hi / lo, c.rng()));

function note(run: FuzzRun, s: string): void {
  run.trace.push(`${(run.c.clock.now() - 1_800_000_000_000).toString().padStart(7)} ${s}`);
}

/** Sends a write (a CAS reads its index first); awaited, or left in flight across the next steps. */
async function write(run: FuzzRun, op: "put" | "delete", cas: boolean): Promise<void> {
  const { c } = run;
  const key = pick(c, run.keys);
  // some CAS go straight to an owner other than the first, as from a forwarder that could not reach
  // it: owners then coordinate rival CAS of one key at once
  const upOwners = c.owners(key).filter((n) => n.up);
  const direct = cas && upOwners.length > 0 && c.rng() < 0.3;
  const via: SimNode = direct ? pick(c, upOwners) : pick(c, c.nodes.filter((n) => n.up));
  const ttlMs = op === "put" && c.rng() < 0.3 ? spread(c, 3000, 180_000) : 0;
  const id = run.writes.length + 1;
  let casIndex: number | undefined;
  if (cas) {
    try {
      const r = await c.drive(pick(c, c.nodes.filter((n) => n.up)).kv.get(key));
      casIndex = r.entry ? r.entry.modify_index : 0;
    } catch {
      return note(run, `cas read of ${key} failed`);
    }
  }
  const w: FuzzWrite = {
    id,
    key,
    op,
    value: op === "put" ? `w${id}` : "",
    ttlMs,
    cas: casIndex,
    via: via.name,
    status: "pending",
    sentAt: c.clock.now(),
    calm: !run.diverged,
  };
  run.writes.push(w);
  const what = `#${id} ${op} ${key}${op === "put" ? `=${w.value}` : ""}${ttlMs ? ` ttl=${ttlMs}` : ""}${
    cas ? ` cas=${casIndex}` : ""
  } ${direct ? "at owner" : "via"} ${via.name}`;
  note(run, `${what} sent`);
  const sent = direct
    ? coordinated(via, {
      op,
      key,
      value: op === "put" ? btoa(w.value) : undefined,
      ttl_ms: ttlMs || undefined,
      cas: casIndex,
    })
    : op === "put"
    ? via.kv.put(key, enc(w.value), { ttlMs, cas: casIndex })
    : via.kv.delete(key, { cas: casIndex });
  const done = sent.then((r) => {
    w.status = r.ok ? "acked" : "refused";
    w.index = r.index;
  }, (err: Error) => {
    w.status = "unknown";
    w.error = err.message;
  }).then(() => {
    w.doneAt = c.clock.now();
    note(
      run,
      `#${id} ${w.status}${w.index ? ` ${w.index}` : ""}${w.error ? `: ${w.error.slice(0, 80)}` : ""}`,
    );
    run.inflight.delete(done);
  });
  run.inflight.add(done);
  if (c.rng() < 0.7) await c.drive(done);
}

/** A write coordinated by owner `n` itself, sent as a forwarder sends it (its peer message). */
async function coordinated(
  n: SimNode,
  write: Record<string, unknown>,
): Promise<{ ok: boolean; index: number }> {
  const ans = await n.kv.serve("writes", { writes: [{ ...write, timeout_ms: 5000 }] }) as {
    results: Array<{ ok?: boolean; index?: number; error?: string }>;
  };
  const r = ans.results[0];
  if (r.error !== undefined || r.ok === undefined) throw new Error(r.error ?? "no answer");
  return { ok: r.ok, index: r.index! };
}

/** Cuts the nodes into 2 or 3 random groups. */
function partition(run: FuzzRun): void {
  const { c } = run;
  const groups: string[][] = [[], [], []];
  const n = c.rng() < 0.7 ? 2 : 3;
  for (const node of c.nodes) groups[Math.floor(c.rng() * n)].push(node.name);
  const named = groups.filter((g) => g.length);
  run.groups = named.map((g) => g.map((name) => c.nodes.find((x) => x.name === name)!));
  c.net.partition(run.groups.map((g) => g.map((x) => x.uuid)));
  note(run, `partition ${named.map((g) => g.join("")).join(" | ")}`);
}

/**
 * Some nodes' gossip catches up with the cut: each of them now believes the nodes outside its group
 * dead (none after a heal), and its ring follows (writes coordinated by the owners it still sees,
 * handover of keys to the new owners).
 */
function gossip(run: FuzzRun): void {
  const { c } = run;
  const told = c.nodes.filter(() => c.rng() < 0.6);
  for (const n of told) {
    const mine = run.groups.find((g) => g.includes(n))!;
    const dead = c.nodes.filter((x) => !mine.includes(x));
    c.believe(n, dead);
    run.believed.set(n.name, dead.length);
  }
  run.diverged = [...run.believed.values()].some((k) => k > 0);
  if (run.diverged) { for (const w of run.writes) if (w.status === "pending") w.calm = false; }
  note(run, `gossip: ${told.map((n) => n.name).join("") || "nobody"} follow the cut`);
}

/** Kills a node (-9: its store stays) while none is down, else brings the dead one back. */
async function killOrRestart(run: FuzzRun): Promise<void> {
  const { c } = run;
  const down = c.nodes.find((n) => !n.up);
  if (down) {
    await c.restart(down);
    spy(run, down);
    return note(run, `restart ${down.name}`);
  }
  const n = pick(c, c.nodes);
  await c.kill(n);
  note(run, `kill ${n.name}`);
}

async function step(run: FuzzRun): Promise<void> {
  const { c } = run;
  const r = c.rng();
  if (r < 0.35) return await write(run, "put", false);
  if (r < 0.47) return await write(run, "delete", false);
  if (r < 0.62) return await write(run, "put", true);
  if (r < 0.69) return partition(run);
  if (r < 0.75) {
    c.net.heal();
    run.groups = [c.nodes];
    return note(run, "heal");
  }
  if (r < 0.80) return gossip(run);
  if (r < 0.815) {
    // a lossy spell: one message in 20 lost (its sender hears nothing until its deadline), or none
    const lossy = c.rng() < 0.5;
    c.dropIf(lossy ? () => c.rng() < 0.05 : null);
    return note(run, lossy ? "lossy" : "lossless");
  }
  if (r < 0.83) return await killOrRestart(run);
  // a few ms sometimes: the next step lands while messages of in-flight writes are on the way
  const ms = c.rng() < 0.2 ? 1 + Math.floor(c.rng() * 20) : spread(c, 200, 30_000);
  note(run, `pass ${ms} ms`);
  await c.pass(ms);
}

/** Every copy of a put `n` stores tells its version (a spy on the node's storage, not the code under test). */
function spy(run: FuzzRun, n: SimNode): void {
  const storage = n.kv.local.storage;
  const merge = storage.merge.bind(storage);
  storage.merge = (rec) => {
    if (!rec.deleted && rec.value.length) {
      const versions = run.stamps.get(dec(rec.value)) ?? [];
      if (!versions.some((v) => compareVersion(v, rec) === 0)) {
        versions.push({ modify_index: rec.modify_index, origin: rec.origin });
      }
      run.stamps.set(dec(rec.value), versions);
    }
    return merge(rec);
  };
}

async function fuzz(seed: number): Promise<void> {
  const rng0 = (seed * 2654435761) >>> 0;
  const names = ["a", "b", "c", "d", "e"].slice(0, 3 + (rng0 % 3));
  const antiEntropy = ["1s", "5s", "30s"][(rng0 >>> 4) % 3];
  const c = await simCluster(names, seed, { antiEntropy });
  const run: FuzzRun = {
    c,
    keys: Array.from({ length: 2 + Math.floor(c.rng() * 5) }, (_, i) => `fz/${i}`),
    writes: [],
    stamps: new Map(),
    groups: [c.nodes],
    inflight: new Set(),
    trace: [`seed ${seed}: nodes ${names.join("")}, anti-entropy ${antiEntropy}`],
    diverged: false,
    believed: new Map(),
  };
  for (const n of c.nodes) spy(run, n);
  try {
    for (let i = 0; i < STEPS; i++) await step(run);
    c.net.heal();
    c.dropIf(null);
    for (const n of c.nodes) c.believe(n, []);
    for (const n of c.nodes.filter((x) => !x.up)) {
      await c.restart(n);
      spy(run, n);
    }
    note(run, "final heal");
    // a write whose coordinator was killed may never be answered: it stays unknown
    for (let t = 0; run.inflight.size && t < 60_000; t += 1000) await c.pass(1000);
    // hints every second, anti-entropy each interval: a few rounds of the slowest
    await c.pass(150_000);
    const now = c.clock.now();
    const problems: string[] = [];
    for (const key of run.keys) {
      const copies = c.owners(key).map((n) => ({ n, rec: n.kv.local.record(key) }));
      const [first] = copies;
      for (const { n, rec } of copies.slice(1)) {
        if (!sameCopy(first.rec, rec, now)) {
          problems.push(`${key}: copies differ: ${first.n.name} ${show(first.rec)}, ${n.name} ${show(rec)}`);
        }
      }
      const keyWrites = run.writes.filter((w) => w.key === key);
      for (const p of checkKey(first.rec, keyWrites, run.stamps, now)) problems.push(`${key}: ${p}`);
      for (const p of casWinners(keyWrites)) problems.push(`${key}: ${p}`);
      for (const n of c.nodes) {
        const got = await c.drive(n.kv.get(key));
        const want = isLive(first.rec, now) ? dec(first.rec.value) : null;
        const read = got.entry ? dec(got.entry.value) : null;
        if (read !== want) problems.push(`${key}: read on ${n.name} gives ${read}, the copies ${want}`);
      }
    }
    if (TRACE) console.log(run.trace.join("\n"));
    if (TRACE) console.log(summary(run));
    assert.deepEqual(problems, [], `seed ${seed} (KV_FUZZ_FIRST=${seed} KV_FUZZ_SEEDS=1 KV_FUZZ_TRACE=1)`);
  } finally {
    await c.close();
  }
}

function summary(run: FuzzRun): string {
  const by = (s: string) => run.writes.filter((w) => w.status === s).length;
  return `writes ${run.writes.length}: acked ${by("acked")}, refused ${by("refused")}, unknown ${
    by("unknown")
  }; messages cut ${run.c.net.stats.cut}`;
}

function sameCopy(a: KvRecord | null, b: KvRecord | null, now: number): boolean {
  if (!a || !b) return !a && !b;
  return a.modify_index === b.modify_index && a.origin === b.origin && a.deleted === b.deleted &&
    isLive(a, now) === isLive(b, now) && dec(a.value) === dec(b.value);
}

function show(r: KvRecord | null): string {
  if (!r) return "none";
  return `${r.deleted ? "tombstone" : dec(r.value)}@${r.modify_index}${r.expires ? ` exp ${r.expires}` : ""}`;
}

for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
  Deno.test(`fuzzed cluster, seed ${seed}: acked writes survive, copies converge`, () => fuzz(seed));
}
