/**
 * `kunai config validate` (like `nginx -t`, `consul validate`): reads the configuration exactly as
 * `agent start` would, without an agent, and says whether it would start: every problem with its
 * file, line and field (exit 2), or a summary (exit 0). It also looks where a start would only fail
 * later: expressions of checks and detectors that do not parse, and templates of mail handlers and
 * generators that cannot be found (reported as problems too). For a config management tool's
 * validate hook. `kunai config show` prints the effective agent parameters and where each comes from,
 * secrets masked.
 */
import { dirname, join } from "node:path";
import { isDirectory } from "../lib/fs/mod.ts";
import {
  type AgentConfig,
  ConfigError,
  type ConfigProblem,
  formatProblem,
  resolveConfigAsync,
} from "../lib/config/mod.ts";
import type { Output } from "./output.ts";
import { type CommandGroup, type CommandSpec, type OptionSpec, UsageError } from "./types.ts";

const DIRS: Record<string, OptionSpec> = {
  "cfg-dir": { type: "string", description: "configuration directory (default /etc/kunai, $KUNAI_CFG_DIR)" },
  "data-dir": { type: "string", description: "data directory (default: from the configuration)" },
  json: { type: "boolean", description: "JSON output" },
};

/**
 * The configuration, or null once its problems are printed (JSON with --json). The global `-c`
 * names only the agent to talk to (its socket): read without `--cfg-dir`, the default directory
 * would be checked instead, and a broken configuration said to be OK.
 */
async function load(
  out: Output,
  options: Record<string, unknown>,
  configFile: string | undefined,
): Promise<AgentConfig | null> {
  if (configFile !== undefined && options["cfg-dir"] === undefined) {
    throw new UsageError(
      `-c ${configFile} names the agent to talk to, not the configuration to read: give its directory with --cfg-dir`,
    );
  }
  try {
    return await resolveConfigAsync({
      cfgDir: options["cfg-dir"] as string | undefined,
      dataDir: options["data-dir"] as string | undefined,
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    if (options.json) out.json({ valid: false, problems: err.problems.map(problemJson) });
    else {
      out.error(`kunai: the configuration would not start (${err.problems.length} problem(s)):`);
      for (const p of err.problems) out.error(`  ${formatProblem(p)}`);
    }
    return null;
  }
}

/** Fields holding an expression (reference §6.6): parsed with every `{…}` and `$…$` replaced by 0. */
const EXPRESSION_FIELD = /(_if|_output)$/;

/**
 * What a start would only find later: expressions that do not parse, templates that do not
 * exist, exec keys that cannot be read. Loaded lazily (the evaluator and the template search) so `config show` stays light.
 */
async function deepProblems(config: AgentConfig): Promise<ConfigProblem[]> {
  const { parseExpression } = await import("../lib/evaluator/mod.ts");
  const { defaultTemplateDirs, resolveTemplate, SHIPPED_TEMPLATES } = await import("../lib/templates/mod.ts");
  const out: ConfigProblem[] = [];
  const expression = (file: string, path: string, text: unknown) => {
    if (typeof text !== "string" || !text.trim()) return;
    // a rule quotes what it substitutes ('{collector.x}'), so a number stands in for any value
    const stand = text.replace(/\{[^{}]*\}/g, "0").replace(/\$[A-Za-z0-9_.|-]+\$/g, "0");
    try {
      parseExpression(stand);
    } catch (err) {
      out.push({
        file,
        path,
        message: `expression does not parse: ${
          (err as Error).message
        } (columns count after each {…} became 0)`,
      });
    }
  };
  const scan = (file: string, prefix: string, v: Record<string, unknown>) => {
    for (const [k, x] of Object.entries(v)) {
      if (EXPRESSION_FIELD.test(k) && (k.endsWith("_if") || (typeof x === "string" && /[%'(]/.test(x)))) {
        expression(file, `${prefix}.${k}`, x);
      }
    }
  };
  for (const o of Object.values(config.objects.check ?? {})) scan(o.file, "check", o.value);
  for (const o of Object.values(config.objects.service ?? {})) {
    const ck = o.value.check;
    if (ck && typeof ck === "object") scan(o.file, "service.check", ck as Record<string, unknown>);
  }
  for (const o of Object.values(config.objects.detector ?? {})) {
    expression(o.file, "detector.apply_if", o.value.apply_if);
  }
  const mailDirs = defaultTemplateDirs(config.cfgDir);
  for (const o of Object.values(config.objects.handler ?? {})) {
    const rendered = o.value.type === "mail" || (o.value.type === "webhook" && o.value.format === "slack");
    if (!rendered) continue;
    for (const k of ["subject_template", "text_template", "node_subject_template", "node_text_template"]) {
      const name = o.value[k];
      if (typeof name === "string" && !resolveTemplate(name, mailDirs)) {
        out.push({
          file: o.file,
          path: `handler.${k}`,
          message: `template ${name} not found in ${mailDirs[0]}`,
        });
      }
    }
  }
  // the exec keys: an agent that cannot read them logs it and refuses to send or run commands
  const { importPrivateKey, importPublicKey } = await import("../lib/exec/mod.ts");
  for (
    const [field, load] of [["master_key_priv", importPrivateKey], [
      "master_key_pub",
      importPublicKey,
    ]] as const
  ) {
    const path = config.params[field];
    if (!path) continue;
    try {
      await load(await Deno.readTextFile(path));
    } catch (err) {
      out.push({
        file: config.paramSource?.[field] ?? config.cfgDir,
        path: field,
        message: `${path}: ${(err as Error).message}`,
      });
    }
  }
  for (const o of Object.values(config.objects.generator ?? {})) {
    const name = o.value.template;
    const dirs = [
      ...new Set([join(dirname(o.file), "templates"), join(config.cfgDir, "templates"), SHIPPED_TEMPLATES]),
    ];
    if (typeof name === "string" && !resolveTemplate(name, dirs)) {
      out.push({
        file: o.file,
        path: "generator.template",
        message: `template ${name} not found in ${dirs.filter((d) => d !== SHIPPED_TEMPLATES).join(" or ")}`,
      });
    }
  }
  return out;
}

function problemJson(p: ConfigProblem) {
  return { file: p.file, line: p.line, column: p.column, path: p.path, message: p.message };
}

const validate: CommandSpec = {
  name: "validate",
  description:
    "check the configuration as `agent start` would read it, without an agent (exit 2 when it would not start)",
  options: DIRS,
  async run({ out, options, configFile }) {
    const config = await load(out, options, configFile);
    if (!config) return 2;
    if (!isDirectory(config.cfgDir)) {
      // the default directory (an explicit one that is missing is refused while reading)
      const problem = { file: config.cfgDir, path: "", message: "configuration directory does not exist" };
      if (options.json) out.json({ valid: false, problems: [problemJson(problem)] });
      else out.error(`kunai: ${formatProblem(problem)} (give --cfg-dir)`);
      return 2;
    }
    const later = await deepProblems(config);
    const counts: Record<string, number> = {};
    for (const [kind, objs] of Object.entries(config.objects)) {
      const n = Object.keys(objs).length;
      if (n) counts[kind] = n;
    }
    if (options.json) {
      out.json({
        valid: later.length === 0,
        files: config.files,
        objects: counts,
        listeners: Object.keys(config.listeners),
        warnings: config.warnings.map(problemJson),
        problems: later.map(problemJson),
      });
    } else {
      for (const w of config.warnings) out.error(`kunai: warning: ${formatProblem(w)}`);
      for (const p of later) out.error(`kunai: ${formatProblem(p)}`);
      const objs = Object.entries(counts).map(([k, n]) => `${n} ${k}(s)`).join(", ") || "no objects";
      const listeners = Object.keys(config.listeners).join(", ") || "none";
      if (later.length) out.error(`kunai: ${later.length} problem(s) a start would only meet later`);
      else {
        out.line(
          `configuration OK: ${config.files.length} file(s) from ${config.cfgDir}; ${objs}; listeners: ${listeners}`,
        );
      }
    }
    return later.length ? 2 : 0;
  },
};

/** Parameters whose value is a secret: shown as `(set)`. */
const SECRET = /(^|_)(key|keys|token|password|secret)s?$/;

function mask(k: string, v: unknown): unknown {
  if (SECRET.test(k)) {
    if (Array.isArray(v)) return v.map((x) => (x ? "(set)" : x));
    return typeof v === "string" && v ? "(set)" : v;
  }
  if (v && typeof v === "object" && !Array.isArray(v)) {
    return Object.fromEntries(Object.entries(v).map(([kk, vv]) => [kk, mask(kk, vv)]));
  }
  return v;
}

const show: CommandSpec = {
  name: "show",
  description:
    "print the effective agent parameters and where each comes from (secrets masked), without an agent",
  options: DIRS,
  async run({ out, options, configFile }) {
    const config = await load(out, options, configFile);
    if (!config) return 2;
    if (!isDirectory(config.cfgDir)) {
      // the default directory (an explicit one that is missing is refused while reading): say so,
      // on stderr, or the defaults below read as what some configuration says
      out.error(`kunai: ${config.cfgDir} does not exist: these are the built-in defaults (give --cfg-dir)`);
    }
    const src = config.paramSource ?? {};
    const params = config.params as unknown as Record<string, unknown>;
    const keys = Object.keys(params).sort();
    if (options.json) {
      out.json(
        Object.fromEntries(keys.map((k) => [k, { value: mask(k, params[k]), from: src[k] ?? "default" }])),
      );
      return 0;
    }
    out.title("Agent parameters");
    for (const k of keys) {
      const v = JSON.stringify(mask(k, params[k]));
      out.line(
        `  ${k.padEnd(24)} ${v.length > 90 ? v.slice(0, 90) + "…" : v}  ${
          out.paint(src[k] ?? "default", "grey")
        }`,
      );
    }
    const ring = savedKeyCount(join(String(params.data), "keyring.json"));
    if (ring !== null) {
      out.line(
        `  note: ${join(String(params.data), "keyring.json")} holds ${ring} key(s) from runtime rotations ` +
          "(kunai keys ...) and wins over encryption_key(s) at start",
      );
    }
    return 0;
  },
};

/** How many keys a saved keyring file holds, or null when there is none (or none readable). */
function savedKeyCount(file: string): number | null {
  try {
    const keys = JSON.parse(Deno.readTextFileSync(file))?.keys;
    return Array.isArray(keys) && keys.length ? keys.length : null;
  } catch {
    return null;
  }
}

export const configCommands: CommandGroup = {
  group: "config",
  description: "the configuration, read offline (no agent needed)",
  commands: [validate, show],
};
