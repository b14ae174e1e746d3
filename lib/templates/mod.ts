/**
 * Jinja2-syntax templates for mail handlers and generators, rendered by nunjucks (DECISIONS.md:
 * Templates) with autoescape off and the Jinja2 filters nunjucks lacks (`format`, `tojson`,
 * `items`, `map`, `unique`, `min`, `max`, `d`) plus Jinja's `dict.items()`/list slicing.
 *
 * Templates are looked up in an ordered list of directories (e.g. `<cfg-dir>/templates/`, then the
 * shipped `templates/` folder embedded in the binary); a name can never escape its directory.
 *
 * ```ts
 * await loadTemplateEngine();
 * const t = new Templates({ dirs: [join(cfgDir, "templates"), SHIPPED_TEMPLATES] });
 * t.render("email.subject.tpl", { check: { name: "cpu", state: "critical" } });
 * ```
 */
import type nunjucks from "nunjucks";
import { isAbsolute, join, resolve, sep } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { projectRoot } from "../root.ts";
import { formatPercent } from "../evaluator/mod.ts";
import { percentStr } from "./pyoperators.ts";
import { filterNames, installFilters } from "./filters.ts";
import { installJinjaSemantics } from "./jinja.ts";
import { beginRender, DEFAULT_RENDER_BUDGET, type RenderBudget } from "./statements_for.ts";

export { DEFAULT_RENDER_BUDGET, type RenderBudget };

let engine: typeof nunjucks | null = null;
let loading: Promise<void> | null = null;

/**
 * Loads nunjucks, once per process: an agent without mail handlers or generators never does
 * (its modules cost heap in every agent otherwise). Rendering stays synchronous once loaded.
 */
export function loadTemplateEngine(): Promise<void> {
  return loading ??= import("nunjucks").then((m) => {
    // Jinja2's `d.items()`, `d.keys()`, `l[1:]`...: patches nunjucks' member lookup once per process.
    m.default.installJinjaCompat();
    // and Jinja2's truthiness, output of None/True/lists/dicts and string methods (jinja.ts)
    installJinjaSemantics(m.default);
    engine = m.default;
  }, (err) => {
    loading = null;
    throw err;
  });
}

/** True once loadTemplateEngine() has finished. */
export function templateEngineLoaded(): boolean {
  return engine !== null;
}

/** The `templates/` folder shipped with kunai (embedded by `deno compile --include templates`). */
export const SHIPPED_TEMPLATES: string = resolve(fromFileUrl(new URL("templates", projectRoot())));

/** A template that cannot be found, read or rendered: names the template and, when known, its file. */
export class TemplateError extends Error {
  constructor(readonly template: string, message: string, readonly file?: string) {
    super(`template ${template}${file ? ` (${file})` : ""}: ${message}`);
    this.name = "TemplateError";
  }
}

export interface TemplatesOptions {
  /** Directories searched in order; the first holding the name wins. */
  dirs: string[];
  /** Jinja2 `trim_blocks` + `lstrip_blocks` (generators use them, mail does not). */
  trimBlocks?: boolean;
  /**
   * Jinja2 `keep_trailing_newline` (generators set it, as the reference's did); without it, as in
   * Jinja2 by default (mail), one newline at the very end of the template is not output.
   */
  keepTrailingNewline?: boolean;
  /** Loop iterations and time one render may take (DEFAULT_RENDER_BUDGET: 1 000 000, 2 s). */
  budget?: RenderBudget;
}

/** Where a template name resolves to. */
export interface ResolvedTemplate {
  path: string;
  dir: string;
}

/** Finds `name` in `dirs` without letting it escape its directory; null when absent. */
export function resolveTemplate(name: string, dirs: string[]): ResolvedTemplate | null {
  if (!name || isAbsolute(name) || name.includes("\0")) return null;
  for (const d of dirs) {
    const dir = resolve(d);
    const path = resolve(dir, name);
    if (!path.startsWith(dir + sep)) continue;
    try {
      if (Deno.statSync(path).isFile) return { path, dir };
    } catch { /* not in this directory: try the next */ }
  }
  return null;
}

/** A template environment over a search path. Rendering is synchronous (after loadTemplateEngine()). */
export class Templates {
  readonly dirs: string[];
  #trimBlocks: boolean;
  #keepNewline: boolean;
  #env: nunjucks.Environment | null = null;
  #budget: RenderBudget;

  constructor(opts: TemplatesOptions) {
    this.dirs = opts.dirs;
    this.#budget = opts.budget ?? DEFAULT_RENDER_BUDGET;
    this.#trimBlocks = opts.trimBlocks ?? false;
    this.#keepNewline = opts.keepTrailingNewline ?? false;
  }

  /**
   * The source as Jinja2's lexer takes it: every line break (`\r\n`, `\r`) a `\n`, as Jinja2's
   * `newline_sequence` writes them, and one trailing newline dropped unless kept.
   */
  #source(src: string): string {
    const text = src.replace(/\r\n?/g, "\n");
    return this.#keepNewline ? text : text.replace(/\n$/, "");
  }

  #environment(label: string): nunjucks.Environment {
    if (this.#env) return this.#env;
    if (!engine) throw new TemplateError(label, "the template engine is not loaded (loadTemplateEngine)");
    const dirs = this.dirs;
    const source = (src: string) => this.#source(src);
    const loader = {
      getSource(name: string) {
        const found = resolveTemplate(name, dirs);
        // nunjucks says "template not found", or renders nothing for `include ... ignore missing`
        if (!found) return null;
        return { src: source(Deno.readTextFileSync(found.path)), path: found.path, noCache: true };
      },
    };
    this.#env = new engine.Environment(loader as unknown as nunjucks.ILoader, {
      autoescape: false,
      trimBlocks: this.#trimBlocks,
      lstripBlocks: this.#trimBlocks,
      throwOnUndefined: false,
    });
    // `'%s'|format(x)` prints a float as Python 3 does, as `'%s' % x` (pyoperators.ts)
    installFilters(this.#env, (fmt, args) => formatPercent(fmt, args, percentStr));
    // the names jinja_names.ts checks a template's filters and tests against when compiling it
    (this.#env as unknown as { opts: Record<string, unknown> }).opts.jinjaNames = filterNames(this.#env);
    return this.#env;
  }

  /** Where `name` would be read from, or null. */
  find(name: string): ResolvedTemplate | null {
    return resolveTemplate(name, this.dirs);
  }

  /** Renders the named template; throws TemplateError (missing file, syntax or render error). */
  render(name: string, vars: Record<string, unknown>): string {
    const found = this.find(name);
    if (!found) throw new TemplateError(name, `not found in ${this.dirs.join(", ")}`);
    const env = this.#environment(name);
    beginRender(this.#budget);
    try {
      return env.render(name, vars);
    } catch (err) {
      throw new TemplateError(name, cleanMessage(err, found.path), found.path);
    }
  }

  /** Renders template text given inline (`label` names it in errors). */
  renderString(src: string, vars: Record<string, unknown>, label = "inline"): string {
    const env = this.#environment(label);
    beginRender(this.#budget);
    try {
      return env.renderString(this.#source(src), vars);
    } catch (err) {
      throw new TemplateError(label, cleanMessage(err));
    }
  }
}

/**
 * nunjucks wraps a message in `(path) [Line l, Column c]` once per template it passes through (an
 * include's inside its includer's) and prefixes the cause's class; keep one readable line: where
 * (`line 2, column 4`, `in <other file>` for an included one) and what.
 */
export function cleanMessage(err: unknown, ownPath?: string): string {
  let rest = err instanceof Error ? err.message : String(err);
  let path: string | undefined;
  let line: string | undefined;
  let col: string | undefined;
  const head =
    /^\s*(?:Template render error:\s*)?\((.*?)\)(?: \[Line (\d+)(?:, Column (\d+))?\])?(?=\s|$)\s*/;
  for (let m = head.exec(rest); m; m = head.exec(rest)) {
    path = m[1];
    if (m[2]) [line, col] = [m[2], m[3]];
    rest = rest.slice(m[0].length);
  }
  const what = rest.replace(/^Error: /, "").replace(/\s*\n\s*/g, " ").trim();
  const where = [
    path && path !== ownPath && path !== "unknown path" ? `in ${path}` : "",
    line ? `line ${line}${col ? `, column ${col}` : ""}` : "",
  ].filter((x) => x).join(" ");
  return where ? `${where}: ${what}` : what;
}

/** Default search path: `<cfg-dir>/templates/` then the shipped templates. */
export function defaultTemplateDirs(cfgDir: string): string[] {
  return [join(cfgDir, "templates"), SHIPPED_TEMPLATES];
}
