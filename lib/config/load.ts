/**
 * Reads configuration files (JSON and YAML) from the configuration directories, validates every
 * object and merges them into one AgentConfig. Nothing on disk is changed.
 */
import type * as Yaml from "yaml";
import { basename, dirname, extname, join, relative } from "node:path";
import { isPlainObject, type Issue, object } from "./schema.ts";
import { jsonErrorOffset, lineColumn } from "./json_position.ts";
import { closestName } from "./suggest.ts";
import { agentFields } from "./agent_fields.ts";
import { OBJECT_KINDS, type ObjectKind, objectTypes } from "./objects.ts";
import { LISTENER_KINDS, type ListenerKind, listenerTypes } from "./listeners.ts";
import { byKey } from "../order.ts";
import { MAX_JSON_DEPTH, tooDeep } from "../json_depth.ts";

/** One problem in one file; `line`/`column` for syntax errors. */
export interface ConfigProblem {
  file: string;
  path: string;
  message: string;
  line?: number;
  column?: number;
}

/** Thrown when configuration is invalid: lists every problem with file and field path. */
export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join("\n"));
    this.name = "ConfigError";
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line !== undefined
    ? `${p.file}:${p.line}${p.column !== undefined ? `:${p.column}` : ""}`
    : p.file;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

/** A typed object loaded from a file: its id, where it came from, and its validated fields. */
export interface LoadedObject {
  id: string;
  file: string;
  /** Directory whose walk found the file (object ids are relative to it). */
  root: string;
  value: Record<string, unknown>;
}

export interface RawConfig {
  /** Agent parameters as written (merged, later files win per top-level key). */
  params: Record<string, unknown>;
  /** Where each agent parameter came from (for error messages). */
  paramSource: Record<string, string>;
  objects: Record<ObjectKind, Record<string, LoadedObject>>;
  listeners: Partial<Record<ListenerKind, Record<string, unknown>>>;
  /** Free configuration data (`{configuration.x.y}`, `$x.y$`). */
  data: Record<string, unknown>;
  files: string[];
  /** Doubtful but accepted entries (an object field close to a known one, kept as data). */
  warnings: ConfigProblem[];
}

const CONFIG_EXT = new Set([".json", ".yml", ".yaml"]);

/**
 * The `yaml` package, imported on first need: ~1.7 MB of V8 heap and 0.5 MB of malloc in every
 * agent otherwise, where most configurations are JSON only. Reading is synchronous, so a read that
 * meets a YAML file before `loadYaml()` throws YamlNotLoaded and its caller loads the parser and
 * reads again (`resolveConfigAsync`): reading changes nothing, so the second read is the same one.
 */
let yaml: typeof Yaml | null = null;

/** A YAML file was met before the parser was loaded (not a configuration problem). */
export class YamlNotLoaded extends Error {
  constructor(readonly file: string) {
    super(`${file}: the YAML parser is not loaded yet (await loadYaml() first)`);
    this.name = "YamlNotLoaded";
  }
}

/** Imports the YAML parser (once). */
export async function loadYaml(): Promise<void> {
  yaml ??= await import("yaml");
}

/** True once loadYaml() has run in this isolate. */
export function yamlLoaded(): boolean {
  return yaml !== null;
}

/** Parses one file's text; syntax errors carry line and column. */
export function parseConfigText(file: string, text: string): Record<string, unknown> {
  const ext = extname(file).toLowerCase();
  let value: unknown;
  if (ext === ".json") {
    try {
      value = JSON.parse(text);
    } catch (err) {
      const off = jsonErrorOffset(text);
      const lc = off >= 0 ? lineColumn(text, off) : {};
      const near = off >= 0
        ? (off >= text.length ? "unexpected end of file" : `unexpected ${JSON.stringify(text[off])}`)
        : (err as Error).message;
      throw new ConfigError([{ file, path: "", message: `invalid JSON: ${near}`, ...lc }]);
    }
  } else {
    if (yaml === null) throw new YamlNotLoaded(file);
    try {
      value = yaml.parse(text, { prettyErrors: false, uniqueKeys: true });
    } catch (err) {
      if (err instanceof yaml.YAMLParseError) {
        const lc = err.pos ? lineColumn(text, err.pos[0]) : {};
        const first = err.message.split("\n")[0];
        throw new ConfigError([{ file, path: "", message: `invalid YAML: ${first}`, ...lc }]);
      }
      throw new ConfigError([{ file, path: "", message: `invalid YAML: ${(err as Error).message}` }]);
    }
    if (value === null || value === undefined) value = {};
  }
  if (!isPlainObject(value)) {
    throw new ConfigError([{ file, path: "", message: "the file must hold one object (a mapping of keys)" }]);
  }
  const deep = tooDeep(value);
  if (deep !== null) {
    throw new ConfigError([{ file, path: deep, message: `nested deeper than ${MAX_JSON_DEPTH} levels` }]);
  }
  return value;
}

/**
 * Every config file below `dir`, sorted, `local.json` of the first directory first. The original's
 * Python plug-ins met on the way (`collectors/collector_*.py` of a pack, `module.py`) go to `python`:
 * kunai runs neither, and says so rather than dropping them without a word.
 */
export function listConfigFiles(dir: string, python: string[] = []): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw err;
    }
    entries.sort(byKey((e) => e.name));
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory) {
        // template and plugin folders hold no configuration
        if (e.name === "templates" || e.name === "libexec" || e.name.startsWith(".")) continue;
        walk(p);
      } else if ((e.isFile || e.isSymlink) && CONFIG_EXT.has(extname(e.name).toLowerCase())) {
        if (e.name === "package.json") continue; // pack metadata, not configuration
        out.push(p);
      } else if (e.isFile || e.isSymlink) {
        if (e.name === "module.py" || (/^collector_.*\.py$/.test(e.name) && basename(d) === "collectors")) {
          python.push(p);
        }
      }
    }
  };
  walk(dir);
  const local = join(dir, "local.json");
  const i = out.indexOf(local);
  if (i > 0) out.unshift(...out.splice(i, 1));
  return out;
}

/**
 * `files` of `dir` with the given texts' files of that directory that are not there yet: a new
 * `local.json` first, as listConfigFiles puts it, any other after the rest.
 */
function withTexts(dir: string, files: string[], texts: Record<string, string>): string[] {
  const extra = Object.keys(texts).filter((f) => dirname(f) === dir && !files.includes(f));
  if (!extra.length) return files;
  const local = join(dir, "local.json");
  return [...extra.filter((f) => f === local), ...files, ...extra.filter((f) => f !== local)];
}

function objectId(root: string, file: string): string {
  const rel = relative(root, file);
  return rel.slice(0, rel.length - extname(rel).length);
}

/**
 * Loads and validates all files of the given directories in order. `texts` (absolute path -> text)
 * are read in place of those files, and added where they would be listed if they do not exist yet.
 * Throws ConfigError listing every problem found (all files are read before giving up).
 */
export function loadConfigDirs(
  dirs: string[],
  inline: Array<{ name: string; value: Record<string, unknown> }> = [],
  texts: Record<string, string> = {},
): RawConfig {
  const raw: RawConfig = {
    params: {},
    paramSource: {},
    objects: Object.fromEntries(OBJECT_KINDS.map((k) => [k, {}])) as RawConfig["objects"],
    listeners: {},
    data: {},
    files: [],
    warnings: [],
  };
  const problems: ConfigProblem[] = [];
  const docs: Array<{ file: string; root: string; value: Record<string, unknown> }> = [];
  const python: string[] = [];
  for (const dir of dirs) {
    for (const file of withTexts(dir, listConfigFiles(dir, python), texts)) {
      let text: string;
      try {
        text = texts[file] ?? Deno.readTextFileSync(file);
      } catch (err) {
        problems.push({ file, path: "", message: `cannot read: ${(err as Error).message}` });
        continue;
      }
      try {
        docs.push({ file, root: dir, value: parseConfigText(file, text) });
        raw.files.push(file);
      } catch (err) {
        if (err instanceof ConfigError) problems.push(...err.problems);
        else throw err;
      }
    }
  }
  raw.warnings.push(...pythonPluginWarnings(python));
  for (const d of inline) docs.push({ file: d.name, root: "", value: d.value });
  for (const doc of docs) applyDocument(raw, doc, problems, raw.warnings);
  if (problems.length) throw new ConfigError(problems);
  return raw;
}

/**
 * What the original's Python plug-ins become here: nothing, said once per folder (a copy of the
 * original's packs holds a score of collectors) with what to do instead.
 */
function pythonPluginWarnings(files: string[]): ConfigProblem[] {
  const byDir = new Map<string, string[]>();
  const out: ConfigProblem[] = [];
  for (const f of files) {
    if (basename(f) === "module.py") {
      out.push({
        file: f,
        path: "",
        message:
          "the original's Python hook module is not imported: kunai runs no Python code in the agent (ignored)",
      });
    } else byDir.set(dirname(f), [...byDir.get(dirname(f)) ?? [], basename(f)]);
  }
  for (const [dir, names] of byDir) {
    const shown = names.length > 4 ? `${names.slice(0, 4).join(", ")}, ...` : names.join(", ");
    out.push({
      file: dir,
      path: "",
      message:
        `${names.length} Python collector(s) of the original (${shown}) do not run in kunai (ignored): ` +
        "its own collectors take the place of the original's (kunai collectors list); for your own values, " +
        "run the code as a check's script (a Nagios plugin: its perfdata become metrics) or send them to " +
        "statsd or Graphite",
    });
  }
  return out;
}

const agentKeys = new Set(Object.keys(agentFields));
/** Every top-level key with a meaning: a key one or two edits away is a typo, not free data. */
const TOP_LEVEL_KEYS = [...agentKeys, ...OBJECT_KINDS, ...LISTENER_KINDS];

/** Fields of objects that keep unknown keys as lookup data: a near miss is worth a warning. */
const KEEPING_KINDS: Partial<Record<ObjectKind, string[]>> = {
  check: Object.keys(objectTypes.check.fields),
  service: Object.keys(objectTypes.service.fields),
};

function applyDocument(
  raw: RawConfig,
  doc: { file: string; root: string; value: Record<string, unknown> },
  problems: ConfigProblem[],
  warnings: ConfigProblem[],
): void {
  const { file, root, value } = doc;
  for (const [key, v] of Object.entries(value)) {
    const issues: Issue[] = [];
    if (agentKeys.has(key)) {
      const probe = object({ [key]: agentFields[key] }).parse({ [key]: v }, "", issues);
      if (probe) {
        raw.params[key] = v;
        raw.paramSource[key] = file;
      }
    } else if ((OBJECT_KINDS as string[]).includes(key)) {
      const kind = key as ObjectKind;
      const parsed = objectTypes[kind].parse(v, key, issues) as Record<string, unknown> | undefined;
      if (parsed) {
        let id = objectId(root || ".", file);
        if (kind === "service" && typeof parsed.name === "string") id = parsed.name;
        if (kind === "service" && root === "") id = String(parsed.name ?? basename(file));
        raw.objects[kind][id] = { id, file, root, value: parsed };
        for (const f of Object.keys(parsed)) {
          const known = KEEPING_KINDS[kind];
          if (!known || known.includes(f)) continue;
          const near = closestName(f, known);
          if (near) {
            warnings.push({
              file,
              path: `${key}.${f}`,
              message: `unknown field, kept as data: did you mean ${near}?`,
            });
          }
        }
      }
    } else if ((LISTENER_KINDS as string[]).includes(key)) {
      const kind = key as ListenerKind;
      const parsed = listenerTypes[kind].parse(v, key, issues) as Record<string, unknown> | undefined;
      if (parsed) raw.listeners[kind] = parsed;
    } else {
      const near = closestName(key, TOP_LEVEL_KEYS);
      if (near) {
        issues.push({
          path: key,
          message: `unknown parameter: did you mean ${near}? (free data keys must not look like a parameter)`,
        });
      } else raw.data[key] = v;
    }
    for (const i of issues) problems.push({ file, path: i.path, message: i.message });
  }
}
