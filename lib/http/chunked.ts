/**
 * Follows a `Transfer-Encoding: chunked` body as it goes by, to tell where it ends: chunk-size
 * lines, their data (skipped by count, whatever bytes it holds), the last chunk and its trailers.
 * Looking only at the last bytes seen took a chunk whose data ends like the terminator for the end
 * of the body: the front then stopped timing a body the server was still reading.
 */

/** Longest chunk-size line or trailer line accepted (a longer one is malformed). */
const MAX_LINE = 4096;

export type ChunkedState = "more" | "done" | "bad";

export class ChunkedBody {
  #mode: "size" | "data" | "data-end" | "trailer" = "size";
  /** The current line (size or trailer), in latin1. */
  #line = "";
  /** Data bytes of the current chunk still to come, or CR LF bytes after it. */
  #left = 0;
  #state: ChunkedState = "more";

  get state(): ChunkedState {
    return this.#state;
  }

  /** Takes the next body bytes; what follows the end (a pipelined request) is not looked at. */
  feed(bytes: Uint8Array): ChunkedState {
    let i = 0;
    while (i < bytes.length && this.#state === "more") {
      if (this.#mode === "data") {
        const take = Math.min(this.#left, bytes.length - i);
        i += take;
        this.#left -= take;
        if (this.#left === 0) {
          this.#mode = "data-end";
          this.#left = 2;
        }
        continue;
      }
      if (this.#mode === "data-end") {
        if (bytes[i] !== (this.#left === 2 ? 13 : 10)) return this.#state = "bad";
        i++;
        if (--this.#left === 0) this.#mode = "size";
        continue;
      }
      // a line: chunk size, or a trailer
      const b = bytes[i++];
      if (b !== 10) {
        if (this.#line.length >= MAX_LINE) return this.#state = "bad";
        this.#line += String.fromCharCode(b);
        continue;
      }
      if (!this.#line.endsWith("\r")) return this.#state = "bad";
      const line = this.#line.slice(0, -1);
      this.#line = "";
      if (this.#mode === "trailer") {
        if (line === "") this.#state = "done";
        continue;
      }
      const hex = line.split(";")[0].trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) return this.#state = "bad";
      const size = parseInt(hex, 16);
      if (size === 0) this.#mode = "trailer";
      else {
        this.#mode = "data";
        this.#left = size;
      }
    }
    return this.#state;
  }
}
