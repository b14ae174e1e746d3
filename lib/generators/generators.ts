/**
 * Generators at work (reference §10.7): on membership, service, tag and KV changes (debounced),
 * each generator that applies to this node renders its template with `node`, `nodes`,
 * `ok_nodes(service)` and `kv(key)`; when the file's content would change it is replaced
 * atomically and the generator's `command` runs (with a timeout). A write whose command has not
 * run to its end yet is noted first in `<data>/generators-pending.json`: when the agent dies in
 * between, the next run finds the file as it should be and runs the command then.
 */
import { dirname, join } from "node:path";
import type { Ctx } from "../subsystem.ts";
import type { MemberRecord } from "../types.ts";
import { loadTemplateEngine, SHIPPED_TEMPLATES, Templates } from "../templates/mod.ts";
import { tuple } from "../templates/pyvalues.ts";
import { type CommandResult, runCommand } from "../process/mod.ts";
import { applyPartial } from "./partial.ts";
import { readIfExists, writeAtomic } from "../fs/mod.ts";
import { LazyInterval } from "../clock/mod.ts";
import { byCodeUnit, byKey } from "../order.ts";

/** Membership as generators need it. */
export interface GeneratorsMembership {
  self(): MemberRecord;
  members(): MemberRecord[];
  /** True while the start's join to the cluster is on its way (see MembershipView.joining). */
  joining?(): boolean;
}

/** Reads a KV value as text (null when absent). */
export type KvGet = (key: string) => Promise<string | null>;

/** A generator object with its name and where its template is looked up. */
export interface GeneratorDef {
  name: string;
  file: string;
  path: string;
  template: string;
  command: string;
  command_timeout: number;
  apply_on: string;
  partial_start?: string;
  partial_end?: string;
  /** Template search path: `templates/` beside the generator file, `<cfg-dir>/templates`, shipped. */
  templateDirs: string[];
}

/** What happened at the last run of one generator (the `/agent/generators` view). */
export interface GeneratorStatus {
  applies: boolean;
  renders: number;
  writes: number;
  command_runs: number;
  last_render: number | null;
  last_write: number | null;
  last_error: string;
  last_command: (CommandResult & { at: number }) | null;
  /** KV keys the template read at its last render. */
  kv_keys: string[];
}

/** Debounce window: a burst of membership/KV events gives one render. */
export const DEBOUNCE_MS = 250;

/**
 * While the start's join is on its way, how often a held run looks again. Until the agent has
 * joined, it knows itself alone and reads KV from itself: a restart rendered `nodes` as this node
 * only and `kv(key)` as "" and ran the command (an haproxy reloaded without its backends), until
 * the join and the next 30 s KV refresh put the file back. The file of the last run stays instead.
 */
export const JOIN_POLL_MS = 1000;
/**
 * KV values read by templates are re-read this often: `kv.changed` only fires on the nodes that
 * hold a replica of the key, so other nodes would otherwise keep a stale value.
 */
export const KV_REFRESH_MS = 30_000;
/** Render passes to learn which KV keys a template reads (each pass fetches the new ones). */
const KV_PASSES = 3;

export function generatorDefs(ctx: Ctx): GeneratorDef[] {
  const out: GeneratorDef[] = [];
  for (const [id, o] of Object.entries(ctx.config.objects.generator ?? {})) {
    const v = o.value as Record<string, unknown>;
    out.push({
      name: id,
      file: o.file,
      path: String(v.path),
      template: String(v.template),
      command: String(v.command ?? ""),
      command_timeout: Number(v.command_timeout ?? 30_000),
      // no apply_on: the generator's name, as the original's import_generator set it (reference
      // §2.2): such a generator runs only on nodes carrying that tag, never on every node
      apply_on: typeof v.apply_on === "string" && v.apply_on ? v.apply_on : id,
      partial_start: typeof v.partial_start === "string" ? v.partial_start : undefined,
      partial_end: typeof v.partial_end === "string" ? v.partial_end : undefined,
      templateDirs: [
        join(dirname(o.file), "templates"),
        join(ctx.config.cfgDir, "templates"),
        SHIPPED_TEMPLATES,
      ],
    });
  }
  return out.sort(byKey((g) => g.name));
}

/**
 * `ok_nodes(service)`: `[node, service]` pairs of alive nodes whose service has state_id 0 (nodes in
 * maintenance are left out: a backend list drains them).
 */
export function okNodes(
  members: MemberRecord[],
  service: string,
): Array<[MemberRecord, Record<string, unknown>]> {
  const out: Array<[MemberRecord, Record<string, unknown>]> = [];
  for (const m of members) {
    if (m.state !== "alive" || m.maintenance) continue;
    const s = m.services?.[service] as Record<string, unknown> | undefined;
    if (s && s.state_id === 0) out.push([m, s]);
  }
  return out.sort((a, b) => byCodeUnit(a[0].name, b[0].name) || byCodeUnit(a[0].uuid, b[0].uuid));
}

/**
 * What a generator's template sees: `node` (this node's record), `nodes` (uuid → record),
 * `ok_nodes(service)` (also `ok_nodes(service=NAME)`, as the reference calls it: `(node, service)`
 * tuples) and `kv(key)` (the value as text).
 */
export function generatorContext(
  self: MemberRecord,
  members: MemberRecord[],
  kv: (key: string) => string,
): Record<string, unknown> {
  const nodes: Record<string, MemberRecord> = {};
  for (const m of members) nodes[m.uuid] = m;
  const ok_nodes = (service: unknown) => {
    const name = service && typeof service === "object"
      ? String((service as Record<string, unknown>).service ?? "")
      : String(service ?? "");
    return okNodes(members, name).map((pair) => tuple(pair));
  };
  return { node: self, nodes, ok_nodes, kv: (key: unknown) => kv(String(key)) };
}

function freshStatus(): GeneratorStatus {
  return {
    applies: false,
    renders: 0,
    writes: 0,
    command_runs: 0,
    last_render: null,
    last_write: null,
    last_error: "",
    last_command: null,
    kv_keys: [],
  };
}

export class Generators {
  #ctx: Ctx;
  #membership: GeneratorsMembership;
  #kvGet?: KvGet;
  #defs: GeneratorDef[];
  #status = new Map<string, GeneratorStatus>();
  /** KV values read by templates, refreshed when `kv.changed` names the key. */
  #kvCache = new Map<string, string | null>();
  /** Keys being read, with the `kv.changed` seen for each meanwhile (the value read may predate it). */
  #kvReads = new Map<string, { readers: number; changes: number }>();
  #timer: number | null = null;
  /** The KV refresh: every KV_REFRESH_MS while a value is cached; no timer while none is. */
  #kvTicks: LazyInterval | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  /** Why a cached KV key could not be re-read (said once per reason). */
  #refreshErrors = new Map<string, string>();
  /** A run is held until the start's join returns (said once in the log). */
  #heldForJoin = false;
  /** Events schedule runs only between start() and stop(); runNow() works any time before stop(). */
  #started = false;
  #stopped = false;
  /** Generators whose file was written and whose command has not ended yet → that file. */
  #pending: Record<string, { path: string; since: number }> | null = null;
  readonly #pendingFile: string;

  constructor(ctx: Ctx, membership: GeneratorsMembership, kvGet?: KvGet) {
    this.#ctx = ctx;
    this.#membership = membership;
    this.#kvGet = kvGet;
    this.#defs = generatorDefs(ctx);
    this.#pendingFile = join(ctx.config.params.data, "generators-pending.json");
  }

  /** The commands a previous run left pending (read once); a damaged file counts as none. */
  #loadPending(): Record<string, { path: string; since: number }> {
    if (this.#pending) return this.#pending;
    this.#pending = {};
    try {
      const text = readIfExists(this.#pendingFile);
      const doc = text === null ? {} : JSON.parse(text);
      for (const [name, v] of Object.entries(doc ?? {})) {
        const e = v as { path?: unknown; since?: unknown };
        if (typeof e?.path === "string" && typeof e.since === "number") {
          this.#pending[name] = { path: e.path, since: e.since };
        }
      }
    } catch (err) {
      this.#ctx.log.warn(`generators: ${this.#pendingFile} not read (${(err as Error).message}): ignored`);
    }
    return this.#pending;
  }

  /**
   * Notes that `name` owes its command for `path` (null: owes nothing). Noting a debt throws when the
   * note cannot be saved: the file is then not written (a restart before its command would lose the
   * reload); a cleared debt that cannot be saved is only said (the command runs again, once).
   */
  #setPending(name: string, path: string | null): void {
    const pending = this.#loadPending();
    if (path === null) {
      if (!(name in pending)) return;
      delete pending[name];
    } else pending[name] = { path, since: this.#ctx.clock.now() };
    try {
      writeAtomic(this.#pendingFile, JSON.stringify(pending), { fsync: true, mode: 0o600 });
    } catch (err) {
      const why = `cannot save ${this.#pendingFile}: ${(err as Error).message}`;
      if (path !== null) {
        delete pending[name];
        throw new Error(`${why} (the file is written once its command can be noted as owed)`);
      }
      this.#ctx.log.warn(`generators: ${why}`);
    }
  }

  /** Forgets the commands owed by generators no longer in the configuration (logged). */
  /**
   * Forgets cached KV values no template read in its last render (a template over the members reads
   * the keys of nodes that have left): the cache and its 30 s refresh follow what is read now.
   */
  #dropUnread(): void {
    const read = new Set<string>();
    for (const d of this.#defs) for (const k of this.#status.get(d.name)?.kv_keys ?? []) read.add(k);
    for (const k of this.#kvCache.keys()) if (!read.has(k)) this.#kvCache.delete(k);
  }

  #dropRemoved(): void {
    const pending = this.#loadPending();
    const names = new Set(this.#defs.map((d) => d.name));
    for (const name of Object.keys(pending)) {
      if (names.has(name)) continue;
      this.#ctx.log.warn(
        `generator ${name}: no longer configured; the command owed for ${pending[name].path} is dropped`,
      );
      this.#setPending(name, null);
    }
  }

  get kvEnabled(): boolean {
    return this.#kvGet !== undefined;
  }

  reload(): void {
    this.#defs = generatorDefs(this.#ctx);
    // no generator left: no run comes to forget what the removed ones were owed and read (their KV
    // keys were re-read every 30 s for good)
    if (this.#started && !this.#running && this.#defs.length === 0) {
      this.#dropRemoved();
      this.#dropUnread();
    }
    this.schedule();
  }

  /** Bus `kv.changed`: forget the cached value; re-render only if a template read that key. */
  onKvChanged(key: string): void {
    const reading = this.#kvReads.get(key);
    if (reading) reading.changes++;
    if (!this.#kvCache.has(key) && !reading) return;
    this.#kvCache.delete(key);
    this.schedule();
  }

  /**
   * Reads `key` from KV; `fresh` is false when `kv.changed` named it during the read (the value may
   * be the one before the change: not to be cached, a new run is scheduled).
   */
  async #kvRead(key: string): Promise<{ value: string | null; fresh: boolean }> {
    let r = this.#kvReads.get(key);
    if (!r) this.#kvReads.set(key, r = { readers: 0, changes: 0 });
    r.readers++;
    const before = r.changes;
    try {
      const value = await this.#kvGet!(key);
      return { value, fresh: r.changes === before };
    } finally {
      if (--r.readers === 0) this.#kvReads.delete(key);
    }
  }

  start(): void {
    this.#started = true;
    if (this.#defs.length === 0) this.#dropRemoved(); // no run will come to do it
    this.schedule(0);
    if (this.#kvGet) {
      this.#kvTicks = new LazyInterval(this.#ctx.clock, KV_REFRESH_MS, () => {
        void this.refreshKv();
        return this.#kvCache.size > 0;
      });
      this.#kvTicks.start(this.#kvCache.size > 0);
    }
  }

  /** Re-reads every cached KV value; schedules a render when one changed. */
  async refreshKv(): Promise<void> {
    if (!this.#kvGet || this.#stopped) return;
    let changed = false;
    for (const key of [...this.#kvCache.keys()]) {
      let value: string | null;
      try {
        const r = await this.#kvRead(key);
        if (!r.fresh) continue; // changed meanwhile: dropped from the cache, a run is scheduled
        value = r.value;
      } catch (err) {
        // said once per reason, not at every refresh of an outage (the cached value stays)
        const why = (err as Error).message;
        if (this.#refreshErrors.get(key) !== why) {
          this.#ctx.log.warn(`generators: cannot re-read KV key ${key} (its last value stays): ${why}`);
        }
        this.#refreshErrors.set(key, why);
        continue;
      }
      if (this.#refreshErrors.delete(key)) this.#ctx.log.info(`generators: KV key ${key} read again`);
      if (this.#kvCache.get(key) !== value) {
        this.#kvCache.set(key, value);
        changed = true;
      }
    }
    if (changed) this.schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) this.#ctx.clock.clearTimeout(this.#timer);
    this.#kvTicks?.stop();
    this.#timer = null;
    await this.#running;
  }

  /** Asks for a run after the debounce window (several calls within it give one run). */
  schedule(delay = DEBOUNCE_MS): void {
    // nothing to render, no timer (each one wakes the agent, in every membership change of a storm)
    if (!this.#started || this.#stopped || this.#defs.length === 0) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer !== null) return;
    this.#timer = this.#ctx.clock.setTimeout(() => {
      this.#timer = null;
      if (this.#membership.joining?.()) {
        if (!this.#heldForJoin) {
          this.#ctx.log.info(
            "generators: the first render waits for the join to the cluster (the members and KV values " +
              "are not known yet); the files stay as they are",
          );
        }
        this.#heldForJoin = true;
        this.schedule(JOIN_POLL_MS);
        return;
      }
      if (this.#heldForJoin) this.#ctx.log.info("generators: joined the cluster: rendering");
      this.#heldForJoin = false;
      void this.runNow();
    }, delay);
  }

  /** True while runs are held until the start's join returns. */
  get heldForJoin(): boolean {
    return this.#heldForJoin;
  }

  /** Runs every generator now (waits for a run in progress first); resolves when done. */
  async runNow(): Promise<void> {
    while (this.#running) await this.#running;
    this.#running = (async () => {
      do {
        this.#again = false;
        for (const def of this.#defs) {
          if (this.#stopped) return;
          // replaced or removed by a reload during this run: the next pass renders what is configured
          if (!this.#defs.includes(def)) continue;
          await this.#generate(def);
        }
      } while (this.#again && !this.#stopped);
      this.#dropRemoved();
      this.#dropUnread();
    })().finally(() => this.#running = null);
    await this.#running;
  }

  status(): Array<GeneratorDef & GeneratorStatus & { waiting_for_join: boolean }> {
    const tags = this.#membership.self().tags;
    return this.#defs.map((d) => {
      const st = this.#status.get(d.name) ?? freshStatus();
      // before its first run (held for the join) whether it applies is known from our tags already
      const applies = st.renders || st.last_error
        ? st.applies
        : d.apply_on === "*" || tags.includes(d.apply_on);
      return { ...d, ...st, applies, waiting_for_join: this.#heldForJoin };
    });
  }

  async #generate(def: GeneratorDef): Promise<void> {
    const st = this.#status.get(def.name) ?? freshStatus();
    this.#status.set(def.name, st);
    const self = this.#membership.self();
    st.applies = def.apply_on === "*" || self.tags.includes(def.apply_on);
    if (!st.applies) return;
    const log = this.#ctx.log;
    let next: string;
    try {
      const rendered = await this.#render(def, self, st);
      const current = readIfExists(def.path);
      next = def.partial_start && def.partial_end
        ? applyPartial(current, rendered, def.partial_start, def.partial_end)
        : rendered;
      st.renders++;
      st.last_render = this.#ctx.clock.now();
      if (current === next) {
        st.last_error = "";
        const left = this.#loadPending()[def.name];
        if (def.command && left?.path === def.path) {
          // written by an earlier run that stopped before its command ended
          log.warn(
            `generator ${def.name}: ${def.path} was written at ${
              new Date(left.since).toISOString()
            } and its command did not end then: running it now`,
          );
          await this.#runCommand(def, st);
        } else if (left) this.#setPending(def.name, null);
        return;
      }
      if (def.command) this.#setPending(def.name, def.path);
      writeAtomic(def.path, next, { mode: 0o644, keepOwner: true, fsync: true });
    } catch (err) {
      const msg = (err as Error).message;
      if (msg !== st.last_error) log.error(`generator ${def.name}: ${def.path} left as it was: ${msg}`);
      st.last_error = msg;
      this.#ctx.counters.inc("generator_errors_total", { generator: def.name });
      return;
    }
    st.last_error = "";
    st.writes++;
    st.last_write = this.#ctx.clock.now();
    log.info(`generator ${def.name}: wrote ${def.path} (${next.length} bytes)`);
    if (def.command) await this.#runCommand(def, st);
  }

  async #render(def: GeneratorDef, self: MemberRecord, st: GeneratorStatus): Promise<string> {
    await loadTemplateEngine();
    const templates = new Templates({ dirs: def.templateDirs, trimBlocks: true, keepTrailingNewline: true });
    const members = this.#membership.members();
    for (let pass = 0;; pass++) {
      const wanted = new Set<string>();
      const kv = (k: string) => {
        wanted.add(k);
        return this.#kvCache.get(k) ?? "";
      };
      const text = templates.render(def.template, generatorContext(self, members, kv));
      st.kv_keys = [...wanted].sort();
      const missing = [...wanted].filter((k) => !this.#kvCache.has(k));
      if (!missing.length || pass + 1 >= KV_PASSES) return text;
      if (!this.#kvGet) {
        throw new Error(`template reads KV keys (${missing.join(", ")}) but KV is not available`);
      }
      for (const k of missing) {
        const r = await this.#kvRead(k);
        // changed while it was read: left out, the next pass (or the scheduled run) reads it again
        if (r.fresh) this.#kvCache.set(k, r.value);
      }
      this.#kvTicks?.poke(); // values to refresh from now on
    }
  }

  async #runCommand(def: GeneratorDef, st: GeneratorStatus): Promise<void> {
    const log = this.#ctx.log;
    let res: CommandResult;
    try {
      res = await runCommand(def.command, def.command_timeout);
    } catch (err) {
      res = { code: null, signal: null, output: `cannot start: ${(err as Error).message}`, timedOut: false };
    }
    st.command_runs++;
    st.last_command = { ...res, at: this.#ctx.clock.now() };
    this.#setPending(def.name, null);
    const out = res.output.trim();
    if (res.timedOut) {
      log.error(
        `generator ${def.name}: command killed after ${def.command_timeout} ms: ${def.command}: ${out}`,
      );
    } else if (res.code !== 0) {
      log.error(`generator ${def.name}: command exited ${res.code ?? res.signal}: ${def.command}: ${out}`);
    } else {
      log.info(`generator ${def.name}: command ok: ${def.command}${out ? `: ${out}` : ""}`);
    }
  }
}
