/**
 * The `kunai` command line: global options, then `<group> [command] [options] [args]`.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
import { parseArgs } from "node:util";
import { AgentHttpError, AgentUnreachable } from "../lib/client/mod.ts";
import type { AgentClient } from "../lib/client/mod.ts";
import { Output } from "./output.ts";
import { CliConfigError, type CommandGroup, type CommandSpec, UsageError } from "./types.ts";
import { clientFor } from "./connect.ts";
import { loadYaml } from "../lib/config/mod.ts";

/**
 * Every command group, in help order, by the words that name them: a command loads only its own
 * group's module (the agent does not hold the other 20-odd command modules in memory, and each
 * command starts without parsing them); help, the command list and completion load them all.
 */
interface GroupModule {
  words: string[];
  load: () => Promise<CommandGroup[]>;
}

export const GROUP_MODULES: GroupModule[] = [
  { words: ["version", "info", "keygen"], load: async () => (await import("./global.ts")).globalCommands },
  { words: ["agent"], load: async () => [(await import("./agent.ts")).agentCommands] },
  { words: ["evaluator"], load: async () => [(await import("./evaluator.ts")).evaluatorCommands] },
  { words: ["collectors"], load: async () => [(await import("./collectors.ts")).collectorsCommands] },
  { words: ["docker"], load: async () => [(await import("./docker.ts")).dockerCommands] },
  { words: ["state"], load: async () => [(await import("./state.ts")).stateCommands] },
  { words: ["checks"], load: async () => [(await import("./checks.ts")).checksCommands] },
  { words: ["detectors"], load: async () => [(await import("./detectors.ts")).detectorsCommands] },
  { words: ["kv"], load: async () => [(await import("./kv.ts")).kvCommands] },
  { words: ["metrics"], load: async () => [(await import("./metrics.ts")).metricsCommands] },
  { words: ["snapshot"], load: async () => [(await import("./snapshot.ts")).snapshotCommands] },
  {
    words: ["members", "join", "leave", "keys", "ping"],
    load: async () => {
      const m = await import("./members.ts");
      return [m.membersCommands, m.joinCommands, m.leaveCommands, m.keysCommands, m.pingCommands];
    },
  },
  { words: ["handlers"], load: async () => [(await import("./handlers.ts")).handlersCommands] },
  { words: ["shinken"], load: async () => [(await import("./shinken.ts")).shinkenCommands] },
  { words: ["generators"], load: async () => [(await import("./generators.ts")).generatorsCommands] },
  { words: ["raft"], load: async () => [(await import("./raft.ts")).raftCommands] },
  { words: ["exec"], load: async () => [(await import("./exec.ts")).execCommands] },
  { words: ["propagate"], load: async () => [(await import("./propagate.ts")).propagateCommands] },
  { words: ["packs"], load: async () => [(await import("./packs.ts")).packsCommands] },
  { words: ["monitor"], load: async () => [(await import("./monitor.ts")).monitorCommands] },
  { words: ["config"], load: async () => [(await import("./config.ts")).configCommands] },
  { words: ["event"], load: async () => [(await import("./event.ts")).eventCommands] },
  { words: ["wait"], load: async () => [(await import("./wait.ts")).waitCommands] },
  { words: ["lock"], load: async () => [(await import("./lock.ts")).lockCommands] },
  { words: ["zone"], load: async () => [(await import("./zone.ts")).zoneCommands] },
  {
    words: ["maintenance"],
    load: async () => [(await import("./maintenance.ts")).maintenanceCommands],
  },
  { words: ["api"], load: async () => [(await import("./api.ts")).apiCommands] },
  // lists every group: built by loadGroups() once the others are loaded
  { words: ["completion"], load: async () => (await loadGroups()).filter((g) => g.group === "completion") },
];

let loaded: CommandGroup[] | null = null;

/** Every command group, in help order (loads every command module). */
export async function loadGroups(): Promise<CommandGroup[]> {
  if (loaded) return loaded;
  const all: CommandGroup[] = [];
  for (const m of GROUP_MODULES) if (m.words[0] !== "completion") all.push(...await m.load());
  const { completionCommands } = await import("./completion.ts");
  all.push(completionCommands(() => all));
  return loaded = all;
}

/** The group named `word`, loading only its module; undefined when no group has that name. */
export async function loadGroup(word: string | undefined): Promise<CommandGroup | undefined> {
  if (word === undefined) return undefined;
  const m = GROUP_MODULES.find((m) => m.words.includes(word));
  return m ? (await m.load()).find((g) => g.group === word) : undefined;
}

const GLOBAL_HELP = `Usage: kunai [global options] <command> [command options] [arguments]

Global options (accepted anywhere before "--"; -l, -D and -v before the command only):
  -c, --config FILE     configuration file whose 'socket' names the agent to talk to, or
                        the agent's configuration directory (its --cfg-dir); default:
                        $KUNAI_CONFIG, else $KUNAI_SOCKET's socket, else the agent's
                        default configuration
      --http-addr URL   talk to the agent over TCP instead of the unix socket
                        (http://host:port, host:port or unix:/path; default: $KUNAI_HTTP_ADDR)
      --token TOKEN     bearer token for write routes over TCP (default: $KUNAI_HTTP_TOKEN;
                        prefer it: every local user sees a --token in the process list)
      --json            JSON output (every listing command)
      --no-color        never colour output (also: NO_COLOR=1)
  -v, -D                say on stderr which agent is asked, and each request with its answer
  -h, --help            show help (also: kunai help [GROUP [COMMAND]], kunai <command> --help)
  -l, --list            list commands
  -V, --version         the version (also: kunai version)
      --proxy URI       the original's option: accepted and ignored

Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.`;

export async function findCommand(
  words: string[],
): Promise<{ group: CommandGroup; cmd: CommandSpec; rest: string[] } | null> {
  const group = await loadGroup(words[0]);
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
      // a flag too long for the column gets its description on the next line, not glued to it
      if (flag.length < 24) lines.push(`  ${flag.padEnd(24)}${o.description}`);
      else lines.push(`  ${flag}`, `  ${"".padEnd(24)}${o.description}`);
    }
  }
  // the group's bare command (`kunai members`): its other commands are found from its help too
  const others = cmd.name === "" ? group.commands.filter((c) => c !== cmd) : [];
  if (others.length) {
    lines.push("", "Other commands of this group:");
    for (const c of others) {
      const words = `${group.group} ${c.name}${c.args ? " " + c.args.join(" ") : ""}`;
      lines.push(`  kunai ${words.padEnd(34)} ${c.description}`);
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

export async function commandList(): Promise<string> {
  const lines = ["Available commands:"];
  for (const g of await loadGroups()) {
    for (const c of g.commands) {
      const words = [g.group, c.name].filter(Boolean).join(" ");
      lines.push(`  ${words.padEnd(22)} ${c.description}`);
    }
  }
  return lines.join("\n");
}

/** Global options, accepted anywhere on the line (before `--`). */
export interface GlobalOptions {
  configFile?: string;
  httpAddr?: string;
  token?: string;
  json: boolean;
  colour?: boolean;
  help: boolean;
  list: boolean;
  /** The original's `--proxy URI`: parsed and never used there; accepted here, said, ignored. */
  proxy?: string;
  /** `-v` / `-D`: say on stderr which agent is asked, and each request with its answer. */
  verbose?: boolean;
}

/**
 * Takes the global options out of `argv` (the long ones and `-c` wherever they are before `--`;
 * `-l`, `-D`, `-v`, `-h` and `--proxy URI` before the command only); the rest keeps its order.
 */
export function splitGlobals(argv: string[]): { globals: GlobalOptions; rest: string[] } {
  const g: GlobalOptions = { json: false, help: false, list: false };
  const rest: string[] = [];
  const valued: Record<string, "configFile" | "httpAddr" | "token"> = {
    "-c": "configFile",
    "--config": "configFile",
    "--http-addr": "httpAddr",
    "--token": "token",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    const eq = a.indexOf("=");
    const flag = a.startsWith("--") && eq > 0 ? a.slice(0, eq) : a;
    if (valued[flag]) {
      const v = flag === a ? argv[++i] : a.slice(eq + 1);
      if (v === undefined || v === "") throw new UsageError(`option ${flag} needs a value`);
      g[valued[flag]] = v;
    } else if (a === "--json") g.json = true;
    else if (a === "--no-color") g.colour = false;
    // the short flags only before the command: after it they belong to it (`kunai exec web ls -l`
    // listed the commands and `uname -v` lost its -v)
    else if ((a === "-l" || a === "--list") && rest.length === 0) g.list = true;
    else if ((a === "-D" || a === "-v") && rest.length === 0) g.verbose = true;
    else if (flag === "--proxy" && rest.length === 0) {
      const v = flag === a ? argv[++i] : a.slice(eq + 1);
      if (v === undefined) throw new UsageError("option --proxy needs a value");
      g.proxy = v;
    } else if ((a === "-h" || a === "--help") && rest.length === 0) g.help = true;
    else rest.push(a);
  }
  return { globals: g, rest };
}

/** Runs the CLI; returns the exit code (main.ts exits with it). */
export async function runCli(argv: string[], out = new Output()): Promise<number> {
  let globals: GlobalOptions, words: string[];
  try {
    ({ globals, rest: words } = splitGlobals(argv));
  } catch (err) {
    return usageError(out, (err as Error).message, GLOBAL_HELP);
  }
  if (globals.colour === false) out = new Output({ colour: false });
  // scripts written for the original may pass it (it was parsed there and never used)
  if (globals.proxy !== undefined) {
    out.error("warning: --proxy is ignored (the original never used it either)");
  }
  if (globals.list) {
    out.line(await commandList());
    return 0;
  }
  const { configFile, help } = globals;
  // what other tools answer to: `kunai --version`, `kunai help [GROUP [COMMAND]]`
  if (words[0] === "--version" || words[0] === "-V") words = ["version", ...words.slice(1)];
  if (words[0] === "help") {
    if (words.length === 1) {
      out.line(GLOBAL_HELP + "\n\n" + await commandList());
      return 0;
    }
    return await runCli([...words.slice(1), "--help"], out);
  }
  const unknownGlobal = words.length && words[0].startsWith("-") ? words[0] : null;
  if (unknownGlobal) return usageError(out, `unknown global option ${unknownGlobal}`, GLOBAL_HELP);
  if (words.length === 0) {
    // asked for (-h): the help on stdout; a bare `kunai` is a usage error, on stderr like the others
    if (help) {
      out.line(GLOBAL_HELP + "\n\n" + await commandList());
      return 0;
    }
    return usageError(out, "kunai needs a command", GLOBAL_HELP + "\n\n" + await commandList());
  }
  const found = await findCommand(words);
  if (!found) {
    const group = await loadGroup(words[0]);
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
    return usageError(out, `unknown command '${words[0]}'`, GLOBAL_HELP + "\n\n" + await commandList());
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
    parsed = parseArgs({
      args: joinDashValues(rest, options),
      allowPositionals: true,
      options,
      strict: true,
    });
  } catch (err) {
    return usageError(
      out,
      (err as Error).message.replace(
        /\. To specify a positional.*$/s,
        " (an argument that starts with '-' goes after '--')",
      ),
      commandUsage(group, cmd),
    );
  }
  if (help || parsed.values.help) {
    out.line(commandUsage(group, cmd));
    return 0;
  }
  const values = { ...parsed.values } as Record<string, string | boolean | string[] | undefined>;
  if (globals.json) {
    if (!cmd.options?.json) {
      return usageError(
        out,
        `'kunai ${[group.group, cmd.name].filter(Boolean).join(" ")}' has no JSON output`,
        commandUsage(group, cmd),
      );
    }
    values.json = true;
  }
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
  // every command but `agent start` may read YAML configuration synchronously (connect.ts, snapshot,
  // collectors): the parser is loaded here; the agent loads it only when it meets a YAML file
  if (!(group.group === "agent" && cmd.name === "start")) await loadYaml();
  const holder: { client: AgentClient | null } = { client: null };
  try {
    return await cmd.run({
      options: values,
      positionals: parsed.positionals,
      out,
      configFile,
      client: () =>
        holder.client ??= clientFor(configFile, {
          httpAddr: globals.httpAddr,
          token: globals.token,
          trace: globals.verbose ? (line) => out.error(`kunai: ${line}`) : undefined,
        }),
    });
  } catch (err) {
    if (err instanceof UsageError) return usageError(out, err.message, commandUsage(group, cmd));
    if (err instanceof CliConfigError || (err as Error).name === "ConfigError") {
      out.error((err as Error).message);
      return 2;
    }
    if (err instanceof AgentUnreachable) {
      out.error(err.message);
      return 1;
    }
    if (err instanceof AgentHttpError) {
      out.error(`${err.body}${err.detail ? ` (${JSON.stringify(err.detail)})` : ""}`);
      return err.status === 400 ? 2 : 1; // a 400: what was asked is malformed, a usage error
    }
    out.error((err as Error).message);
    return 1;
  } finally {
    holder.client?.close();
  }
}

function usageError(out: Output, message: string, usage: string): number {
  out.error(message);
  out.errorBlock(usage);
  return 2;
}

/**
 * `--from -2min` as `--from=-2min`: a value that starts with a dash and a digit (a relative time, a
 * negative number) is never an option, but parseArgs refuses it as ambiguous after a string option.
 */
export function joinDashValues(args: string[], options: Record<string, { type: string }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") return out.concat(args.slice(i));
    const name = a.startsWith("--") && !a.includes("=") ? a.slice(2) : "";
    if (name && options[name]?.type === "string" && /^-\d/.test(args[i + 1] ?? "")) {
      out.push(`${a}=${args[++i]}`);
    } else out.push(a);
  }
  return out;
}
