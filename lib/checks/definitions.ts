/**
 * Check and service definitions: loaded from the configuration, replaced at runtime (HTTP PUT /
 * DELETE through the ChecksApi), and activated against our tags. Knows nothing of runs or states:
 * the caller (checks.ts) is told what to unschedule and reschedule.
 */
import type { Ctx } from "../subsystem.ts";
import { appliesTo, type CheckDef, makeCheckDef, shortObjectId } from "./check_def.ts";
import { expressionProblems } from "./evaluated.ts";
import { lookupPath } from "./macros.ts";
import { shellSyntax } from "./argv.ts";
import { EvalError, publicLookup } from "../evaluator/mod.ts";
import { type PluginDirs, PluginRefused, resolveCommand, type ResolvedCommand } from "./nagios_runner.ts";
import { makeServiceDef, type ServiceDef } from "./services.ts";

export class CheckDefinitions {
  #ctx: Ctx;
  #defs = new Map<string, CheckDef>();
  #services = new Map<string, ServiceDef>();
  /** Ids of the checks that apply to our tags (computed by activate()). */
  #active = new Set<string>();

  constructor(ctx: Ctx) {
    this.#ctx = ctx;
  }

  /** (Re)reads checks and services from `ctx.config.objects`. */
  loadFromConfig(): void {
    const cfgDir = this.#ctx.config.cfgDir;
    const defs = new Map<string, CheckDef>();
    const inCfg = (f: string) => f.startsWith(cfgDir + "/");
    for (const obj of Object.values(this.#ctx.config.objects.check ?? {})) {
      const id = shortObjectId(obj.id);
      const prev = defs.get(id);
      if (prev && inCfg(prev.file) && !inCfg(obj.file)) continue; // a local override wins
      defs.set(
        id,
        this.#prepare(
          makeCheckDef({ id, file: obj.file, value: obj.value, configId: obj.id, ...this.#timeout() }),
        ),
      );
    }
    const services = new Map<string, ServiceDef>();
    for (const obj of Object.values(this.#ctx.config.objects.service ?? {})) {
      const name = typeof obj.value.name === "string" && obj.value.name
        ? obj.value.name
        : shortObjectId(obj.id);
      const sd = makeServiceDef(name, obj.file, obj.value);
      services.set(name, sd);
      if (sd.checkId) defs.set(sd.checkId, this.#serviceCheckDef(sd));
    }
    // a definition the reload did not change stays the same object: its run in flight still counts
    // (every SIGHUP, logrotate's daily one included, dropped the results of the checks running then)
    for (const [id, def] of defs) {
      const old = this.#defs.get(id);
      if (!old || definitionKey(old) !== definitionKey(def)) continue;
      old.pluginProblem = def.pluginProblem;
      defs.set(id, old);
    }
    this.#defs = defs;
    this.#services = services;
  }

  #timeout() {
    return { defaultTimeoutMs: this.#ctx.config.params.checks.timeout };
  }

  #serviceCheckDef(sd: ServiceDef): CheckDef {
    return this.#prepare(makeCheckDef({
      id: sd.checkId!,
      file: sd.file,
      value: sd.value.check as Record<string, unknown>,
      service: sd.name,
      applyOn: sd.applyOn,
      ...this.#timeout(),
    }));
  }

  #prepare(def: CheckDef): CheckDef {
    if (def.kind === "evaluated") def.problems.push(...expressionProblems(def));
    if (def.kind === "nagios") {
      const syntax = def.value.shell === undefined ? shellSyntax(String(def.value.script)) : null;
      if (syntax) {
        this.#ctx.log.info(
          `check ${def.id}: its script holds shell syntax (${syntax}): run through /bin/sh as the original ` +
            `ran every script ("shell": false splits it into arguments instead)`,
        );
      }
      try {
        this.resolve(def);
      } catch (err) {
        if (err instanceof PluginRefused) def.pluginProblem = `${def.file || def.id}: script: ${err.message}`;
        else throw err;
      }
    }
    for (const p of shownProblems(def)) this.#ctx.log.warn(`check ${def.id}: ${p}`);
    return def;
  }

  /** Where plugins may live. */
  dirs(): PluginDirs {
    const p = this.#ctx.config.params;
    return { pluginDirs: p.checks.plugin_dirs, libexec: p.libexec };
  }

  /**
   * A dotted path looked up in the check, then its service, then the configuration data. A check the
   * HTTP API wrote sees what API evaluations see (secret names refused, secrets masked): whoever
   * holds the write token must not read `{configuration.mysql_password}` back from the open
   * `/agent/checks/NAME` through its output. Checks of the configuration files see everything.
   */
  lookup(def: CheckDef, path: string): unknown {
    const svc = def.service ? this.#services.get(def.service)?.value : undefined;
    const find = (p: string) => lookupPath([def.value, svc, this.#ctx.config.data], p);
    if (def.value.written_by !== "api" && svc?.written_by !== "api") return find(path);
    return publicLookup(find)(path);
  }

  /**
   * The Nagios command line of a check (macros expanded, executable checked); throws PluginRefused.
   * Through `/bin/sh -c` with `shell: true`, or when `shell` is not set and the line holds shell
   * syntax (`| ; & < >`, `` ` ``, `$(`): the original ran every script through the shell.
   */
  resolve(def: CheckDef): ResolvedCommand {
    const script = String(def.value.script);
    const shell = typeof def.value.shell === "boolean" ? def.value.shell : shellSyntax(script) !== null;
    const lookup = (p: string) => {
      try {
        return this.lookup(def, p);
      } catch (err) {
        if (err instanceof EvalError) throw new PluginRefused(`script: ${err.message}`);
        throw err;
      }
    };
    return resolveCommand(script, lookup, this.dirs(), shell);
  }

  /**
   * Adds or replaces a check created through the API. Its `apply_on` is the one it was given, `*`
   * when none (the directory of an API id is not a tag).
   */
  putCheck(id: string, file: string, value: Record<string, unknown>): CheckDef {
    const def = this.#prepare(
      makeCheckDef({ id, file, value, configId: id, applyOn: applyOnOf(value), ...this.#timeout() }),
    );
    this.#defs.set(id, def);
    return def;
  }

  /** Drops a check; false when unknown. */
  deleteCheck(id: string): boolean {
    return this.#defs.delete(id);
  }

  /** Adds or replaces a service; returns the ids of the checks it dropped (its old embedded check). */
  putService(
    name: string,
    file: string,
    value: Record<string, unknown>,
  ): { sd: ServiceDef; dropped: string[] } {
    const dropped = this.deleteService(name);
    const sd = makeServiceDef(name, file, value);
    this.#services.set(name, sd);
    if (sd.checkId) this.#defs.set(sd.checkId, this.#serviceCheckDef(sd));
    return { sd, dropped };
  }

  /** Drops a service and its embedded check; returns the dropped check ids (null when unknown). */
  deleteService(name: string): string[] {
    const sd = this.#services.get(name);
    if (!sd) return [];
    this.#services.delete(name);
    if (sd.checkId && this.#defs.delete(sd.checkId)) return [sd.checkId];
    return [];
  }

  /** Recomputes the active set against our tags; returns the ids that stopped being active. */
  activate(tags: string[]): string[] {
    const active = new Set<string>();
    for (const def of this.#defs.values()) {
      const svcOk = !def.service || appliesTo(this.#services.get(def.service)?.applyOn ?? "*", tags);
      if (svcOk && appliesTo(def.applyOn, tags)) active.add(def.id);
    }
    const gone = [...this.#active].filter((id) => !active.has(id));
    this.#active = active;
    return gone;
  }

  /** Executables of the active Nagios checks (the runner Worker's `run` allow-list). */
  executables(): string[] {
    const out: string[] = [];
    for (const def of this.activeDefs()) {
      if (def.kind !== "nagios" || def.problems.length) continue;
      try {
        out.push(this.resolve(def).executable);
      } catch { /* reported when loaded */ }
    }
    return out;
  }

  get(id: string): CheckDef | undefined {
    return this.#defs.get(id);
  }
  service(name: string): ServiceDef | undefined {
    return this.#services.get(name);
  }
  services(): ServiceDef[] {
    return [...this.#services.values()];
  }
  ids(): string[] {
    return [...this.#defs.keys()];
  }
  isActive(id: string): boolean {
    return this.#active.has(id);
  }
  activeIds(): string[] {
    return [...this.#active];
  }
  activeDefs(): CheckDef[] {
    return this.activeIds().map((id) => this.#defs.get(id)!).filter(Boolean);
  }
  get size(): number {
    return this.#defs.size;
  }
  get serviceCount(): number {
    return this.#services.size;
  }
}

function applyOnOf(value: Record<string, unknown>): string {
  return typeof value.apply_on === "string" ? value.apply_on : "*";
}

/** What is said of a definition: its problems, its warnings, and why its plugin cannot run. */
export function shownProblems(def: CheckDef): string[] {
  return [...def.problems, ...def.warnings, ...def.pluginProblem ? [def.pluginProblem] : []];
}

/** Everything a definition is made of: two with the same key run the same way. */
function definitionKey(d: CheckDef): string {
  return JSON.stringify([
    d.from,
    d.file,
    d.value,
    d.applyOn,
    d.intervalMs,
    d.timeoutMs,
    d.kind,
    d.service ?? null,
    d.problems,
    d.warnings,
  ]);
}
