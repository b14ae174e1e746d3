/**
 * The `kunai` command line: global options, then `<group> [command] [options] [args]`.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
import { parseArgs } from "node:util";
import { AgentHttpError, AgentUnreachable } from "../lib/client/mod.ts";
import type { AgentClient } from "../lib/client/mod.ts";
import { Output } from "./output.ts";
import { type CommandGroup, type CommandSpec, UsageError } from "./types.ts";
import { clientFor } from "./connect.ts";
import { agentCommands } from "./agent.ts";
import { globalCommands } from "./global.ts";
import { evaluatorCommands } from "./evaluator.ts";
import { collectorsCommands } from "./collectors.ts";
import { dockerCommands } from "./docker.ts";
import { checksCommands } from "./checks.ts";
import { stateCommands } from "./state.ts";
import { detectorsCommands } from "./detectors.ts";
import { kvCommands } from "./kv.ts";
import { metricsCommands } from "./metrics.ts";
import { snapshotCommands } from "./snapshot.ts";
import { joinCommands, keysCommands, leaveCommands, membersCommands } from "./members.ts";

// GROUPS: every command group, in help order. Helpers add their group here.
export const GROUPS: CommandGroup[] = [
  ...globalCommands,
  agentCommands,
  evaluatorCommands,
  collectorsCommands,
  dockerCommands,
  stateCommands,
  checksCommands,
  detectorsCommands,
  kvCommands,
  metricsCommands,
  snapshotCommands,
  membersCommands,
  joinCommands,
  leaveCommands,
  keysCommands,
];

const GLOBAL_HELP = `Usage: kunai [global options] <command> [command options] [arguments]

Global options:
  -c, --config FILE   configuration file whose 'socket' names the agent to talk to
                      (default: $KUNAI_CONFIG, else the agent's default configuration)
  -h, --help          show help (also: kunai <command> --help)
  -l, --list          list commands
      --no-color      never colour output`;

export function findCommand(
  words: string[],
): { group: CommandGroup; cmd: CommandSpec; rest: string[] } | null {
  const group = GROUPS.find((g) => g.group === words[0]);
  if (!group) return null;
  const sub = words[1];
  const named = sub !== undefined ? group.commands.find((c) => c.name === sub) : undefined;
  if (named) return { group, cmd: named, rest: words.slice(2) };
  const bare = group.commands.find((c) => c.name === "");
  if (bare) return { group, cmd: bare, rest: words.slice(1) };
  return null;
}

function commandUsage(group: CommandGroup, cmd: CommandSpec): string {
  const words = ["kunai", group.group, cmd.name].filter(Boolean).join(" ");
  const lines = [
    `Usage: ${words}${cmd.options ? " [options]" : ""}${cmd.args ? " " + cmd.args.join(" ") : ""}`,
    "",
    `  ${cmd.description}`,
  ];
  const opts = Object.entries(cmd.options ?? {});
  if (opts.length) {
    lines.push("", "Options:");
    for (const [name, o] of opts) {
      const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? " VALUE" : ""}`;
      lines.push(`  ${flag.padEnd(24)}${o.description}`);
    }
  }
  return lines.join("\n");
}

function groupUsage(group: CommandGroup): string {
  const lines = [`${group.group}: ${group.description}`, ""];
  for (const c of group.commands) {
    const words = [group.group, c.name].filter(Boolean).join(" ");
    lines.push(`  kunai ${(words + (c.args ? " " + c.args.join(" ") : "")).padEnd(34)} ${c.description}`);
  }
  lines.push("", `Run 'kunai ${group.group} <command> --help' for a command's options.`);
  return lines.join("\n");
}

export function commandList(): string {
  const lines = ["Available commands:"];
  for (const g of GROUPS) {
    for (const c of g.commands) {
      const words = [g.group, c.name].filter(Boolean).join(" ");
      lines.push(`  ${words.padEnd(22)} ${c.description}`);
    }
  }
  return lines.join("\n");
}

/** Runs the CLI; returns the exit code (main.ts exits with it). */
export async function runCli(argv: string[], out = new Output()): Promise<number> {
  let configFile: string | undefined;
  let i = 0;
  let help = false;
  let colour: boolean | undefined;
  for (; i < argv.length && argv[i].startsWith("-"); i++) {
    const a = argv[i];
    if (a === "-c" || a === "--config") {
      configFile = argv[++i];
      if (configFile === undefined) return usageError(out, "option -c/--config needs a FILE", GLOBAL_HELP);
    } else if (a.startsWith("--config=")) configFile = a.slice(9);
    else if (a === "-h" || a === "--help") help = true;
    else if (a === "-l" || a === "--list") {
      out.line(commandList());
      return 0;
    } else if (a === "--no-color") colour = false;
    else if (a === "-D" || a === "-v") { /* accepted for compatibility */ }
    else return usageError(out, `unknown global option ${a}`, GLOBAL_HELP);
  }
  if (colour === false) out = new Output({ colour: false });
  const words = argv.slice(i);
  if (words.length === 0) {
    out.line(GLOBAL_HELP + "\n\n" + commandList());
    return help ? 0 : 2;
  }
  const found = findCommand(words);
  if (!found) {
    const group = GROUPS.find((g) => g.group === words[0]);
    if (group) {
      if (help || words[1] === "--help" || words[1] === "-h") {
        out.line(groupUsage(group));
        return 0;
      }
      return usageError(
        out,
        words[1] ? `unknown ${group.group} command '${words[1]}'` : `'kunai ${group.group}' needs a command`,
        groupUsage(group),
      );
    }
    return usageError(out, `unknown command '${words[0]}'`, GLOBAL_HELP + "\n\n" + commandList());
  }
  const { group, cmd, rest } = found;
  const options: Record<string, { type: "boolean" | "string"; short?: string; multiple?: boolean }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [k, o] of Object.entries(cmd.options ?? {})) {
    options[k] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (err) {
    return usageError(
      out,
      (err as Error).message.replace(/\. To specify a positional.*$/s, ""),
      commandUsage(group, cmd),
    );
  }
  if (help || parsed.values.help) {
    out.line(commandUsage(group, cmd));
    return 0;
  }
  const values = { ...parsed.values } as Record<string, string | boolean | string[] | undefined>;
  for (const [k, o] of Object.entries(cmd.options ?? {})) {
    if (values[k] === undefined && o.default !== undefined) values[k] = o.default;
  }
  const maxArgs = cmd.args?.length ?? 0;
  const minArgs = cmd.args?.filter((a) => a.startsWith("<")).length ?? 0;
  const variadic = cmd.args?.some((a) => a.includes("..."));
  if (parsed.positionals.length < minArgs) {
    return usageError(
      out,
      `missing argument ${cmd.args![parsed.positionals.length]}`,
      commandUsage(group, cmd),
    );
  }
  if (!variadic && parsed.positionals.length > maxArgs) {
    return usageError(out, `unexpected argument '${parsed.positionals[maxArgs]}'`, commandUsage(group, cmd));
  }
  const holder: { client: AgentClient | null } = { client: null };
  try {
    return await cmd.run({
      options: values,
      positionals: parsed.positionals,
      out,
      configFile,
      client: () => holder.client ??= clientFor(configFile),
    });
  } catch (err) {
    if (err instanceof UsageError) return usageError(out, err.message, commandUsage(group, cmd));
    if (err instanceof AgentUnreachable) {
      out.error(err.message);
      return 1;
    }
    if (err instanceof AgentHttpError) {
      out.error(`error: ${err.body}${err.detail ? ` (${JSON.stringify(err.detail)})` : ""}`);
      return 1;
    }
    out.error(`error: ${(err as Error).message}`);
    return 1;
  } finally {
    holder.client?.close();
  }
}

function usageError(out: Output, message: string, usage: string): number {
  out.error(`kunai: ${message}`);
  out.error(usage);
  return 2;
}
