/**
 * Notices the data dir removed or replaced under a running agent (an `rm -rf`, a volume unmounted):
 * its databases are then deleted files whose writes are lost at stop, and its sockets are gone. The
 * agent cannot undo that; it says so, once, with what to do.
 */
import { type Clock, LazyInterval } from "../clock/mod.ts";
import type { Logger } from "../log/mod.ts";

/**
 * How often the data dir is looked at (ms), on the epoch grid: in a wake-up the agent's 10 s jobs make
 * anyway (a timer of its own cost an idle agent a wake-up every 30 s: ~14 ms of CPU each on a slow box).
 */
export const WATCH_MS = 30_000;

function identity(dir: string): string | null {
  try {
    const st = Deno.statSync(dir);
    // the birth time too: a directory made again at once may get the same inode
    return `${st.dev}:${st.ino}:${st.birthtime?.getTime() ?? ""}`;
  } catch {
    return null;
  }
}

export class DataDirWatch {
  #start: string | null;
  #timer: LazyInterval | null = null;
  #said = false;

  constructor(private dir: string, private clock: Clock, private log: Logger, private pid = Deno.pid) {
    this.#start = identity(dir);
  }

  start(): void {
    this.#timer = new LazyInterval(this.clock, WATCH_MS, () => {
      this.check();
      return true;
    });
    this.#timer.start(true, 0);
  }

  /** Looks once; true while the dir is the one the agent started with. */
  check(): boolean {
    const now = identity(this.dir);
    if (now !== null && now === this.#start) return true;
    if (!this.#said) {
      this.#said = true;
      this.log.error(
        `the data dir ${this.dir} was ${now === null ? "removed" : "replaced"} under the running agent: ` +
          "its databases are deleted files now (what it stores is lost when it stops) and its API sockets " +
          `are gone; restart the agent (kill -TERM ${this.pid}), which starts on a new data dir`,
      );
    }
    return false;
  }

  stop(): void {
    this.#timer?.stop();
    this.#timer = null;
  }
}
