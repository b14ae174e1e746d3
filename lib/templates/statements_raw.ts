/**
 * Jinja2's `{% raw %}...{% endraw %}` as its lexer reads it: trim_blocks does not apply after
 * `{% raw %}`, lstrip_blocks and `-` do before `{% endraw %}`, trim_blocks after it; raw blocks do
 * not nest (installed by installStatements).
 */
import type { Hooks, Node, NodeCtor, Parser } from "./statements_scope.ts";

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * `{% raw %}...{% endraw %}` read from the source as Jinja2's lexer does: nothing after the opening
 * tag is trimmed but for `-%}`; before `{% endraw %}` a `-` strips the whitespace and lstrip_blocks
 * the indentation of its line; after it trim_blocks drops one newline. nunjucks trimmed after the
 * opening tag, kept what came before and after the closing one, and refused `{%- endraw -%}`.
 */
function parseRaw(this: Parser, nodes: Record<string, NodeCtor>, tagName = "raw"): Node {
  const begin = this.nextToken(); // the tag's name
  const t = this.tokens;
  const start = escapeRe(t.tags.BLOCK_START), end = escapeRe(t.tags.BLOCK_END);
  const open = new RegExp(`\\s*(?:-${end}\\s*|${end})`, "y");
  open.lastIndex = t.index;
  const o = open.exec(t.str);
  if (!o) this.fail(`expected the end of the ${tagName} tag`, begin.lineno, begin.colno);
  const close = new RegExp(
    `([\\s\\S]*?)${start}([-+]?)\\s*end${tagName}\\s*(\\+${end}|-${end}\\s*|${end}${
      t.trimBlocks ? "(?:\\r\\n|\\n|\\r)?" : ""
    })`,
    "y",
  );
  close.lastIndex = t.index + o![0].length;
  const m = close.exec(t.str);
  if (!m) this.fail(`missing end of ${tagName} block (end${tagName})`, begin.lineno, begin.colno);
  let text = m![1];
  if (m![2] === "-") text = text.trimEnd();
  else if (m![2] !== "+" && t.lstripBlocks) {
    const nl = text.lastIndexOf("\n") + 1;
    if (nl > 0 && /^[ \t\f\v]+$/.test(text.slice(nl))) text = text.slice(0, nl);
  }
  const to = close.lastIndex;
  while (t.index < to) t.forward();
  t.in_code = false;
  this.dropLeadingWhitespace = false;
  return new nodes.Output(begin.lineno, begin.colno, [
    new nodes.TemplateData(begin.lineno, begin.colno, text),
  ]);
}

/** Installs `raw` into nunjucks' parser. */
export function installRaw(h: Hooks): void {
  const { nodes } = h;
  const proto = h.parser;
  proto.parseRaw = function (this: Parser, tagName?: string) {
    return parseRaw.call(this, nodes, tagName);
  };
}
