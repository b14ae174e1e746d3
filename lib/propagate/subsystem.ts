/**
 * Configuration and libexec propagation (reference §10.9). The sender stores every file of its
 * cfg dir (except local.json) or libexec dir in KV (`__configuration/<rel>`, `__libexec/<rel>`),
 * then a manifest (`__propagate/<type>`: path, sha256, size, mode per file), then spreads a small
 * gossip event `{type, hash}`. Receivers fetch the manifest whose hash matches, refuse any path
 * that would escape the target directory, fetch each changed file, verify its sha256, write it
 * atomically, and after a configuration change reload the agent's configuration in place.
 * Files are added and updated, never deleted.
 */
import { join, resolve } from "node:path";
import { writeAtomic } from "../fs/mod.ts";
import type { Ctx, Subsystem } from "../subsystem.ts";
import { closedToOthers } from "../sandbox/mod.ts";
import { HttpError, RouteTable } from "../routing/mod.ts";
import type { Manifest, ManifestFile, PropagateType } from "./files.ts";
import { MAX_FILES, parseManifest, sha256Hex, targetPath, walkFiles } from "./files.ts";

/** The slice of KV propagation needs. */
export interface PropagateKv {
  put(key: string, value: Uint8Array, opts?: { ttlMs?: number }): Promise<{ ok: boolean }>;
  get(key: string): Promise<{ entry: { value: Uint8Array } | null }>;
  /** Non-null while no member is tagged `kv`: each node then keeps what it writes to itself. */
  isolated?(): string | null;
  /** A key from a member's own store (a sealed peer read). */
  getFrom?(
    member: { uuid: string; name: string; addr: string; port: number },
    key: string,
  ): Promise<{ entry: { value: Uint8Array } | null }>;
}

/** The members, to find the sender of a propagation. */
export interface PropagateMembers {
  members(): Array<{ uuid: string; name: string; addr: string; port: number }>;
}

/** Cluster-wide small events (gossip user broadcasts). */
export interface Broadcaster {
  broadcastUser(kind: string, payload: unknown): string;
  onUser(kind: string, fn: (payload: unknown, id: string) => void): () => void;
}

export interface PropagateResult {
  type: PropagateType;
  files: number;
  hash: string;
  /** Configuration files kept on this node, each with why (`exec.key (not readable by every user)`). */
  not_sent: string[];
}

export interface PropagateApi {
  propagate(type: PropagateType): Promise<PropagateResult>;
  /** Applies the manifest whose sha256 is `hash` (what a received event triggers). */
  apply(type: PropagateType, hash: string, from?: string): Promise<{ written: string[]; refused: string[] }>;
}

const EVENT_KIND = "propagate";
const FETCH_RETRIES = 10;

export function createPropagation(
  ctx: Ctx,
  deps: {
    kv: PropagateKv | null;
    broadcast: Broadcaster | null;
    reload: (() => unknown) | null;
    membership?: PropagateMembers;
  },
): Subsystem & PropagateApi {
  const p = ctx.config.params;
  const c = ctx.counters;
  c.describe("propagate_files_total", "counter", "files written by propagation, by type");
  c.describe("propagate_refused_total", "counter", "propagated files refused, by reason");
  const enc = new TextEncoder(), dec = new TextDecoder();
  let off: (() => void) | null = null;
  let chain: Promise<unknown> = Promise.resolve();
  /** Per type: the hash being applied, and the latest announced one waiting for it. */
  const running = new Map<PropagateType, string>();
  const waiting = new Map<PropagateType, string>();
  /** The sender of the waiting announcement of each type (its node's uuid), when it said. */
  const senders = new Map<PropagateType, string>();
  let stopped = false;

  const dirOf = (type: PropagateType) => type === "libexec" ? p.libexec : ctx.config.cfgDir;
  const kvOrFail = () => {
    if (!deps.kv) throw new HttpError(503, "propagation needs the KV store");
    return deps.kv;
  };

  async function propagate(type: PropagateType): Promise<PropagateResult> {
    const kv = kvOrFail();
    const dir = dirOf(type);
    let rels: string[];
    try {
      rels = walkFiles(dir, (rel) => type === "configuration" && rel === "local.json");
    } catch (err) {
      throw new HttpError(400, `cannot read ${type} directory ${dir}: ${(err as Error).message}`);
    }
    const notSent: string[] = [];
    if (type === "configuration") {
      // what the admin kept private here stays here: exec.key (0600 as `kunai keygen --exec` writes
      // it), a 0640 handler with its SMTP password, any file of a closed directory (/etc/kunai is 0770
      // as install.sh makes it): what every node's KV holds, and each receiver, is less guarded
      const priv = p.master_key_priv ? resolve(dir, p.master_key_priv) : "";
      const open: string[] = [];
      for (const rel of rels) {
        const full = join(dir, rel);
        const why = full === priv
          ? "master_key_priv"
          : await closedToOthers(Deno.realPathSync(full), Deno.statSync);
        if (why === null) open.push(rel);
        else notSent.push(`${rel} (${why})`);
      }
      if (notSent.length) {
        ctx.log.warn(`propagate: not sent, private on this node: ${notSent.join(", ")}`);
        rels = open;
      }
    }
    if (rels.length > MAX_FILES) {
      throw new HttpError(413, `${rels.length} files in ${dir}: at most ${MAX_FILES}`);
    }
    const files: ManifestFile[] = [];
    for (const rel of rels) {
      const full = join(dir, rel);
      const data = Deno.readFileSync(full);
      const mode = (Deno.statSync(full).mode ?? 0o644) & 0o777;
      await putOrFail(kv, `__${type}/${rel}`, data);
      files.push({ path: rel, sha256: await sha256Hex(data), size: data.length, mode });
    }
    const manifest: Manifest = { type, from: ctx.node.uuid, time: ctx.clock.now(), files };
    const bytes = enc.encode(JSON.stringify(manifest));
    const hash = await sha256Hex(bytes);
    await putOrFail(kv, `__propagate/${type}`, bytes);
    // `from`: while no member is tagged kv, the files stay in this node's store, read there
    deps.broadcast?.broadcastUser(EVENT_KIND, { type, hash, from: ctx.node.uuid });
    ctx.log.info(
      `propagate: ${files.length} ${type} file(s) from ${dir} sent (manifest ${hash.slice(0, 12)})`,
    );
    return { type, files: files.length, hash, not_sent: notSent };
  }

  async function putOrFail(kv: PropagateKv, key: string, data: Uint8Array): Promise<void> {
    const r = await kv.put(key, data);
    if (!r.ok) throw new HttpError(503, `KV refused to store ${key}`);
  }

  function refused(reason: string, what: string): void {
    c.inc("propagate_refused_total", { reason });
    ctx.log.warn(`propagate: refused ${what}: ${reason}`);
  }

  async function apply(
    type: PropagateType,
    hash: string,
    from?: string,
  ): Promise<{ written: string[]; refused: string[] }> {
    const store = kvOrFail();
    // no `kv` node in the cluster: the sender kept the files in its own store, read there
    const sender = from && from !== ctx.node.uuid && store.isolated?.() && store.getFrom
      ? deps.membership?.members().find((m) => m.uuid === from)
      : undefined;
    const kv = sender ? { get: (key: string) => store.getFrom!(sender, key) } : store;
    // the manifest may still be on its way to the KV owners: retry until it is the announced one
    let manifest: Manifest | null = null;
    for (let i = 0; i < FETCH_RETRIES && !stopped; i++) {
      const got = await kv.get(`__propagate/${type}`);
      if (got.entry && (await sha256Hex(got.entry.value)) === hash) {
        const m = parseManifest(JSON.parse(dec.decode(got.entry.value)));
        if (typeof m === "string") {
          refused("bad-manifest", `${type} manifest (${m})`);
          return { written: [], refused: [] };
        }
        manifest = m;
        break;
      }
      await ctx.clock.sleep(500);
    }
    if (!manifest) {
      refused("manifest-unavailable", `${type} manifest ${hash.slice(0, 12)}`);
      return { written: [], refused: [] };
    }
    const dir = dirOf(type);
    const written: string[] = [], refusedPaths: string[] = [];
    for (const f of manifest.files) {
      let target: string;
      try {
        if (type === "configuration" && f.path === "local.json") throw new Error("local.json is per node");
        target = targetPath(dir, f.path);
      } catch (err) {
        refused("path", (err as Error).message);
        refusedPaths.push(f.path);
        continue;
      }
      const local = readOrNull(target);
      if (local && (await sha256Hex(local)) === f.sha256) continue;
      const got = await kv.get(`__${type}/${f.path}`);
      if (!got.entry || (await sha256Hex(got.entry.value)) !== f.sha256) {
        refused("hash", `${type} file ${f.path}: KV content does not match the manifest's sha256`);
        refusedPaths.push(f.path);
        continue;
      }
      writeAtomic(target, got.entry.value, {
        // configuration as install.sh makes it: the agent's group reads, others do not
        mode: (type === "libexec" ? f.mode : 0o640) & 0o777,
        mkdir: true,
        fsync: true, // an empty plugin after a power loss would run and exit 0
      });
      c.inc("propagate_files_total", { type });
      written.push(f.path);
    }
    if (written.length) {
      ctx.log.info(`propagate: wrote ${written.length} ${type} file(s) into ${dir}: ${written.join(", ")}`);
      if (type === "configuration" && deps.reload) {
        try {
          await deps.reload();
        } catch (err) {
          ctx.log.error(
            `propagate: the new configuration was written but not loaded: ${(err as Error).message}`,
          );
        }
      }
    }
    return { written, refused: refusedPaths };
  }

  function onEvent(payload: unknown): void {
    const e = payload as { type?: unknown; hash?: unknown; from?: unknown } | null;
    if (
      !e || (e.type !== "configuration" && e.type !== "libexec") || typeof e.hash !== "string" ||
      (e.from !== undefined && typeof e.from !== "string")
    ) {
      refused("bad-event", JSON.stringify(payload)?.slice(0, 200) ?? "?");
      return;
    }
    const type = e.type, hash = e.hash, from = e.from;
    // one propagation at a time; per type at most one waits, the latest announced (the manifest in
    // KV is the latest anyway): a flood of announcements, made-up hashes included, queues nothing more
    if (running.get(type) === hash || waiting.get(type) === hash) return;
    const queued = waiting.has(type);
    waiting.set(type, hash);
    if (from) senders.set(type, from);
    else senders.delete(type);
    if (queued) {
      c.inc("propagate_superseded_total", { type });
      return;
    }
    chain = chain.then(async () => {
      const next = waiting.get(type);
      waiting.delete(type);
      if (next === undefined) return;
      running.set(type, next);
      try {
        await apply(type, next, senders.get(type));
      } finally {
        running.delete(type);
      }
    }).catch((err) => ctx.log.error(`propagate: applying ${type} failed: ${(err as Error).message}`));
  }

  return {
    name: "propagate",
    propagate,
    apply,
    start() {
      off = deps.broadcast?.onUser(EVENT_KIND, onEvent) ?? null;
      return Promise.resolve();
    },
    async stop() {
      stopped = true;
      off?.();
      await chain;
    },
    info: () => ({ enabled: deps.kv !== null && deps.broadcast !== null }),
    routes() {
      const r = new RouteTable("propagate");
      r.write(
        "GET",
        "/agent/propagate/:type",
        "push libexec or configuration files to every node",
        async (c2) => {
          const type = c2.req.param("type");
          if (type !== "libexec" && type !== "configuration") {
            throw new HttpError(
              404,
              `nothing to propagate as ${JSON.stringify(type)}: libexec or configuration`,
            );
          }
          return c2.json(await propagate(type));
        },
      );
      return r;
    },
  };
}

function readOrNull(path: string): Uint8Array | null {
  try {
    return Deno.readFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}
