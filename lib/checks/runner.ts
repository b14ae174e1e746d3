/**
 * Runs one check: evaluated checks through the evaluator (machine functions in its sandboxed
 * Worker), Nagios plugins through the runner Worker with a minimal environment, as `nagios_user`
 * when the agent is root. Produces a raw result (before flap protection) and perfdata; never throws.
 */
import type { Ctx } from "../subsystem.ts";
import type { CollectorResultsView } from "../types.ts";
import { type EvalEnv, machineIo } from "../evaluator/mod.ts";
import type { CheckDef } from "./check_def.ts";
import type { CheckDefinitions } from "./definitions.ts";
import { type RawResult, runEvaluated } from "./evaluated.ts";
import { NagiosRunner, pluginIdentity } from "./nagios_runner.ts";
import { parsePluginOutput, type PerfDatum, stateOfExitCode } from "./perfdata.ts";

/** The outcome of one run, or null when a runner restart superseded it (the next run counts). */
export type RunOutcome = { raw: RawResult; perf: PerfDatum[] } | null;

export class CheckRunner {
  #ctx: Ctx;
  #defs: CheckDefinitions;
  #collectors?: CollectorResultsView;
  readonly nagios: NagiosRunner;

  constructor(ctx: Ctx, defs: CheckDefinitions, collectors?: CollectorResultsView) {
    this.#ctx = ctx;
    this.#defs = defs;
    this.#collectors = collectors;
    this.nagios = new NagiosRunner(ctx.sandbox);
  }

  /** Runs `def` once. */
  async run(def: CheckDef): Promise<RunOutcome> {
    if (def.problems.length) return { raw: { state: "unknown", output: def.problems.join("; ") }, perf: [] };
    if (def.kind === "evaluated") return { raw: await runEvaluated(def, this.#evalEnv(def)), perf: [] };
    if (def.kind === "nagios") return await this.#runNagios(def);
    return null;
  }

  #evalEnv(def: CheckDef): EvalEnv {
    return {
      collectors: this.#collectors,
      lookup: (p) => this.#defs.lookup(def, p),
      io: machineIo(this.#ctx),
    };
  }

  /** The Nagios macros a plugin finds in its environment. */
  #macros(def: CheckDef): Record<string, string> {
    const n = this.#ctx.node;
    return {
      NAGIOS_HOSTNAME: n.name,
      NAGIOS_HOSTADDRESS: n.addr,
      NAGIOS_SERVICEDESC: def.id,
      NAGIOS_PLUGINTIMEOUT: String(Math.ceil(def.timeoutMs / 1000)),
    };
  }

  async #runNagios(def: CheckDef): Promise<RunOutcome> {
    const unknown = (output: string): RunOutcome => ({ raw: { state: "unknown", output }, perf: [] });
    let argv: string[];
    let as;
    try {
      const cmd = this.#defs.resolve(def);
      argv = cmd.argv;
      if (!this.nagios.allowed.includes(cmd.executable)) {
        this.nagios.allow([...this.nagios.allowed, cmd.executable]);
      }
      as = pluginIdentity(this.#macros(def), this.#ctx.config.params.nagios_user);
      def.pluginProblem = undefined;
    } catch (err) {
      def.pluginProblem = `${def.file || def.id}: script: ${(err as Error).message}`;
      return unknown(def.pluginProblem);
    }
    const max = this.#ctx.config.params.checks.max_output;
    const r = await this.nagios.run(argv, def.timeoutMs, max, as);
    for (const w of r.warnings ?? []) {
      this.#ctx.counters.inc("check_plugin_cleanup_failures_total");
      this.#ctx.log.warn(`check ${def.id}: plugin cleanup: ${w}`);
    }
    if (r.error && r.generation !== this.nagios.generation) return null;
    if (r.error) return unknown(r.error);
    if (r.timedOut) {
      const partial = parsePluginOutput(r.output).text;
      return unknown(
        `plugin timed out after ${def.timeoutMs / 1000}s and was killed${partial ? `: ${partial}` : ""}`,
      );
    }
    const parsed = parsePluginOutput(r.output);
    const st = r.signal ? { state: "unknown" as const } : stateOfExitCode(r.code);
    let output = parsed.long ? `${parsed.text}\n${parsed.long}` : parsed.text;
    if (r.signal) output = `plugin killed by ${r.signal}${output ? `: ${output}` : ""}`;
    else if (r.code !== null && r.code > 3) {
      output = `plugin exited with code ${r.code}${output ? `: ${output}` : ""}`;
    }
    if (r.truncated) output += ` [output truncated at ${max} bytes]`;
    return { raw: { state: st.state, output }, perf: parsed.perf };
  }

  stop(): void {
    this.nagios.stop();
  }
}
