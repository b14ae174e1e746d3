/**
 * The text etsy statsd's management console prints for `counters`, `timers` and `gauges`: Node's
 * `util.inspect` of its plain objects (name → number, name → array of numbers) with the default
 * options (breakLength 80, compact 3, maxArrayLength 100), rebuilt here for those two shapes only
 * (pure; the differential test compares it with Node 20's own `util.inspect`). Also the order in
 * which a JavaScript object lists its keys, which the console's listings and deletions follow.
 *
 * ```ts
 * inspectNumbers([["api.hits", 3], ["b", 1]]); // "{ 'api.hits': 3, b: 1 }"
 * ```
 */

const BREAK_LENGTH = 80;
const COMPACT = 3;
/** util.inspect's maxArrayLength: values shown per array before `... N more items`. */
export const MAX_ARRAY_SHOWN = 100;

/** A key that is an array index (`"0"` to `"4294967294"`, no leading zero): objects list them first. */
function isArrayIndex(key: string): boolean {
  return /^(?:0|[1-9][0-9]{0,9})$/.test(key) && Number(key) < 4294967295;
}

/** The order a JavaScript object lists keys inserted in `names`' order: array indexes first, ascending. */
export function etsyKeyOrder<T>(entries: T[], key: (e: T) => string): T[] {
  const idx = entries.filter((e) => isArrayIndex(key(e)));
  if (idx.length === 0) return entries;
  idx.sort((a, b) => Number(key(a)) - Number(key(b)));
  return [...idx, ...entries.filter((e) => !isArrayIndex(key(e)))];
}

/**
 * etsy's `delete_stats` for the buckets of one `del*` command, in order (what a bucket deleted is
 * gone for the next): the names each one deleted, as its `existing_stats` lists them: the name
 * itself if held, then for `folder.*` every held name starting with `folder.` (names with a dot are
 * no array indexes: insertion order). One pass over the names finds every folder's, whatever the
 * number of buckets (a 64 KB command line is 32 000 of them: a copy and a scan of every name per
 * bucket was quadratic).
 */
export function deleteBuckets(map: Map<string, unknown>, buckets: string[]): string[][] {
  const folders = new Map<string, string[]>();
  for (const b of buckets) if (b.endsWith(".*")) folders.set(b.slice(0, -1), []);
  if (folders.size) {
    for (const name of map.keys()) {
      for (let i = name.indexOf("."); i >= 0; i = name.indexOf(".", i + 1)) {
        folders.get(name.slice(0, i + 1))?.push(name);
      }
    }
  }
  return buckets.map((bucket) => {
    const out: string[] = [];
    if (map.has(bucket)) out.push(bucket);
    const folder = bucket.endsWith(".*") ? folders.get(bucket.slice(0, -1)) : undefined;
    if (folder) {
      for (const n of folder) if (map.has(n)) out.push(n);
      folder.length = 0; // all deleted below: the same folder again finds nothing more
    }
    for (const n of out) map.delete(n);
    return out;
  });
}

const META: string[] = [];
for (let c = 0; c < 32; c++) META[c] = `\\x${c.toString(16).toUpperCase().padStart(2, "0")}`;
Object.assign(META, { 8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r", 39: "\\'", 92: "\\\\" });
for (let c = 127; c < 160; c++) META[c] = `\\x${c.toString(16).toUpperCase()}`;

/** Node's `strEscape`: the quoted form of a key that is not an identifier. */
function quoteKey(str: string): string {
  let quote = 39; // '
  let open = "'", close = "'";
  if (str.includes("'")) {
    if (!str.includes('"')) {
      quote = -1;
      open = close = '"';
    } else if (!str.includes("`") && !str.includes("${")) {
      quote = -2;
      open = close = "`";
    }
  }
  let out = "";
  let last = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c === quote || c === 92 || c < 32 || (c > 126 && c < 160)) {
      out += str.slice(last, i) + META[c];
      last = i + 1;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      if (c <= 0xdbff && i + 1 < str.length) {
        const d = str.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          i++;
          continue;
        }
      }
      out += `${str.slice(last, i)}\\u${c.toString(16)}`;
      last = i + 1;
    }
  }
  return open + out + str.slice(last) + close;
}

function keyText(key: string): string {
  if (key === "__proto__") return "['__proto__']";
  return /^[a-zA-Z_][a-zA-Z_0-9]*$/.test(key) ? key : quoteKey(key);
}

function numberText(n: number): string {
  return Object.is(n, -0) ? "-0" : `${n}`;
}

/** isBelowBreakLength: whether `output` fits on one line after `start` characters. */
function fitsOnOneLine(output: string[], start: number): boolean {
  let total = output.length + start;
  if (total + output.length > BREAK_LENGTH) return false;
  for (const o of output) {
    total += o.length;
    if (total > BREAK_LENGTH) return false;
  }
  return true;
}

/** groupArrayElements for an array of numbers at indentation `indent` (output may end with "... more"). */
function groupNumbers(output: string[], indent: number, truncated: boolean): string[] {
  let total = 0, maxLength = 0;
  const n = truncated ? output.length - 1 : output.length;
  const sep = 2;
  const dataLen: number[] = [];
  for (let i = 0; i < n; i++) {
    const len = output[i].length;
    dataLen[i] = len;
    total += len + sep;
    if (maxLength < len) maxLength = len;
  }
  const actualMax = maxLength + sep;
  if (!(actualMax * 3 + indent < BREAK_LENGTH && (total / actualMax > 5 || maxLength <= 6))) return output;
  const averageBias = Math.sqrt(actualMax - total / output.length);
  const biasedMax = Math.max(actualMax - 3 - averageBias, 1);
  const columns = Math.min(
    Math.round(Math.sqrt(2.5 * biasedMax * n) / biasedMax),
    Math.floor((BREAK_LENGTH - indent) / actualMax),
    COMPACT * 4,
    15,
  );
  if (columns <= 1) return output;
  const lineMax: number[] = [];
  for (let i = 0; i < columns; i++) {
    let m = 0;
    for (let j = i; j < n; j += columns) if (dataLen[j] > m) m = dataLen[j];
    lineMax[i] = m + sep;
  }
  const rows: string[] = [];
  for (let i = 0; i < n; i += columns) {
    const max = Math.min(i + columns, n);
    let str = "";
    let j = i;
    for (; j < max - 1; j++) str += `${output[j]}, `.padStart(lineMax[j - i], " ");
    str += output[j].padStart(lineMax[j - i] - sep, " ");
    rows.push(str);
  }
  if (truncated) rows.push(output[n]);
  return rows;
}

/** An array of numbers (its first values, and its length) as a property value at indentation 2. */
function arrayText(shown: number[], length: number): string {
  if (length === 0) return "[]";
  const indent = 2;
  const head = shown.slice(0, MAX_ARRAY_SHOWN);
  let output = head.map(numberText);
  const remaining = length - head.length;
  if (remaining > 0) output.push(`... ${remaining} more item${remaining > 1 ? "s" : ""}`);
  const entries = output.length;
  if (entries > 6) output = groupNumbers(output, indent, remaining > 0);
  if (entries === output.length && fitsOnOneLine(output, output.length + indent + 1 + 10)) {
    return `[ ${output.join(", ")} ]`;
  }
  const ind = `\n${" ".repeat(indent)}`;
  return `[${ind}  ${output.join(`,${ind}  `)}${ind}]`;
}

/** The object's text from its properties' texts (reduceToSingleString at depth 0). */
function objectText(output: string[]): string {
  if (output.length === 0) return "{}";
  if (fitsOnOneLine(output, output.length + 1 + 10)) {
    const joined = output.join(", ");
    if (!joined.includes("\n")) return `{ ${joined} }`;
  }
  return `{\n  ${output.join(",\n  ")}\n}`;
}

/** `util.inspect` of an object name → number, its entries in insertion order. */
export function inspectNumbers(entries: Array<[string, number]>): string {
  return objectText(etsyKeyOrder(entries, (e) => e[0]).map(([k, v]) => `${keyText(k)}: ${numberText(v)}`));
}

/** `util.inspect` of an object name → array of numbers, each given by its first values and its length. */
export function inspectArrays(entries: Array<[string, number[], number]>): string {
  return objectText(
    etsyKeyOrder(entries, (e) => e[0]).map(([k, shown, length]) =>
      `${keyText(k)}: ${arrayText(shown, length)}`
    ),
  );
}
