/**
 * The Shinken/Nagios exporter (reference §10.1): keeps `<cfg_path>/<uuid>.cfg` in step with the
 * membership (written atomically, only on change; stale files of ours removed), runs
 * `reload_command` once per batch of changes, and pushes check results (and host up/down) into
 * the external command file.
 */
import { join } from "node:path";
import type { Ctx } from "../subsystem.ts";
import type { CheckResultEvent, MemberRecord } from "../types.ts";
import { readIfExists, writeAtomic } from "../fs/mod.ts";
import { runCommand } from "../process/mod.ts";
import {
  exportedChecks,
  GENERATED_MARK,
  hostConfig,
  hostResultLine,
  memberChecks,
  type RenderOptions,
  safeHostName,
  serviceResultLine,
} from "./cfg_render.ts";
import { pushLines } from "./command_file.ts";

export interface ShinkenConfig {
  enabled: boolean;
  cfg_path: string;
  external_command_file: string;
  reload_command: string;
  monitoring_tool: "shinken" | "nagios";
  host_templates: string[];
  reload_delay: number;
}

/** Membership as the exporter needs it. */
export interface ShinkenMembership {
  self(): MemberRecord;
  members(): MemberRecord[];
}

/** Our own checks (all of them, not only those of services), for our own host. */
export type LocalChecks = () => Array<{ id: string; state_id: number; output: string }>;

/** An external command line and, for a service result, the state it reports once written. */
interface PendingLine {
  line: string;
  remember?: [key: string, stateId: number];
}

const UUID_CFG = /^[A-Za-z0-9_.-]+\.cfg$/;

/** Every host file for the current membership (nodes that left are not exported). */
export function renderAll(
  members: MemberRecord[],
  selfUuid: string,
  localChecks: LocalChecks | undefined,
  opts: RenderOptions,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of members) {
    if (m.state === "leave" || !safeHostName(m.uuid)) continue;
    const checks = m.uuid === selfUuid && localChecks
      ? [...localChecks(), ...memberChecks(m)]
      : memberChecks(m);
    out.set(`${m.uuid}.cfg`, hostConfig(m, exportedChecks(checks), opts));
  }
  return out;
}

export class ShinkenExporter {
  #ctx: Ctx;
  #cfg: ShinkenConfig;
  #membership: ShinkenMembership;
  #localChecks?: LocalChecks;
  #timer: number | null = null;
  #busy: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  /** Last state pushed per `host|service`, so a member update pushes only what changed. */
  #pushed = new Map<string, number>();
  /** Hosts we reported down (dead), to report them up again when they come back. */
  #down = new Set<string>();
  /** Unsafe node uuids already logged (such nodes are not exported). */
  #badNames = new Set<string>();
  stats = { syncs: 0, writes: 0, removes: 0, reloads: 0, reload_failures: 0, lines: 0, dropped: 0 };

  constructor(ctx: Ctx, cfg: ShinkenConfig, membership: ShinkenMembership, localChecks?: LocalChecks) {
    this.#ctx = ctx;
    this.#cfg = cfg;
    this.#membership = membership;
    this.#localChecks = localChecks;
  }

  get config(): ShinkenConfig {
    return this.#cfg;
  }

  #opts(): RenderOptions {
    return { hostTemplates: this.#cfg.host_templates, monitoringTool: this.#cfg.monitoring_tool };
  }

  /** The files an export would write now (for `kunai shinken export`). */
  files(): Map<string, string> {
    return renderAll(
      this.#membership.members(),
      this.#membership.self().uuid,
      this.#localChecks,
      this.#opts(),
    );
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

  /** Writes changed files, removes stale ones, reloads once if anything changed. */
  async syncNow(): Promise<void> {
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
      } while (this.#again && !this.#stopped);
    })().finally(() => this.#busy = null);
    await this.#busy;
  }

  #syncFiles(): boolean {
    const dir = this.#cfg.cfg_path;
    Deno.mkdirSync(dir, { recursive: true });
    const want = this.files();
    let changed = false;
    for (const [name, text] of want) {
      const path = join(dir, name);
      if (readIfExists(path) === text) continue;
      writeAtomic(path, text, { mode: 0o644, keepOwner: true, fsync: true });
      this.stats.writes++;
      changed = true;
    }
    for (const e of Deno.readDirSync(dir)) {
      if (!e.isFile || !UUID_CFG.test(e.name) || want.has(e.name)) continue;
      const path = join(dir, e.name);
      const head = (readIfExists(path) ?? "").split("\n", 1)[0];
      if (head !== GENERATED_MARK) continue; // not ours: never touched
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
    if (!cmd) return;
    const res = await runCommand(cmd, 60_000).catch((err) => ({
      code: null,
      signal: null,
      output: `cannot start: ${(err as Error).message}`,
      timedOut: false,
    }));
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

  /** Our own check changed state: push its result. */
  onCheckChanged(ev: CheckResultEvent): void {
    const self = this.#membership.self();
    if (!this.#safe(self)) return;
    const local = this.#localChecks?.() ?? [];
    const all = exportedChecks([...local, ...memberChecks(self)]);
    const c = all.find((x) => x.id === ev.id);
    if (!c) return;
    this.#push([this.#serviceLine(self.uuid, c.service, ev.state_id, ev.output)]);
  }

  /** A member's record changed: push the results of its checks that changed, and host up/down. */
  onMember(m: MemberRecord): void {
    if (!this.#safe(m)) return;
    const lines: PendingLine[] = [];
    const now = Math.floor(this.#ctx.clock.now() / 1000);
    if (m.state === "dead" && !this.#down.has(m.uuid)) {
      this.#down.add(m.uuid);
      lines.push({ line: hostResultLine(now, m.uuid, 1, `kunai: node ${m.name} is dead`) });
    } else if (m.state === "alive" && this.#down.delete(m.uuid)) {
      lines.push({ line: hostResultLine(now, m.uuid, 0, `kunai: node ${m.name} is alive`) });
    }
    if (m.uuid !== this.#membership.self().uuid) {
      for (const c of exportedChecks(memberChecks(m))) {
        if (this.#pushed.get(`${m.uuid}|${c.service}`) === c.state_id) continue;
        lines.push(this.#serviceLine(m.uuid, c.service, c.state_id, c.output));
      }
    }
    this.#push(lines);
  }

  /** At start: every known result once, so the monitoring tool does not wait for changes. */
  pushAll(): void {
    const self = this.#membership.self();
    const lines: PendingLine[] = [];
    for (const m of this.#membership.members()) {
      if (m.state === "leave" || !this.#safe(m)) continue;
      const checks = m.uuid === self.uuid
        ? [...(this.#localChecks?.() ?? []), ...memberChecks(m)]
        : memberChecks(m);
      for (const c of exportedChecks(checks)) {
        lines.push(this.#serviceLine(m.uuid, c.service, c.state_id, c.output));
      }
    }
    this.#push(lines);
  }

  /** False (logged once) for a record whose uuid is not a safe host name: it is not exported. */
  #safe(m: MemberRecord): boolean {
    if (safeHostName(m.uuid)) return true;
    if (!this.#badNames.has(m.uuid) && this.#badNames.size < 100) {
      this.#badNames.add(m.uuid);
      this.#ctx.log.warn(
        `shinken: node ${JSON.stringify(m.name)} not exported: uuid ${JSON.stringify(m.uuid)}`,
      );
    }
    return false;
  }

  #serviceLine(host: string, service: string, stateId: number, output: string): PendingLine {
    const rc = stateId >= 0 && stateId <= 3 ? stateId : 3;
    const line = serviceResultLine(Math.floor(this.#ctx.clock.now() / 1000), host, service, rc, output);
    return { line, remember: [`${host}|${service}`, stateId] };
  }

  #push(pending: PendingLine[]): void {
    const file = this.#cfg.external_command_file;
    if (!file || !pending.length) return;
    const r = pushLines(file, pending.map((p) => p.line));
    // Only what was written counts as known to the monitoring tool; dropped states go again later.
    for (const p of pending.slice(0, r.written)) if (p.remember) this.#pushed.set(...p.remember);
    this.stats.lines += r.written;
    if (r.dropped) {
      this.stats.dropped += r.dropped;
      this.#ctx.counters.inc("shinken_command_lines_dropped_total", { reason: r.reason }, r.dropped);
      this.#ctx.log.debug(`shinken: ${r.dropped} result line(s) dropped (${file}: ${r.reason})`);
    }
  }
}
