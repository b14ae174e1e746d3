/**
 * How a command group plugs into `kunai`: one file per group in cli/, registered (with the words that
 * name it, loaded on demand) in `GROUP_MODULES` of cli/mod.ts.
 */
import { type AgentClient, AgentHttpError } from "../lib/client/mod.ts";
import type { Output } from "./output.ts";

export interface OptionSpec {
  type: "boolean" | "string";
  short?: string;
  description: string;
  /** May be given several times (collected into an array). */
  multiple?: boolean;
  default?: string | boolean;
}

export interface CommandSpec {
  /** Words after the group, e.g. "list" (empty for single-word commands like `kunai members`). */
  name: string;
  description: string;
  /** Positional arguments, for help: `<key>` required, `[key]` optional. */
  args?: string[];
  options?: Record<string, OptionSpec>;
  /** Runs the command; returns the exit code. */
  run(ctx: CommandContext): Promise<number>;
}

export interface CommandGroup {
  /** First word: `agent`, `kv`, `members`... */
  group: string;
  description: string;
  commands: CommandSpec[];
}

export interface CommandContext {
  /** Parsed options of the command (global ones removed). */
  options: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  out: Output;
  /** A client for the agent named by -c/--config, KUNAI_CONFIG or the defaults (opened lazily). */
  client(): AgentClient;
  /** The global `-c/--config` file, if any. */
  configFile?: string;
}

/** A usage error: printed with the command's help, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The CLI's own configuration is unusable (bad -c file, bad --http-addr): printed alone, exit 2. */
export class CliConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliConfigError";
  }
}

/**
 * An agent's refusal of a request, printed as `kunai: <what>: <its error>`: exit 2 for a 400 (what
 * was asked is wrong), else 1. Anything but an AgentHttpError is thrown on.
 */
export function refused(out: Output, err: unknown, what: string): number {
  if (!(err instanceof AgentHttpError)) throw err;
  out.error(`kunai: ${what}: ${err.body}`);
  return err.status === 400 ? 2 : 1;
}
