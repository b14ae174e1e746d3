/**
 * Jinja2's macros and call blocks: they read the names of the scope they are written in (closures),
 * get `varargs`/`kwargs`, and refuse extra arguments their body does not take (installed by
 * installStatements).
 */
import { pyNamed, tuple } from "./pyvalues.ts";
import { jsString } from "./codegen.ts";
import { strRepr } from "../evaluator/mod.ts";
import { type Compiler, type Frame, type Hooks, lookupOf, type Node } from "./statements_scope.ts";

/** What a macro call passed beyond its parameters, for the macro's `varargs` and `kwargs`. */
interface MacroExtras {
  varargs: unknown[];
  kwargs: Record<string, unknown>;
}
let macroExtras: MacroExtras | null = null;

type MakeMacro = (
  argNames: string[],
  kwargNames: string[],
  func: (...a: unknown[]) => unknown,
) => (...a: unknown[]) => unknown;

/**
 * nunjucks' makeMacro plus Jinja2's `varargs` (a tuple of the extra positional arguments) and
 * `kwargs` (a dict of the extra keyword ones), which nunjucks dropped. A macro whose body uses
 * neither refuses extra arguments, as Jinja2's does (nunjucks ignored them). Each call records the
 * extras just before the macro's body takes them (rendering is synchronous).
 */
function jinjaMacro(makeMacro: MakeMacro) {
  return (
    name: string,
    argNames: string[],
    kwargNames: string[],
    catches: { varargs: boolean; kwargs: boolean },
    func: (...a: unknown[]) => unknown,
  ) => {
    const macro = makeMacro(argNames, kwargNames, func);
    const declared = argNames.length + kwargNames.length;
    return pyNamed(function (this: unknown, ...args: unknown[]) {
      const last = args[args.length - 1] as Record<string, unknown> | undefined;
      const keywords = last !== null && typeof last === "object" && Object.hasOwn(last, "__keywords");
      const positional = keywords ? args.length - 1 : args.length;
      const named: Record<string, unknown> = {};
      if (keywords) {
        for (const [k, v] of Object.entries(last!)) {
          if (k !== "__keywords" && k !== "caller" && !argNames.includes(k) && !kwargNames.includes(k)) {
            named[k] = v;
          }
        }
      }
      const extra = Object.keys(named);
      if (extra.length && !catches.kwargs) {
        throw new Error(`TypeError: macro '${name}' takes no keyword argument '${extra[0]}'`);
      }
      if (positional > declared && !catches.varargs) {
        throw new Error(`TypeError: macro '${name}' takes not more than ${declared} argument(s)`);
      }
      macroExtras = { varargs: tuple(args.slice(declared, positional)), kwargs: named };
      return macro.apply(this, args);
    }, `<Macro ${name === "caller" ? "anonymous" : strRepr(name)}>`); // a call block's body has no name
  };
}

/** Whether a macro's body reads `name` (a Symbol anywhere in it, nested macros and call blocks included). */
function reads(node: unknown, name: string, depth = 0): boolean {
  if (!node || typeof node !== "object" || depth > 200) return false;
  const n = node as Node & { fields?: string[] } & Record<string, unknown>;
  if (n.typename === "Symbol") return n.value === name;
  if (Array.isArray(n.children) && n.children.some((c) => reads(c, name, depth + 1))) return true;
  return (n.fields ?? []).some((f) => f !== "children" && reads(n[f], name, depth + 1));
}

interface MacroNode extends Node {
  name: Node;
  args: Node;
  body: Node;
}

/**
 * A macro (or a call block's `caller`) as a function of its arguments whose body reads names in the
 * scope it is written in (Jinja2's closures; nunjucks gave a macro an empty scope, and a call
 * block's body the scope of the macro calling it), with `varargs` and `kwargs`.
 */
function compileMacro(
  this: Compiler,
  node: MacroNode,
  frame: Frame | null,
  FrameClass: new () => Frame,
): string {
  const children = node.args.children ?? [];
  const last = children[children.length - 1];
  const kwargs = last?.typename === "KeywordArgs" || last?.typename === "Dict" ? last : null;
  const args = kwargs ? children.slice(0, -1) : children;
  for (const a of args) {
    if (a.typename !== "Symbol") this.fail("macro: an argument must be a name", a.lineno, a.colno);
  }
  const pairs = (kwargs?.children ?? []) as Array<Node & { key: Node; value: Node }>;
  const id = "macro_" + this._tmpid();
  const lexical = this._tmpid();
  const scope = frame ? frame.push(true) : new FrameClass();
  this._emitLine(`var ${lexical} = frame;`);
  const name = node.typename === "Caller" ? "caller" : node.name.value!;
  const catches = { varargs: reads(node.body, "varargs"), kwargs: reads(node.body, "kwargs") };
  this._emitLine(
    `var ${id} = runtime.jinjaMacro(${JSON.stringify(name)}, ` +
      `[${args.map((a) => JSON.stringify(a.value)).join(", ")}], ` +
      `[${pairs.map((p) => JSON.stringify(p.key.value)).join(", ")}], ${JSON.stringify(catches)}, ` +
      `function (${[...args.map((a) => "l_" + a.value), "kwargs"].join(", ")}) {`,
  );
  // an error in the body names this template and the line in it, not the caller's (an imported macro's
  // was reported at the line of its call, in the importing template); the caller's line is back after it
  this._emitLine("var callerLine = lineno, callerCol = colno;");
  this._emitLine(`lineno = ${node.lineno}; colno = ${node.colno};`);
  this._emitLine("try {");
  this._emitLine("var callerFrame = frame;");
  this._emitLine(`frame = ${lexical}.push(true);`);
  this._emitLine("kwargs = kwargs || {};");
  this._emitLine(
    'if (Object.prototype.hasOwnProperty.call(kwargs, "caller")) { frame.set("caller", kwargs.caller); }',
  );
  this._emitLine("var extras = runtime.jinjaMacroExtras();");
  this._emitLine('frame.set("varargs", extras.varargs);\nframe.set("kwargs", extras.kwargs);');
  for (const a of args) {
    this._emitLine(`frame.set(${JSON.stringify(a.value)}, l_${a.value});`);
    scope.set(a.value!, "l_" + a.value);
  }
  // a default is computed when the call does not give the argument, in the macro's scope (b=a)
  for (const p of pairs) {
    const name = JSON.stringify(p.key.value);
    this._emit(
      `frame.set(${name}, Object.prototype.hasOwnProperty.call(kwargs, ${name}) ? kwargs[${name}] : `,
    );
    this._compileExpression(p.value, scope);
    this._emitLine(");");
    scope.set(p.key.value!, lookupOf(p.key.value!));
  }
  const buffer = this._pushBuffer();
  this._emitLine("");
  this._withScopedSyntax(() => this.compile(node.body, scope));
  this._emitLine("frame = callerFrame;");
  this._emitLine("lineno = callerLine; colno = callerCol;");
  // a plain str, as Jinja2's macros return one without autoescape: `m()|e` escapes it (nunjucks marked it
  // safe, and escape left it as it was)
  this._emitLine(`return ${buffer};`);
  this._emitLine(
    `} catch (e) { throw runtime.jinjaWhere(e, lineno, colno, ${jsString(this.templateName ?? "")}); }`,
  );
  this._emitLine("});");
  this._popBuffer();
  return id;
}

/** Installs macros and call blocks: their runtime helpers and compiler. */
export function installMacros(h: Hooks): void {
  const { runtime, compiler } = h;
  runtime.jinjaMacro = jinjaMacro(runtime.makeMacro as MakeMacro);
  runtime.jinjaMacroExtras = (): MacroExtras => {
    const extras = macroExtras ?? { varargs: tuple([]), kwargs: {} };
    macroExtras = null;
    return extras;
  };
  const Frame = runtime.Frame as new () => Frame;
  compiler._compileMacro = function (this: Compiler, node: MacroNode, frame?: Frame) {
    return compileMacro.call(this, node, frame ?? null, Frame);
  };
  // nunjucks compiled a macro defined in a loop, a `with` or another macro without its scope
  // (`{% for n in nodes %}{% macro m() %}{{ n }}...` printed nothing)
  compiler.compileMacro = function (this: Compiler, node: MacroNode, frame: Frame) {
    const id = compileMacro.call(this, node, frame, Frame);
    const name = node.name.value!;
    frame.set(name, id);
    if (frame.parent) this._emitLine(`frame.set(${JSON.stringify(name)}, ${id});`);
    else {
      if (!name.startsWith("_")) this._emitLine(`context.addExport(${JSON.stringify(name)});`);
      this._emitLine(`context.setVariable(${JSON.stringify(name)}, ${id});`);
    }
  };
}
