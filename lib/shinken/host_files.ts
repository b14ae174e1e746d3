/**
 * The host files of the Shinken/Nagios export (reference §10.1): keeps `<cfg_path>/<uuid>.cfg` in
 * step with the membership (written atomically, only on change; stale files of ours removed) and
 * runs `reload_command` once per batch of changes. Before the first file of a batch changes, the
 * reload is noted as owed in `<data>/shinken-reload-owed` until it has run: a batch cut short by
 * an error, or an agent that died before its reload, still reloads at the next sync (the files are
 * then already as they should be, so nothing else would say so).
 */
import { join } from "node:path";
import type { Ctx } from "../subsystem.ts";
import type { MemberRecord } from "../types.ts";
import { pathExists, readIfExists, writeAtomic } from "../fs/mod.ts";
import { runCommand } from "../process/mod.ts";
import {
  exportedChecks,
  GENERATED_MARK,
  hostConfig,
  memberChecks,
  type RenderOptions,
  safeHostName,
} from "./cfg_render.ts";
import type { CheckBrief, LocalChecks, ShinkenConfig } from "./types.ts";

const UUID_CFG = /^[A-Za-z0-9_.-]+\.cfg$/;

/** Every host file for the current membership (nodes that left are not exported). */
export function renderAll(
  members: MemberRecord[],
  selfUuid: string,
  localChecks: LocalChecks | undefined,
  opts: RenderOptions,
): Map<string, string> {
  return new HostRenderer(opts).render(members, selfUuid, localChecks);
}

/**
 * renderAll that renders a member again only when its record changed: the membership replaces a
 * record on every change and never edits one, so a record already rendered has the same file (our
 * own node excepted: its local checks change apart from its record). At a thousand nodes a batch
 * rendered every file (~25 ms) for the one that changed.
 */
export class HostRenderer {
  #opts: RenderOptions;
  #done = new WeakMap<MemberRecord, string>();

  constructor(opts: RenderOptions) {
    this.#opts = opts;
  }

  /**
   * `remote`: another node's own checks as it answered them last (remote_checks.ts); a change of
   * them goes through `forget` (the text of a record is kept until then). `keepLeft`: a node that
   * left whose file stays for now (it left moments ago: a restart).
   */
  render(
    members: MemberRecord[],
    selfUuid: string,
    localChecks: LocalChecks | undefined,
    remote?: (uuid: string) => CheckBrief[] | undefined,
    keepLeft?: (uuid: string) => boolean,
  ): Map<string, string> {
    const out = new Map<string, string>();
    for (const m of members) {
      if (m.state === "leave" && !keepLeft?.(m.uuid) || !safeHostName(m.uuid)) continue;
      const self = m.uuid === selfUuid && localChecks;
      let text = self ? undefined : this.#done.get(m);
      if (text === undefined) {
        const checks = self ? [...localChecks(), ...memberChecks(m)] : [
          ...(remote?.(m.uuid) ?? []),
          ...memberChecks(m),
        ];
        text = hostConfig(m, exportedChecks(checks), this.#opts);
        if (!self) this.#done.set(m, text);
      }
      out.set(`${m.uuid}.cfg`, text);
    }
    return out;
  }

  /** The host text of this record is to be made again (its node's own checks changed). */
  forget(m: MemberRecord): void {
    this.#done.delete(m);
  }
}

/**
 * A sync between these compares the files with what it wrote itself, not with the disk: a file
 * edited or removed by hand is put back within this long (and at every start).
 */
export const DISK_CHECK_MS = 10 * 60_000;

/**
 * While the start's join is on its way, how often a held sync looks again. Until the agent has
 * joined it knows itself alone: a restart removed every other node's file ("node gone") and
 * reloaded Nagios, which dropped those hosts' states, then wrote them back at the join.
 */
export const JOIN_POLL_MS = 1000;

/** Writes the host files after each batch of membership changes and reloads the monitoring tool. */
export class HostFiles {
  #ctx: Ctx;
  #cfg: ShinkenConfig;
  /** The files an export would write now (renderAll over the current membership). */
  #render: () => Map<string, string>;
  #timer: number | null = null;
  #busy: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  stats = { syncs: 0, writes: 0, removes: 0, reloads: 0, reload_failures: 0 };
  readonly #owedFile: string;
  /** The files of ours as last written or read (null: look at the disk), and when the disk was read. */
  #known: Map<string, string> | null = null;
  #checkedAt = 0;

  /** True while syncs are to wait (the start's join is on its way). */
  #held: () => boolean;
  #heldSaid = false;
  /** The files of nodes whose own checks are not known yet (see the constructor). */
  #unknown: () => Set<string>;

  /**
   * `held`: syncs wait while it is true. `unknown`: the file names of nodes whose own checks this
   * agent has not heard yet (asked at the first poll after its start): a file of theirs already
   * there is left as it is until they are known, so a restart does not take their checks out of
   * Nagios until they answer (a node that never answers keeps the file it had); one not there yet is
   * written with what is known (their services).
   */
  constructor(
    ctx: Ctx,
    cfg: ShinkenConfig,
    render: () => Map<string, string>,
    opts: { held?: () => boolean; unknown?: () => Set<string> } = {},
  ) {
    this.#ctx = ctx;
    this.#cfg = cfg;
    this.#render = render;
    this.#held = opts.held ?? (() => false);
    this.#unknown = opts.unknown ?? (() => new Set());
    this.#owedFile = join(ctx.config.params.data, "shinken-reload-owed");
  }

  /** Notes that a reload is owed (once per batch: the first change of a file). */
  #owe(): void {
    if (pathExists(this.#owedFile)) return;
    try {
      writeAtomic(this.#owedFile, `${new Date(this.#ctx.clock.now()).toISOString()}\n`, { fsync: true });
    } catch (err) {
      this.#ctx.log.warn(`shinken: cannot save ${this.#owedFile}: ${(err as Error).message}`);
    }
  }

  /** The files an export would write now (for `kunai shinken export`). */
  files(): Map<string, string> {
    return this.#render();
  }

  /** Membership changed: sync files after the batching delay (one reload per batch). */
  schedule(): void {
    if (this.#stopped) return;
    if (this.#busy) {
      this.#again = true;
      return;
    }
    if (this.#timer !== null) return;
    this.#timer = this.#ctx.clock.setTimeout(() => {
      this.#timer = null;
      void this.syncNow();
    }, this.#cfg.reload_delay);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) this.#ctx.clock.clearTimeout(this.#timer);
    this.#timer = null;
    await this.#busy;
  }

  /** True while syncs wait for the start's join. */
  get heldForJoin(): boolean {
    return this.#heldSaid;
  }

  /** Writes changed files, removes stale ones, reloads once if anything changed. */
  async syncNow(): Promise<void> {
    if (this.#held()) {
      if (!this.#heldSaid) {
        this.#ctx.log.info(
          "shinken: the first export waits for the join to the cluster (the other nodes are not known " +
            "yet); the files stay as they are",
        );
      }
      this.#heldSaid = true;
      if (!this.#stopped && this.#timer === null) {
        this.#timer = this.#ctx.clock.setTimeout(() => {
          this.#timer = null;
          void this.syncNow();
        }, JOIN_POLL_MS);
      }
      return;
    }
    if (this.#heldSaid) this.#ctx.log.info("shinken: joined the cluster: exporting");
    this.#heldSaid = false;
    while (this.#busy) await this.#busy;
    this.#busy = (async () => {
      do {
        this.#again = false;
        let changed = false;
        try {
          changed = this.#syncFiles();
        } catch (err) {
          this.#ctx.log.error(`shinken: cannot update ${this.#cfg.cfg_path}: ${(err as Error).message}`);
        }
        if (changed) await this.#reload();
        else if (pathExists(this.#owedFile)) {
          this.#ctx.log.warn(
            "shinken: files changed by an earlier sync were not reloaded yet: reloading now",
          );
          await this.#reload();
        }
      } while (this.#again && !this.#stopped);
    })().finally(() => this.#busy = null);
    await this.#busy;
  }

  /**
   * Writes the files whose text changed and removes ours of nodes gone: compared with what this
   * exporter wrote itself, and with the disk (every file read, the directory listed) at the first
   * sync and every DISK_CHECK_MS.
   */
  #syncFiles(): boolean {
    const dir = this.#cfg.cfg_path;
    const now = this.#ctx.clock.elapsed();
    const disk = this.#known === null || now - this.#checkedAt >= DISK_CHECK_MS;
    if (disk) {
      this.#known = new Map();
      this.#checkedAt = now;
    }
    const known = this.#known!;
    Deno.mkdirSync(dir, { recursive: true });
    const want = this.#render();
    const unknown = this.#unknown();
    let changed = false;
    for (const [name, text] of want) {
      if (known.get(name) === text) continue;
      const path = join(dir, name);
      const current = readIfExists(path);
      if (current !== null && unknown.has(name)) continue; // kept until its node's checks are known
      if (current !== text) {
        this.#owe();
        writeAtomic(path, text, { mode: 0o644, keepOwner: true, fsync: true });
        this.stats.writes++;
        changed = true;
      }
      known.set(name, text);
    }
    const gone = disk
      ? [...Deno.readDirSync(dir)].filter((e) => e.isFile && UUID_CFG.test(e.name)).map((e) => e.name)
      : [...known.keys()];
    for (const name of gone) {
      if (want.has(name)) continue;
      known.delete(name);
      const path = join(dir, name);
      const head = (readIfExists(path) ?? "").split("\n", 1)[0];
      if (head !== GENERATED_MARK) continue; // not ours (or gone already): never touched
      this.#owe();
      Deno.removeSync(path);
      this.stats.removes++;
      changed = true;
      this.#ctx.log.info(`shinken: removed ${path} (node gone)`);
    }
    this.stats.syncs++;
    return changed;
  }

  async #reload(): Promise<void> {
    const cmd = this.#cfg.reload_command;
    const res = cmd
      ? await runCommand(cmd, 60_000).catch((err) => ({
        code: null,
        signal: null,
        output: `cannot start: ${(err as Error).message}`,
        timedOut: false,
      }))
      : null;
    try {
      Deno.removeSync(this.#owedFile);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        this.#ctx.log.warn(`shinken: cannot remove ${this.#owedFile}: ${(err as Error).message}`);
      }
    }
    if (!res) return;
    this.stats.reloads++;
    if (res.code === 0) this.#ctx.log.info(`shinken: reloaded (${cmd})`);
    else {
      this.stats.reload_failures++;
      this.#ctx.log.error(
        `shinken: reload command failed (${
          res.timedOut ? "timed out" : `exit ${res.code ?? res.signal}`
        }): ${cmd}: ${res.output.trim()}`,
      );
    }
  }
}
