/**
 * Jinja2's `wordwrap` filter: each line of the text (Python's `splitlines()`) wrapped by Python's
 * `textwrap.wrap` (tabs and whitespace kept, whitespace dropped at the wrap points, long words
 * broken, lines broken after hyphens), joined by `wrapstring` (default a newline). A port of the
 * chunking regex and the filling loop of CPython's `textwrap`, so mail and generator templates wrap
 * where they wrapped under the Python kunai. Lengths count code points, as Python does.
 */

const WS = "\\t\\n\\x0b\\x0c\\r ";
/** CPython's `TextWrapper.wordsep_re` (`\w` and letters as Unicode classes). */
const WORD_PUNCT = `[\\p{L}\\p{N}_!"'&.,?]`;
const LETTER = `[\\p{L}_]`;
const WORDSEP = new RegExp(
  `([${WS}]+` +
    `|(?<=${WORD_PUNCT})-{2,}(?=[\\p{L}\\p{N}_])` +
    `|[^${WS}]+?(?:-(?:(?<=${LETTER}{2}-)|(?<=${LETTER}-${LETTER}-))(?=${LETTER}-?${LETTER})` +
    `|(?=[${WS}]|$)` +
    `|(?<=${WORD_PUNCT})(?=-{2,}[\\p{L}\\p{N}_])))`,
  "u",
);
const WORDSEP_SIMPLE = new RegExp(`([${WS}]+)`, "u");
const BLANK = new RegExp(`^[${WS}]*$`, "u");

const len = (s: string) => [...s].length;
const cut = (s: string, from: number, to?: number) => [...s].slice(from, to).join("");

/** Python's `str.splitlines()` (without the line ends). */
export function splitLines(s: string): string[] {
  // deno-lint-ignore no-control-regex -- Python's line ends include the control characters
  const lines = s.split(/\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]/);
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  return s === "" ? [] : lines;
}

function chunksOf(text: string, hyphens: boolean): string[] {
  return text.split(hyphens ? WORDSEP : WORDSEP_SIMPLE).filter((c) => c !== "");
}

/** `textwrap.wrap(text, width, expand_tabs=False, replace_whitespace=False, ...)`. */
export function textwrapWrap(text: string, width: number, breakLong: boolean, hyphens: boolean): string[] {
  if (width <= 0) throw new Error(`wordwrap: invalid width ${width} (must be > 0)`);
  const chunks = chunksOf(text, hyphens).reverse();
  const lines: string[] = [];
  while (chunks.length) {
    const line: string[] = [];
    let curLen = 0;
    if (lines.length && BLANK.test(chunks[chunks.length - 1])) chunks.pop();
    while (chunks.length) {
      const l = len(chunks[chunks.length - 1]);
      if (curLen + l > width) break;
      line.push(chunks.pop()!);
      curLen += l;
    }
    if (chunks.length && len(chunks[chunks.length - 1]) > width) {
      // a word longer than a line
      const spaceLeft = width - curLen;
      const chunk = chunks[chunks.length - 1];
      if (breakLong) {
        let end = spaceLeft;
        if (hyphens && len(chunk) > spaceLeft) {
          const hyphen = [...chunk].slice(0, spaceLeft).lastIndexOf("-");
          if (hyphen > 0 && [...chunk].slice(0, hyphen).some((c) => c !== "-")) end = hyphen + 1;
        }
        line.push(cut(chunk, 0, end));
        chunks[chunks.length - 1] = cut(chunk, end);
      } else if (!line.length) line.push(chunks.pop()!);
    }
    if (line.length && BLANK.test(line[line.length - 1])) line.pop();
    if (line.length) lines.push(line.join(""));
  }
  return lines;
}

/** The filter: `wordwrap(s, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True)`. */
export function wordwrap(
  s: string,
  width = 79,
  breakLong = true,
  wrapstring: string | null = null,
  hyphens = true,
): string {
  const sep = wrapstring ?? "\n";
  return splitLines(s).map((line) => textwrapWrap(line, width, breakLong, hyphens).join(sep)).join(sep);
}
