/**
 * Live log streams (`kunai monitor`, Serf's and Consul's `monitor`): each is a never-ending text
 * response of the log lines at a level and above, as they are written. A reader that falls
 * `backlog` lines behind loses lines and is told how many; a stream ends when its client goes or
 * `closeAll()` runs (the agent stopping).
 *
 * ```ts
 * const monitors = new LogMonitors(sink);
 * return monitors.open("INFO", "kunai monitor: n1, log lines at INFO and above");
 * ```
 */
import type { LogLevel, LogSink } from "./mod.ts";

export class LogMonitors {
  #open = new Set<() => void>();

  constructor(readonly sink: LogSink, readonly backlog = 1000) {}

  /** Streams open now. */
  get size(): number {
    return this.#open.size;
  }

  /** A response streaming `header`, then every line at `level` and above until the client goes. */
  open(level: LogLevel, header: string): Response {
    const enc = new TextEncoder();
    let untap = () => {};
    let end = () => {};
    const stream = new ReadableStream<Uint8Array>({
      start: (ctrl) => {
        let dropped = 0;
        let open = true;
        end = () => {
          if (!open) return;
          open = false;
          untap();
          this.#open.delete(end);
          try {
            ctrl.close();
          } catch { /* cancelled already */ }
        };
        this.#open.add(end);
        ctrl.enqueue(enc.encode(header + "\n"));
        untap = this.sink.tap(level, (line) => {
          if ((ctrl.desiredSize ?? 0) <= 0) return void dropped++;
          if (dropped) {
            ctrl.enqueue(enc.encode(`kunai monitor: ${dropped} line(s) dropped: the reader was too slow\n`));
            dropped = 0;
          }
          ctrl.enqueue(enc.encode(line + "\n"));
        });
      },
      cancel: () => end(),
    }, new CountQueuingStrategy({ highWaterMark: this.backlog }));
    return new Response(stream, {
      headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
    });
  }

  /** Ends every stream (their responses finish). */
  closeAll(): void {
    for (const end of [...this.#open]) end();
  }
}
