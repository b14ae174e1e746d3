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
    if (this.#lines) this.#lines.push(text);
    else console.log(text);
  }

  /** One error line in the CLI's single style: `kunai: <message>` on stderr. */
  error(text: string): void {
    const line = text.startsWith("kunai: ") ? text : `kunai: ${text}`;
    if (this.#errLines) this.#errLines.push(line);
    else console.error(this.paint(line, "red"));
  }

  /** Help or detail text on stderr, as is (after an error line). */
  errorBlock(text: string): void {
    if (this.#errLines) this.#errLines.push(text);
    else console.error(text);
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
