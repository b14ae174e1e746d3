/**
 * Terminal output helpers with the reference's layouts (§1): titles, two-column rows, state
 * colours. Colours only when stdout is a TTY (and NO_COLOR is unset).
 */
export type Colour = "red" | "green" | "yellow" | "blue" | "magenta" | "cyan" | "grey" | "bold";
const CODES: Record<Colour, number> = {
  red: 31,
  green: 32,
  yellow: 33,
  blue: 34,
  magenta: 35,
  cyan: 36,
  grey: 90,
  bold: 1,
};

export const STATE_COLOURS: Record<string, Colour> = {
  alive: "green",
  suspect: "yellow",
  dead: "red",
  leave: "cyan",
  ok: "green",
  warning: "yellow",
  critical: "red",
  unknown: "cyan",
  pending: "grey",
};

/** The colour sequences paint() writes (`\x1b[<code>m` and the reset): the only ones let through. */
const OURS = new Set([0, ...Object.values(CODES)].map((c) => `\x1b[${c}m`));
// deno-lint-ignore no-control-regex
const UNSAFE = /\x1b\[\d{1,2}m|[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Text made safe for a terminal: what the agent answers carries names, tags, services and outputs that
 * other agents sent, and an escape sequence in them (a title, a cleared screen, hidden or rewritten
 * text) or a carriage return would act on the terminal of whoever runs the command. Control
 * characters other than newline and tab are shown as `\u00XX` (inside a JSON string that is the same
 * character, so `--json` stays exact), except the colour codes of paint() when `colour` is on.
 */
export function terminalSafe(text: string, colour: boolean): string {
  return text.replace(
    UNSAFE,
    (c) =>
      c.length > 1
        ? (colour && OURS.has(c) ? c : `\\u001b${c.slice(1)}`)
        : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

// deno-lint-ignore no-control-regex
const CELL_UNSAFE = /[\u0000-\u001f\u007f-\u009f]/g;

/** One table cell or field on one line: every control character, newline and tab included, as `\u00XX`. */
export function cellText(text: string): string {
  return text.replace(CELL_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export class Output {
  readonly colour: boolean;
  #lines: string[] | null;
  #errLines: string[] | null;

  /** `capture: true` keeps lines in memory (tests) instead of writing them. */
  constructor(opts: { colour?: boolean; capture?: boolean } = {}) {
    this.colour = opts.colour ?? (Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR"));
    this.#lines = opts.capture ? [] : null;
    this.#errLines = opts.capture ? [] : null;
  }

  paint(text: string, c: Colour | undefined): string {
    if (!this.colour || !c) return text;
    return `\x1b[${CODES[c]}m${text}\x1b[0m`;
  }

  line(text = ""): void {
    const safe = terminalSafe(text, this.colour);
    if (this.#lines) this.#lines.push(safe);
    else console.log(safe);
  }

  /** One error line in the CLI's single style: `kunai: <message>` on stderr. */
  error(text: string): void {
    const line = terminalSafe(text.startsWith("kunai: ") ? text : `kunai: ${text}`, false);
    if (this.#errLines) this.#errLines.push(line);
    else console.error(this.paint(line, "red"));
  }

  /** Help or detail text on stderr, as is (after an error line), control characters made visible. */
  errorBlock(text: string): void {
    const safe = terminalSafe(text, this.colour);
    if (this.#errLines) this.#errLines.push(safe);
    else console.error(safe);
  }

  /** `========== [Title]:` */
  title(text: string): void {
    this.line(this.paint(`========== [${text}]:`, "yellow"));
  }

  /** `Label: ` padded to `width`, then the value. */
  twoCol(
    label: string,
    value: unknown,
    opts: { colour?: Colour; width?: number; capitalise?: boolean } = {},
  ): void {
    const l = opts.capitalise === false ? label : label.charAt(0).toUpperCase() + label.slice(1);
    const shown = typeof value === "string" ? value : JSON.stringify(value);
    this.line(
      `${this.paint(`${l}: `.padEnd(opts.width ?? 20), "blue")}${this.paint(shown, opts.colour ?? "green")}`,
    );
  }

  /** Pretty JSON (for --json). */
  json(value: unknown): void {
    this.line(JSON.stringify(value, null, 2));
  }

  /** Captured stdout lines (capture mode only). */
  get captured(): string[] {
    return this.#lines ?? [];
  }
  get capturedErrors(): string[] {
    return this.#errLines ?? [];
  }
}
