/**
 * Node identity (reference §0.3) and the local node's mutable facts (tags, services, incarnation)
 * that gossip advertises. Tag and service changes go on the bus so gossip bumps the incarnation.
 */
import { join, resolve } from "node:path";
import type { EventBus } from "../bus.ts";
import { readIfExists, writeAtomic } from "../fs/mod.ts";
import type { Database } from "../store/mod.ts";
import { INCARNATION_MAX, type Maintenance } from "../types.ts";

export const DMI_UUID_PATH = "/sys/class/dmi/id/product_uuid";
const DEFAULT_DATA = "/var/lib/kunai";

/** SHA-1 hex of a string (uuids double as ring positions: 40 hex chars). */
export async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The DMI uuid, or null: unreadable is its normal state for a non-root agent. */
function readDmi(path: string): string | null {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return null;
  }
}

/**
 * One of our identity files, or null when it does not exist. A file we cannot read is not taken for
 * none: a new uuid would be written over it, and the node would come back as a new member (a new
 * ring position, a new RAFT voter, a ghost of the old one).
 */
function readOwn(path: string): string | null {
  try {
    return readIfExists(path)?.trim() ?? null;
  } catch (err) {
    throw new Error(
      `cannot read ${path}: ${(err as Error).message}; fix it (its owner, its mode) before starting: ` +
        "starting without it would give this node a new identity",
    );
  }
}

export interface UuidOptions {
  dataDir: string;
  name: string;
  /** Where to read the DMI product uuid (tests point it at a fixture). */
  dmiPath?: string;
}

/**
 * The node uuid: from DMI product_uuid when readable (mixed with the data dir when it is not the
 * default one, so several agents on one host stay distinct), else the persisted `server.key`
 * when the hostname did not change, else a fresh random one. Saved to `server.key`.
 */
export async function resolveUuid(
  opts: UuidOptions,
): Promise<{ uuid: string; source: "dmi" | "persisted" | "new"; damaged?: string }> {
  const keyFile = join(opts.dataDir, "server.key");
  const hostFile = join(opts.dataDir, "last_hostname");
  const dmi = readDmi(opts.dmiPath ?? DMI_UUID_PATH);
  let uuid: string;
  let source: "dmi" | "persisted" | "new";
  let damaged: string | undefined;
  if (dmi && /^[0-9a-fA-F-]{16,}$/.test(dmi) && !/^[0-]+$/.test(dmi.replace(/-/g, "0"))) {
    const data = resolve(opts.dataDir);
    uuid = await sha1Hex(data === DEFAULT_DATA ? dmi.toLowerCase() : `${dmi.toLowerCase()}:${data}`);
    source = "dmi";
  } else {
    const saved = readOwn(keyFile);
    const lastHost = readOwn(hostFile);
    if (saved && /^[0-9a-f]{40}$/.test(saved) && lastHost === opts.name) {
      uuid = saved;
      source = "persisted";
    } else {
      if (saved !== null && !/^[0-9a-f]{40}$/.test(saved)) {
        damaged = `${keyFile} holds no uuid (${saved ? JSON.stringify(saved.slice(0, 60)) : "empty"})`;
      }
      uuid = await sha1Hex(crypto.randomUUID());
      source = "new";
    }
  }
  Deno.mkdirSync(opts.dataDir, { recursive: true, mode: 0o750 });
  // written when they change only, and synced: a power loss must not leave them empty (a new uuid
  // is a new ring position, a new RAFT voter and a ghost member)
  if (readOwn(keyFile) !== uuid) writeAtomic(keyFile, uuid, { fsync: true });
  if (readOwn(hostFile) !== opts.name) writeAtomic(hostFile, opts.name, { fsync: true });
  return damaged ? { uuid, source, damaged } : { uuid, source };
}

/** Migrations of agent.db owned by the identity (meta key/values). */
export const IDENTITY_MIGRATION =
  "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)";

/**
 * Reads the saved incarnation, adds one, saves it. 0 on first start. Never above INCARNATION_MAX:
 * one saved above it (by an agent before the bound) would make every start announce a record no
 * peer decodes.
 */
export function bumpStartIncarnation(db: Database): number {
  return db.transaction(() => {
    const row = db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'incarnation'");
    const next = row ? Math.min(Number(row.value) + 1, INCARNATION_MAX) : 0;
    db.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('incarnation', ?)", String(next));
    return next;
  });
}

/**
 * The advertised address: config `addr`, else `bind` when specific, else the first non-loopback IPv4;
 * bound to `::` on a host without one (IPv6 only), its first global IPv6 (link-local ones need a zone
 * peers do not share), else `::1`. `interfaces` is the host's list (`Deno.networkInterfaces()`).
 */
export function detectAddr(bind: string, interfaces?: () => Deno.NetworkInterfaceInfo[]): string {
  if (bind && bind !== "0.0.0.0" && bind !== "::") return bind;
  let ifs: Deno.NetworkInterfaceInfo[] = [];
  try {
    ifs = (interfaces ?? Deno.networkInterfaces)();
  } catch { /* no sys permission (worker): fall through */ }
  const v4 = ifs.find((i) =>
    i.family === "IPv4" && !i.address.startsWith("127.") && !i.address.startsWith("169.254.")
  );
  if (v4) return v4.address;
  // a socket on 0.0.0.0 takes IPv4 only: an IPv6 address would be one nobody reaches it on
  if (bind !== "::") return "127.0.0.1";
  const v6 = ifs.find((i) => i.family === "IPv6" && i.address !== "::1" && !/^fe[89ab]/i.test(i.address));
  return v6 ? v6.address : "::1";
}

export interface LocalNodeInit {
  uuid: string;
  name: string;
  addr: string;
  port: number;
  zone: string;
  incarnation: number;
  configTags: string[];
  bus: EventBus;
  /** Persists the incarnation when it changes (gossip bumps it). */
  saveIncarnation?: (n: number) => void;
  /** A save of the incarnation failed (a full disk): gossip goes on, the next bump saves again. */
  onSaveError?: (err: Error) => void;
  /** Maintenance saved by a previous run (kept across restarts). */
  maintenance?: Maintenance | null;
  /** Persists the maintenance when it changes. */
  saveMaintenance?: (m: Maintenance | null) => void;
}

/**
 * This node's own facts. Tags = config tags + tags added by detectors (per source); services are
 * published by the checks subsystem; maintenance is set by the API. Changes emit `tags.changed` /
 * `services.changed` / `maintenance.changed`.
 */
export class LocalNode {
  readonly uuid: string;
  readonly name: string;
  readonly addr: string;
  readonly port: number;
  zone: string;
  #incarnation: number;
  #configTags: string[];
  #dynamic = new Map<string, Set<string>>();
  #services: Record<string, unknown> = {};
  #bus: EventBus;
  #save?: (n: number) => void;
  #onSaveError?: (err: Error) => void;
  #maintenance: Maintenance | null;
  #saveMaintenance?: (m: Maintenance | null) => void;

  constructor(init: LocalNodeInit) {
    this.uuid = init.uuid;
    this.name = init.name;
    this.addr = init.addr;
    this.port = init.port;
    this.zone = init.zone;
    this.#incarnation = init.incarnation;
    this.#configTags = [...new Set(init.configTags)];
    this.#bus = init.bus;
    this.#save = init.saveIncarnation;
    this.#onSaveError = init.onSaveError;
    this.#maintenance = init.maintenance ?? null;
    this.#saveMaintenance = init.saveMaintenance;
  }

  /** This node's maintenance, or null. */
  maintenance(): Maintenance | null {
    return this.#maintenance;
  }

  /**
   * Enters (or updates) maintenance, or leaves it (null): saved first (a failed save throws and changes
   * nothing), then gossip spreads it. With `unsaved`, a failed save is handed to it and the change
   * applies anyway (the end of a maintenance at its `until`: a later run never loads one past its end).
   */
  setMaintenance(m: Maintenance | null, unsaved?: (err: Error) => void): void {
    if (JSON.stringify(m) === JSON.stringify(this.#maintenance)) return;
    try {
      this.#saveMaintenance?.(m);
    } catch (err) {
      if (!unsaved) throw err;
      unsaved(err as Error);
    }
    this.#maintenance = m;
    this.#bus.emit("maintenance.changed", { maintenance: m });
  }

  get incarnation(): number {
    return this.#incarnation;
  }

  /**
   * Raises the incarnation (at least to `atLeast`), persists it and returns it. It stops at
   * INCARNATION_MAX: above, peers would refuse every packet carrying our record.
   */
  bumpIncarnation(atLeast = 0): number {
    this.#incarnation = Math.min(Math.max(this.#incarnation + 1, atLeast), INCARNATION_MAX);
    try {
      this.#save?.(this.#incarnation);
    } catch (err) {
      // gossip must still refute a suspicion and announce our changes when agent.db cannot be written
      if (!this.#onSaveError) throw err;
      this.#onSaveError(err as Error);
    }
    return this.#incarnation;
  }

  /** Config tags first, then added tags in insertion order, without duplicates. */
  tags(): string[] {
    const out = new Set(this.#configTags);
    for (const s of this.#dynamic.values()) for (const t of s) out.add(t);
    return [...out];
  }

  hasTag(tag: string): boolean {
    return this.tags().includes(tag);
  }

  /** Replaces the tags contributed by one source (e.g. `detector:centos`). */
  setSourceTags(source: string, tags: string[]): void {
    const before = this.tags();
    if (tags.length) this.#dynamic.set(source, new Set(tags));
    else this.#dynamic.delete(source);
    this.#emitIfChanged(before);
  }

  /**
   * Hands the tags of source `from` to source `to` (a detector renamed by a reload): the node's tags
   * stay the same, so nothing is emitted.
   */
  moveSourceTags(from: string, to: string): void {
    const tags = this.#dynamic.get(from);
    if (!tags) return;
    this.#dynamic.delete(from);
    this.#dynamic.set(to, tags);
  }

  /** Replaces the config tags (on reload). */
  setConfigTags(tags: string[]): void {
    const before = this.tags();
    this.#configTags = [...new Set(tags)];
    this.#emitIfChanged(before);
  }

  #emitIfChanged(before: string[]): void {
    const after = this.tags();
    const added = after.filter((t) => !before.includes(t));
    const removed = before.filter((t) => !after.includes(t));
    if (added.length || removed.length) this.#bus.emit("tags.changed", { tags: after, added, removed });
  }

  /** Moves this node to another zone (`kunai zone change`, a reload): gossip spreads it. */
  setZone(zone: string): void {
    if (zone === this.zone) return;
    const previous = this.zone;
    this.zone = zone;
    this.#bus.emit("zone.changed", { zone, previous });
  }

  services(): Record<string, unknown> {
    return this.#services;
  }

  /** Publishes our services (with their check states) for gossip. */
  setServices(services: Record<string, unknown>): void {
    const before = JSON.stringify(this.#services);
    this.#services = services;
    if (JSON.stringify(services) !== before) {
      this.#bus.emit("services.changed", { names: Object.keys(services) });
    }
  }
}

export {
  loadMaintenance,
  MaintenanceEnd,
  MAX_REASON,
  parseMaintenanceRequest,
  saveMaintenance,
} from "./maintenance.ts";
