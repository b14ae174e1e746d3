/**
 * Splits a plugin command line into argv the way a POSIX shell would for plain words and quotes,
 * without running a shell (floor 0, pure): whitespace separates words, `'…'` is literal, `"…"`
 * honours `\"`, `\\`, `\$` and `` \` ``, a backslash outside quotes escapes the next character.
 *
 * ```ts
 * splitArgv(`check_procs -a "my daemon" -w 1:`); // ["check_procs", "-a", "my daemon", "-w", "1:"]
 * ```
 */
import { expandMacros } from "./macros.ts";

/** A command line that cannot be split (unterminated quote, trailing backslash). */
export class ArgvError extends Error {
  constructor(message: string, readonly column: number) {
    super(`${message} (column ${column})`);
    this.name = "ArgvError";
  }
}

/** Splits `line` into words; throws ArgvError naming the column of the problem. */
export function splitArgv(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const ch = line[i];
    if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r") {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ArgvError("unterminated single quote", i + 1);
      cur += line.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      const start = i;
      i++;
      let closed = false;
      while (i < line.length) {
        const c = line[i];
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        if (c === "\\" && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) {
          cur += line[i + 1];
          i += 2;
          continue;
        }
        cur += c;
        i++;
      }
      if (!closed) throw new ArgvError("unterminated double quote", start + 1);
    } else if (ch === "\\") {
      if (i + 1 >= line.length) throw new ArgvError("trailing backslash", i + 1);
      cur += line[i + 1];
      i += 2;
    } else {
      cur += ch;
      i++;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/**
 * The first shell construct of `line` the original's `Popen(shell=True)` would have acted on — a
 * pipe, list, background or redirection operator (`|`, `;`, `&`, `<`, `>`) outside quotes, or a
 * command substitution (`` ` ``, `$(`) outside single quotes — or null when a plain argv split
 * means the same. `$macro$` spans are left out (`$a|b$` is an alternative, not a pipe).
 *
 * ```ts
 * shellSyntax("check_x 2>&1 | head -1"); // ">"
 * shellSyntax(`check_procs -a "a|b" -w $w|x$`); // null
 * ```
 */
export function shellSyntax(line: string): string | null {
  const text = expandMacros(line, () => "_");
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote === "'") {
      if (ch === "'") quote = null;
      continue;
    }
    if (ch === "\\") {
      i++; // an escaped character is literal (in double quotes too, for the ones it escapes)
      continue;
    }
    if (ch === "`") return ch;
    if (ch === "$" && text[i + 1] === "(") return "$(";
    if (quote === '"') {
      if (ch === '"') quote = null;
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    else if ("|;&<>".includes(ch)) return ch;
  }
  return null;
}
