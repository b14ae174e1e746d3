/**
 * Partial generators: only the text between a `partial_start` line and a `partial_end` line is
 * ours; the rest of the file belongs to someone else and is kept byte for byte. Pure.
 */

/** Why a partial edit could not be applied. */
export class PartialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PartialError";
  }
}

/**
 * The new file content: `current` with the lines between the markers replaced by `rendered`.
 * When the file does not exist (null) or has no start marker, the block is appended at the end.
 * A start marker without its end marker is an error (we would not know what to keep), and so is a
 * rendered line that is a marker (a node's name from the network, `"x\n# END"`): the next render would
 * take it for the end, keep the rest of our block as the owner's text and add it again every time.
 */
export function applyPartial(current: string | null, rendered: string, start: string, end: string): string {
  rendered.split("\n").forEach((line, i) => {
    for (const [what, marker] of [["start", start], ["end", end]]) {
      if (line.trim() === marker.trim()) {
        throw new PartialError(
          `line ${i + 1} of the rendered text is the ${what} marker ${JSON.stringify(marker)}: ` +
            `the block could not be found again (a value from the network? filter it in the template)`,
        );
      }
    }
  });
  const body = rendered.endsWith("\n") || rendered === "" ? rendered : rendered + "\n";
  const block = `${start}\n${body}${end}\n`;
  if (current === null || current === "") return block;
  const lines = current.split("\n");
  const s = lines.findIndex((l) => l.trim() === start.trim());
  if (s < 0) return (current.endsWith("\n") ? current : current + "\n") + block;
  const e = lines.findIndex((l, i) => i > s && l.trim() === end.trim());
  if (e < 0) {
    throw new PartialError(
      `found the start marker ${JSON.stringify(start)} but not the end marker ${JSON.stringify(end)}`,
    );
  }
  const before = lines.slice(0, s).join("\n");
  const after = lines.slice(e + 1).join("\n");
  return (before ? before + "\n" : "") + block + after;
}
