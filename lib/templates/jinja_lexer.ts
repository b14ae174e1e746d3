/**
 * nunjucks' lexer patched with Jinja2's syntax (installed by installJinjaSemantics, right after the
 * runtime): number literals with an exponent (`1e3`, `2E-2`), `r / 2` as a division (not a regular expression), `item.0` (an index
 * after a dot), string literals with Python's escapes, the `+` whitespace markers (`{%+`, `+%}`)
 * and trim_blocks/lstrip_blocks applied to comments.
 */
import type nunjucks from "nunjucks";
import type { Token } from "./nodes.ts";

interface TokenizerState {
  str: string;
  index: number;
  lineno: number;
  colno: number;
  in_code: boolean;
  forward(): void;
  nextToken(): Token | null;
  /** The last token other than whitespace (`item.0` below). */
  jinjaLast?: string;
  /** Brackets open in the current tag (closingInBrackets). */
  jinjaDepth?: number;
  trimBlocks: boolean;
  lstripBlocks: boolean;
  tags: {
    COMMENT_START: string;
    COMMENT_END: string;
    BLOCK_START: string;
    BLOCK_END: string;
    VARIABLE_START: string;
    VARIABLE_END: string;
  };
  isFinished(): boolean;
  current(): string;
  _parseString(delimiter: string): string;
}

/**
 * Jinja2's trim_blocks and lstrip_blocks apply to comments too (generators use both): the newline
 * after a `{# ... #}` is dropped, and the spaces before one that starts a line. nunjucks kept both,
 * so a commented template wrote blank lines where Jinja2 wrote none.
 */
function commentTrim(t: TokenizerState, tok: Token): Token | null {
  if (tok.type === "comment" && t.trimBlocks && !tok.value.endsWith("+" + t.tags.COMMENT_END)) {
    if (t.str.startsWith("\r\n", t.index)) {
      t.forward();
      t.forward();
    } else if (t.str[t.index] === "\n") t.forward();
  } else if (
    tok.type === "data" && t.lstripBlocks && t.str.startsWith(t.tags.COMMENT_START, t.index) &&
    !t.str.startsWith(t.tags.COMMENT_START + "+", t.index)
  ) {
    const nl = tok.value.lastIndexOf("\n");
    const last = tok.value.slice(nl + 1);
    if ((nl >= 0 || tok.colno === 0) && /^[ \t]+$/.test(last)) {
      const value = tok.value.slice(0, tok.value.length - last.length);
      return value ? { ...tok, value } : t.nextToken();
    }
  }
  return tok;
}

/** Whether the text from `t.index` ends at a `{%+` or `{#+` tag (lstrip_blocks does not apply to it). */
function plusTagFollows(t: TokenizerState): boolean {
  const { BLOCK_START, VARIABLE_START, COMMENT_START } = t.tags;
  const starts = [BLOCK_START, VARIABLE_START, COMMENT_START];
  if (starts.some((s) => t.str.startsWith(s, t.index))) return false;
  let next = -1;
  for (const s of starts) {
    const i = t.str.indexOf(s, t.index);
    if (i >= 0 && (next < 0 || i < next)) next = i;
  }
  return next >= 0 &&
    (t.str.startsWith(BLOCK_START + "+", next) || t.str.startsWith(COMMENT_START + "+", next));
}

/**
 * Jinja2's `+` whitespace markers: `{%+` keeps the indentation lstrip_blocks would remove before the
 * tag, `+%}` the newline trim_blocks would remove after it (`{#+`, `+#}` for comments; `{{+` is
 * allowed and does nothing). nunjucks read the `+` as an operator: a syntax error.
 */
function plusMarkers(t: TokenizerState, next: () => Token | null): Token | null | undefined {
  const { BLOCK_START, BLOCK_END, VARIABLE_START } = t.tags;
  if (!t.in_code) {
    for (const start of [BLOCK_START, VARIABLE_START]) {
      if (!t.str.startsWith(start + "+", t.index)) continue;
      const tok = next();
      t.forward();
      return tok && { ...tok, value: start + "+" };
    }
    if (!t.lstripBlocks || !plusTagFollows(t)) return undefined;
    t.lstripBlocks = false;
    try {
      return next();
    } finally {
      t.lstripBlocks = true;
    }
  }
  if (!t.str.startsWith("+" + BLOCK_END, t.index)) return undefined;
  t.forward();
  const trim = t.trimBlocks;
  t.trimBlocks = false;
  try {
    const tok = next();
    return tok && { ...tok, value: "+" + tok.value };
  } finally {
    t.trimBlocks = trim;
  }
}

/** `1e3`, `2E-2`, `1.5e+3`: the text of a number literal with an exponent at the start of `s`. */
const EXPONENT_NUMBER = /^\d+(?:\.\d+)?[eE][+-]?\d+/;

const OPENING = new Set(["left-paren", "left-bracket", "left-curly"]);
const CLOSING = new Set(["right-paren", "right-bracket", "right-curly"]);

/**
 * Inside brackets, a tag's end is not one, as in Jinja2's lexer: `{{ {'a': {'b': 1}} }}` closes two dicts
 * before the `}}` that ends the tag (nunjucks ended the tag there: a syntax error). Its first character
 * is the token (a `}`, or the operator `%` or `-`); null when not inside brackets or not at a tag's end.
 */
function closingInBrackets(t: TokenizerState): Token | null {
  if (!t.in_code || !t.jinjaDepth) return null;
  const { BLOCK_END, VARIABLE_END } = t.tags;
  const ends = [BLOCK_END, VARIABLE_END, "-" + BLOCK_END, "-" + VARIABLE_END];
  if (!ends.some((e) => t.str.startsWith(e, t.index))) return null;
  const c = t.str[t.index];
  const tok = c === "}"
    ? { type: "right-curly", value: c, lineno: t.lineno, colno: t.colno }
    : { type: "operator", value: c, lineno: t.lineno, colno: t.colno };
  t.forward();
  if (c === "}") t.jinjaDepth--;
  t.jinjaLast = tok.type === "operator" ? c : tok.type;
  return tok;
}

/**
 * A piece of Jinja2's syntax nunjucks' lexer lacks: number literals with an exponent (it read
 * `1e3` as an undefined name, printing nothing, and `2E-2` as `2E` minus 2: `nan`). And one it has
 * that Jinja2 lacks: `r/.../` is no regular expression, `r / 2` is. (A `for` target in parentheses
 * is the parser's: jinja_tuples.ts.)
 */
export function patchLexer(nj: typeof nunjucks): void {
  const lexer = (nj as unknown as { lexer: { lex(src: string, opts: object): TokenizerState } }).lexer;
  const proto = Object.getPrototypeOf(lexer.lex("", {})) as TokenizerState;
  const next = proto.nextToken;
  proto.nextToken = function (this: TokenizerState): Token | null {
    const start = this.index, lineno = this.lineno, colno = this.colno;
    const code = this.in_code;
    const inBrackets = closingInBrackets(this);
    if (inBrackets) return inBrackets;
    let tok = plusMarkers(this, () => next.call(this));
    if (tok === undefined && code && this.str.startsWith("r/", this.index)) {
      // the name `r` before a division (nunjucks read `r/2/` as a JavaScript regular expression)
      this.forward();
      tok = { type: "symbol", value: "r", lineno, colno };
    }
    if (tok === undefined) tok = next.call(this);
    if (!tok) return tok;
    if (!code) {
      this.jinjaDepth = 0;
      return commentTrim(this, tok);
    }
    if (OPENING.has(tok.type)) this.jinjaDepth = (this.jinjaDepth ?? 0) + 1;
    else if (CLOSING.has(tok.type)) this.jinjaDepth = Math.max((this.jinjaDepth ?? 0) - 1, 0);
    if (tok.type === "int" || tok.type === "float" || tok.type === "symbol") {
      const m = EXPONENT_NUMBER.exec(this.str.slice(start, start + 400));
      if (m && m[0].startsWith(String(tok.value))) {
        while (this.index < start + m[0].length) this.forward();
        tok = { type: "float", value: m[0], lineno, colno };
      }
    }
    // `null` is a name in Jinja2 (undefined unless set), nunjucks' None
    if (tok.type === "none" && tok.value === "null") tok = { ...tok, type: "symbol" };
    // `item.0`, `pair.1`: an index after a dot, as Jinja2 reads it (nunjucks wanted a name)
    if (tok.type === "int" && this.jinjaLast === ".") tok = { ...tok, type: "symbol" };
    if (tok.type !== "whitespace") {
      this.jinjaLast = tok.type === "symbol" || tok.type === "operator" ? tok.value : tok.type;
    }
    return tok;
  };
  // string literals with Python's escapes (`'\x41'`, `'\u00e9'`, `'\d'` keeps its backslash);
  // nunjucks knew \n, \t and \r and dropped the backslash of any other
  proto._parseString = function (this: TokenizerState, delimiter: string): string {
    this.forward();
    let raw = "";
    while (!this.isFinished() && this.current() !== delimiter) {
      if (this.current() === "\\") {
        raw += "\\";
        this.forward();
        if (this.isFinished()) break;
      }
      raw += this.current();
      this.forward();
    }
    this.forward();
    return pyUnescape(raw);
  };
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\n": "",
};

/** Python's escapes in a string literal (its `unicode-escape` codec, as Jinja2 decodes them). */
function pyUnescape(raw: string): string {
  return raw.replace(
    /\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|[\s\S])/g,
    (whole, e: string) => {
      if (e.length > 1 || /[0-7]/.test(e)) {
        const code = /^[xuU]/.test(e) ? parseInt(e.slice(1), 16) : parseInt(e, 8);
        return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
      }
      return Object.hasOwn(SIMPLE_ESCAPES, e) ? SIMPLE_ESCAPES[e] : whole;
    },
  );
}
