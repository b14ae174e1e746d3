/**
 * `kunai lock NAME [--ttl 15s] [--wait D] [--json] -- COMMAND [ARGS...]` (Consul's `consul lock`): runs
 * COMMAND on one node of the cluster at a time, holding the KV key `__lock/NAME` while it runs.
 *
 * - refused (exit 1) when no member is tagged `kv` while others are alive: each node would keep its own key;
 * - acquire: `PUT /kv/__lock/NAME?cas=0&ttl=T` with a value naming the holder ({id, node, host, pid,
 *   since}); held by another → exit 1 naming it, or with `--wait` blocking reads of the key (each at most
 *   5 s, and no longer than the holder's expiry) until it is free or the wait has passed;
 * - hold: the command runs as the leader of its own process group (stdin, stdout and stderr inherited,
 *   `KUNAI_LOCK_HELD=true`, `KUNAI_LOCK_NAME`, and `KUNAI_LOCK_INDEX`: the KV index at which this run
 *   took the lock, a fencing token larger than any earlier holder's); the key is renewed by CAS on the
 *   index held every third of the TTL. A renewal that finds the key gone or someone else's, or no
 *   confirmation from the agent until a third of the TTL before the lock may expire, stops the command:
 *   SIGTERM to its group, SIGKILL a third of the TTL later (so it is dead by the time the lock may
 *   expire, on this host's clock), exit 1 saying why;
 * - release: when the command exits, `DELETE ?cas=INDEX`, and exit with its code (128 + n after signal n);
 * - SIGINT/SIGTERM/SIGHUP to `kunai lock` are forwarded to the command's group (it exits, then the lock is
 *   released); before the lock is held they stop the wait.
 *
 * An answer lost on the way (a timeout, a 503 "stored on 1 of 2 copies") may hide a write that landed:
 * the key is read back and a value carrying this run's `id` is ours (its index adopted).
 */
import type { MemberRecord } from "../lib/types.ts";
import type { Output } from "./output.ts";
import { type CommandContext, type CommandGroup, UsageError } from "./types.ts";
import {
  DEFAULT_TTL,
  describeHolder,
  durationOpt,
  fmtMs,
  type Holder,
  holderOf,
  LOCK_PREFIX,
  LockKv,
  lockName,
  MAX_BLOCK,
  MAX_TTL,
  MAX_WAIT,
  type Meta,
  MIN_TTL,
  transient,
  unsharedReason,
} from "./lock_kv.ts";

export { describeHolder, holderOf, LOCK_PREFIX, lockName, unsharedReason } from "./lock_kv.ts";

/** Resolves after `ms` or when `stop` settles, whichever comes first (the timer is cleared). */
async function pause(ms: number, stop: Promise<unknown>): Promise<void> {
  let t: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([new Promise((r) => t = setTimeout(r, Math.max(0, ms))), stop]);
  clearTimeout(t);
}

/** Passed on to the command (SIGHUP too: in its own session it would not get a closing terminal's). */
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
type Sig = typeof SIGNALS[number];
const SIGNO: Record<Sig, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/**
 * An error line that cannot fail: once the command runs, a closed stderr (a terminal gone) must not end
 * `kunai lock` before it stopped the command and released the lock.
 */
function say(out: Output, text: string): void {
  try {
    out.error(text);
  } catch { /* nowhere to say it */ }
}

/** Sends `sig` to the command's process group (to the command alone when the group is gone). */
function killGroup(child: Deno.ChildProcess, sig: Deno.Signal): void {
  try {
    Deno.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch { /* exited */ }
  }
}

interface Outcome {
  acquired: boolean;
  /** The KV index at which this run took the lock (the fencing token), when it did. */
  index?: number;
  exit_code: number | null;
  held_by?: Holder | string;
  lost?: string;
  released?: boolean;
  interrupted?: string;
  /** Why nothing was run (the agent could not be reached or refused). */
  error?: string;
}

async function runLock(ctx: CommandContext): Promise<number> {
  const { options, positionals, out } = ctx;
  const name = lockName(positionals[0]);
  const argv = positionals.slice(1);
  if (!argv.length) throw new UsageError("missing command: kunai lock NAME [options] -- COMMAND [ARGS...]");
  const ttl = durationOpt(options.ttl, "ttl", DEFAULT_TTL, MIN_TTL, MAX_TTL);
  const waitMs = durationOpt(options.wait, "wait", 0, 0, MAX_WAIT);
  const json = !!options.json;
  const key = LOCK_PREFIX + name;
  const report = (o: Outcome, code: number) => {
    if (json) out.json({ name, key, ...o });
    return code;
  };

  // a signal before the command runs stops the wait; afterwards it goes to the command
  let child: Deno.ChildProcess | null = null;
  let interrupted: Sig | null = null;
  let onInterrupt: () => void = () => {};
  const interruptedP = new Promise<void>((r) => onInterrupt = r);
  const handlers = SIGNALS.map((sig) => {
    const h = () => {
      if (child) killGroup(child, sig);
      else {
        interrupted ??= sig;
        onInterrupt();
      }
    };
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  try {
    const kv = new LockKv(ctx.client(), key);
    const node = (await kv.c.text("GET", "/agent/name")).trim();
    const unshared = unsharedReason(
      Object.values(await kv.c.json<Record<string, MemberRecord>>("GET", "/agent/members")),
    );
    if (unshared) {
      out.error(`lock ${name}: ${unshared}`);
      return report({ acquired: false, exit_code: null }, 1);
    }
    const holder: Holder = {
      id: crypto.randomUUID(),
      node,
      host: Deno.hostname(),
      pid: Deno.pid,
      since: new Date().toISOString(),
    };
    const body = new TextEncoder().encode(JSON.stringify(holder));
    const ours = (m: Meta | null) => m !== null && holderOf(m.value)?.id === holder.id;

    // ---- acquire
    const start = performance.now();
    const deadline = start + waitMs;
    let index = 0;
    let held = false;
    /** When the write that made the lock ours left (it expires no earlier than this + ttl). */
    let heldFrom = 0;
    let seen: Meta | null = null;
    let firstSent = -1;
    let vanished = 0;
    while (!interrupted) {
      const sent = performance.now();
      if (firstSent < 0) firstSent = sent;
      try {
        const r = await kv.write("PUT", 0, 10_000, body, ttl);
        if (r.ok) {
          [index, heldFrom, held] = [r.index, sent, true];
          break;
        }
        const got = await kv.read();
        if (ours(got.meta)) {
          // an earlier attempt landed although its answer was lost
          [index, heldFrom, held] = [got.meta!.modify_index, firstSent, true];
          break;
        }
        if (!got.meta && vanished++ < 5) {
          // freed meanwhile (or a copy that has not seen it yet): try again
          await pause(50 * vanished, interruptedP);
          continue;
        }
        if (got.meta) seen = got.meta;
        const left = deadline - performance.now();
        if (left <= 0) break;
        // wake when the key changes, and no later than its expiry (a sweep would also wake us)
        let block = Math.min(left, MAX_BLOCK);
        if (seen?.expires) block = Math.min(block, Math.max(100, seen.expires * 1000 + 1000 - Date.now()));
        await Promise.race([kv.read(got.index, block), interruptedP]);
      } catch (err) {
        if (!transient(err)) throw err;
        const left = deadline - performance.now();
        if (left <= 0) {
          // a write whose answer was lost (a timeout, a 503 with too few copies) may have made it ours
          const got = await kv.read().catch(() => null);
          if (got && ours(got.meta)) {
            [index, heldFrom, held] = [got.meta!.modify_index, firstSent, true];
            break;
          }
          throw err;
        }
        await pause(Math.min(1000, left), interruptedP);
      }
    }
    if (interrupted) {
      // it may have become ours in the same moment: give it back
      if (held) await release(kv, index, ours, out);
      if (!json) out.error(`interrupted (${interrupted}) while waiting for lock ${name}`);
      return report({ acquired: false, exit_code: null, interrupted }, 128 + SIGNO[interrupted]);
    }
    if (!held) {
      const by = seen ? describeHolder(seen) : "another node";
      if (!json) {
        out.error(
          waitMs
            ? `lock ${name} is still held after ${
              ((performance.now() - start) / 1000).toFixed(1)
            } s, by ${by}`
            : `lock ${name} is held by ${by}`,
        );
      }
      return report(
        { acquired: false, exit_code: null, held_by: (seen && holderOf(seen.value)) ?? by },
        1,
      );
    }

    // ---- hold: run the command, renew
    // the index of the write that took the lock: each later holder's is larger (its create follows
    // this one's delete or expiry), so a resource the command writes to can refuse an older holder
    const token = index;
    const renewEvery = ttl / 3;
    const grace = ttl / 3;
    try {
      child = new Deno.Command(argv[0], {
        args: argv.slice(1),
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
        detached: true,
        env: { KUNAI_LOCK_HELD: "true", KUNAI_LOCK_NAME: name, KUNAI_LOCK_INDEX: String(token) },
      }).spawn();
    } catch (err) {
      const released = await release(kv, index, ours, out);
      const notFound = err instanceof Deno.errors.NotFound;
      const denied = err instanceof Deno.errors.PermissionDenied;
      out.error(
        `cannot run ${JSON.stringify(argv[0])}: ${(err as Error).message}` +
          (notFound && /\s/.test(argv[0])
            ? ` (a shell command line: kunai lock ${name} -- sh -c '...')`
            : ""),
      );
      return report(
        { acquired: true, index: token, exit_code: null, released },
        notFound ? 127 : denied ? 126 : 1,
      );
    }
    const running = child;
    let status: Deno.CommandStatus | null = null;
    const exited = running.status.then((s) => status = s);
    try {
      let lost: string | null = null;
      let lastError = "";
      let next = heldFrom + renewEvery;
      while (status === null) {
        await pause(next - performance.now(), exited);
        if (status !== null) break;
        const giveUp = heldFrom + ttl - grace;
        const sent = performance.now();
        try {
          const timeout = Math.max(500, Math.min(renewEvery, giveUp - sent));
          const r = await kv.write("PUT", index, timeout, body, ttl);
          if (r.ok) {
            [index, heldFrom, lastError, next] = [r.index, sent, "", sent + renewEvery];
            continue;
          }
          const got = await kv.read();
          if (ours(got.meta)) {
            // a renewal whose answer was lost landed: renew again on its index at once
            index = got.meta!.modify_index;
            next = performance.now() + 100;
            continue;
          }
          lost = got.meta
            ? `lock ${name} was taken by ${describeHolder(got.meta)}`
            : `lock ${name} was deleted or expired (key ${key})`;
          break;
        } catch (err) {
          if (!transient(err)) {
            lost = `the agent refused to renew lock ${name}: ${(err as Error).message}`;
            break;
          }
          lastError = err.message;
        }
        if (performance.now() >= giveUp) {
          const s = ((performance.now() - heldFrom) / 1000).toFixed(1);
          lost = `the agent has not confirmed lock ${name} for ${s} s (TTL ${
            fmtMs(ttl)
          }; last error: ${lastError})`;
          break;
        }
        next = Math.min(performance.now() + 1000, giveUp);
      }
      if (lost !== null) {
        killGroup(running, "SIGTERM");
        if (!json) {
          say(out, `${lost}: stopping the command (SIGTERM, SIGKILL after ${fmtMs(Math.round(grace))})`);
        }
        await pause(grace, exited);
        // the whole group, even if its leader exited: nothing of it may outlive the lock
        killGroup(running, "SIGKILL");
        const st = await running.status;
        // the key may still be ours when the agent was only slow: free it if so
        if (lastError) await release(kv, index, ours, out, 2000);
        return report({ acquired: true, index: token, exit_code: st.code, lost }, 1);
      }
      const st = await running.status;
      const released = await release(kv, index, ours, out);
      return report({ acquired: true, index: token, exit_code: st.code, released }, st.code);
    } finally {
      // whatever ended this run early (an unexpected error), the command does not go on unsupervised
      if (status === null) killGroup(running, "SIGKILL");
    }
  } catch (err) {
    // --json promises one object at the end: an agent out of reach before the lock was taken
    // gets it too (the error itself goes to stderr as for any command)
    if (json && !child) report({ acquired: false, exit_code: null, error: (err as Error).message }, 1);
    throw err;
  } finally {
    for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  }
}

/** CAS-deletes the lock at `index` (or at the index a lost renewal left, if ours); false when it was not. */
async function release(
  kv: LockKv,
  index: number,
  ours: (m: Meta | null) => boolean,
  out: Output,
  timeoutMs = 10_000,
): Promise<boolean> {
  try {
    let r = await kv.write("DELETE", index, timeoutMs);
    if (!r.ok) {
      const got = await kv.read();
      if (!ours(got.meta)) {
        say(out, `lock ${kv.key} was no longer held by this run when released; left as it is`);
        return false;
      }
      r = await kv.write("DELETE", got.meta!.modify_index, timeoutMs);
    }
    return r.ok;
  } catch (err) {
    if (!transient(err)) throw err;
    say(out, `could not release ${kv.key} (${err.message}); it expires by itself after its TTL`);
    return false;
  }
}

export const lockCommands: CommandGroup = {
  group: "lock",
  description: "run a command on one node of the cluster at a time (a lock in KV)",
  commands: [{
    name: "",
    description: "run COMMAND while holding the cluster-wide lock NAME, one node at a time: " +
      "kunai lock NAME [options] -- COMMAND [ARGS...]",
    args: ["<name>", "<command>", "[args...]"],
    options: {
      ttl: { type: "string", description: "lock lifetime, renewed every third of it (default 15s; 3s-24h)" },
      wait: { type: "string", description: "wait this long for a held lock (default: exit 1 at once)" },
      json: {
        type: "boolean",
        description:
          "one JSON object at the end: {name, key, acquired, index, exit_code, held_by, lost, released}",
      },
    },
    run: runLock,
  }],
};
