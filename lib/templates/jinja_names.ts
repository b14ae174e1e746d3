/**
 * A filter or test that does not exist is refused when the template is compiled, as Jinja2 does
 * (`TemplateAssertionError: No filter named 'uper'`), not when the render reaches it: a generator's
 * typo in a loop that rarely runs broke the file on the day it ran. As in Jinja2, inside an `if`
 * (its condition and branches) or an inline `x if c else y` the name is checked when it runs
 * (`TemplateRuntimeError`), unless a loop, macro, call block, `with` or `set`/`filter` block in
 * between starts a new scope. Installed last by installJinjaSemantics; the environment's names are
 * given in its options (`jinjaNames`, set by lib/templates/mod.ts).
 */
import type nunjucks from "nunjucks";

/** The filters and tests a template may name (the environment's own). */
export interface JinjaNames {
  filters: ReadonlySet<string>;
  tests: ReadonlySet<string>;
}

interface NameCompiler {
  compile(node: unknown, frame: unknown): void;
  compileFilter(node: unknown, frame: unknown): void;
  compileIs(node: unknown, frame: unknown): void;
  fail(msg: string, lineno?: number, colno?: number): never;
  /** Inside an `if` or inline if: unknown names are checked at run time. */
  jinjaSoft?: boolean;
}

interface NameNode {
  typename: string;
  value?: string;
  lineno: number;
  colno: number;
  name?: NameNode;
  right?: NameNode;
}

/** Nodes whose parts Jinja2 compiles in a "soft" frame. */
const SOFT = new Set(["If", "IfAsync", "InlineIf"]);
/** Nodes whose bodies Jinja2 compiles in a frame of their own (not soft). */
const SCOPES = new Set(["JinjaFor", "For", "Macro", "Caller", "With", "Capture"]);

/** The names of the template being compiled (from its environment's options), null otherwise. */
let compiling: JinjaNames | null = null;

export function installNameChecks(nj: typeof nunjucks): void {
  const api = nj as unknown as {
    compiler: {
      compile(
        src: string,
        asyncFilters: unknown,
        ext: unknown,
        name: string,
        opts?: { jinjaNames?: JinjaNames },
      ): string;
      Compiler: { prototype: NameCompiler };
    };
  };
  const compile = api.compiler.compile;
  api.compiler.compile = function (src, asyncFilters, ext, name, opts) {
    const outer = compiling;
    compiling = opts?.jinjaNames ?? null;
    try {
      return compile.call(this, src, asyncFilters, ext, name, opts);
    } finally {
      compiling = outer;
    }
  };
  const proto = api.compiler.Compiler.prototype;
  const compileNode = proto.compile;
  proto.compile = function (node, frame) {
    const typename = (node as NameNode | null)?.typename ?? "";
    const soft = SOFT.has(typename) ? true : SCOPES.has(typename) ? false : null;
    if (soft === null) return compileNode.call(this, node, frame);
    const outer = this.jinjaSoft;
    this.jinjaSoft = soft;
    try {
      compileNode.call(this, node, frame);
    } finally {
      this.jinjaSoft = outer;
    }
  };
  const check = (self: NameCompiler, kind: "filter" | "test", name: NameNode | undefined) => {
    if (!compiling || self.jinjaSoft || name?.typename !== "Symbol" || name.value === undefined) return;
    const known = kind === "filter" ? compiling.filters : compiling.tests;
    if (!known.has(name.value)) {
      self.fail(`TemplateAssertionError: no ${kind} named '${name.value}'`, name.lineno, name.colno);
    }
  };
  const compileFilter = proto.compileFilter;
  proto.compileFilter = function (node, frame) {
    check(this, "filter", (node as NameNode).name);
    compileFilter.call(this, node, frame);
  };
  const compileIs = proto.compileIs;
  proto.compileIs = function (node, frame) {
    const right = (node as NameNode).right;
    check(this, "test", right?.typename === "FunCall" ? right.name : right);
    compileIs.call(this, node, frame);
  };
}
