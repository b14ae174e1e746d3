/**
 * `kunai lock` against 3 real `kv` agents (127.0.63.1-3), one `kunai lock` process per node: two runs
 * contending (the second exits 1 naming the holder; with --wait it runs once the first ends), three runs
 * with --wait never inside their command at once (an atomic `mkdir` inside it would fail), the command's
 * exit code passed on and the lock released after it, SIGTERM and SIGHUP to `kunai lock` forwarded to the
 * command, `kill -9` of the holding process (the lock expires after its TTL and a waiter gets it), a lock
 * deleted behind the holder's back (its command is stopped, exit 1 saying so), a holder whose agent stopped
 * (its command stopped before the lock may expire), and a command that cannot start (127, the lock
 * released). No timing assertion: conditions are awaited with `until`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type AgentProc,
  aliveCount,
  denoRun,
  processesWith,
  SHARED_DENO_DIR,
  startCluster,
  tempDir,
  until,
} from "../helpers.ts";

const ADDRS = ["127.0.63.1", "127.0.63.2", "127.0.63.3"];

interface Run {
  child: Deno.ChildProcess;
  done: Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Starts `kunai -c <agent's config> lock ...` without waiting for it (so it can be signalled). */
function lock(a: AgentProc, args: string[]): Run {
  const env = Deno.env.toObject();
  for (const k of Object.keys(env)) if (k.startsWith("KUNAI_")) delete env[k];
  const child = new Deno.Command(Deno.execPath(), {
    args: denoRun("main.ts", "-c", a.configFile, "lock", ...args),
    clearEnv: true,
    env: { ...env, NO_COLOR: "1", ...SHARED_DENO_DIR, HOME: a.dir },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const dec = new TextDecoder();
  const done = (async () => {
    const [st, out, err] = await Promise.all([
      child.status,
      new Response(child.stdout).arrayBuffer(),
      new Response(child.stderr).arrayBuffer(),
    ]);
    return { code: st.code, stdout: dec.decode(out), stderr: dec.decode(err) };
  })();
  return { child, done };
}

/** The run's result; a run still going after `ms` is killed and the test fails naming `what`. */
async function finish(
  r: Run,
  what: string,
  ms = 120_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      try {
        r.child.kill("SIGKILL");
      } catch { /* exited */ }
      reject(new Error(`${what}: kunai lock still running after ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([r.done, late]);
  } finally {
    clearTimeout(timer);
  }
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "e2e kunai lock: one holder at a time across nodes, exit codes, release, expiry after kill -9, lost lock",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const agents: AgentProc[] = [];
    using t = tempDir("kunai-lock-");
    const f = (n: string) => join(t.dir, n);
    const orphans: number[] = [];
    try {
      await startCluster(agents, ADDRS, (i) => ({ name: `l${i + 1}`, params: { tags: ["kv"] } }));
      const [a, b, c] = agents;
      for (const x of agents) {
        await until(
          `3 alive on ${x.configFile}`,
          async () => await aliveCount(x) === 3,
          30_000,
          200,
        );
      }
      // every node can write (the ring agreed): a key written through each one
      for (const x of agents) {
        await until(
          `a KV write through ${x.configFile}`,
          async () => (await x.cli(["kv", "put", "probe", "1"])).code === 0,
          30_000,
          200,
        );
      }

      // ---- contention: A holds "job"; B without --wait is refused naming A; B with --wait runs after A
      const holdA = lock(a, [
        "job",
        "--json",
        "--",
        "sh",
        "-c",
        `echo "$KUNAI_LOCK_HELD $KUNAI_LOCK_NAME $KUNAI_LOCK_INDEX" > ${f("a.started")}; ` +
        `while [ ! -e ${f("a.go")} ]; do sleep 0.05; done; exit 3`,
      ]);
      await until("A's command running", () => exists(f("a.started")), 30_000);
      const [heldEnv, nameEnv, tokenA] = Deno.readTextFileSync(f("a.started")).trim().split(" ");
      assert.deepEqual([heldEnv, nameEnv], ["true", "job"]);
      assert.match(tokenA, /^\d+$/, "KUNAI_LOCK_INDEX: the index at which A took the lock");
      const busy = await finish(lock(b, ["job", "--", "touch", f("b.ran-at-once")]), "run");
      assert.equal(busy.code, 1, busy.stderr);
      assert.match(busy.stderr, /lock job is held by node l1 \(host .+, pid \d+, since \d{4}-/);
      assert.ok(!exists(f("b.ran-at-once")), "B ran its command while A held the lock");
      const busyJson = await finish(lock(c, ["job", "--json", "--", "true"]), "run");
      assert.equal(busyJson.code, 1);
      const bj = JSON.parse(busyJson.stdout);
      assert.equal(bj.acquired, false);
      assert.equal(bj.key, "__lock/job");
      assert.equal(bj.held_by.node, "l1");
      // --wait shorter than A's hold: exit 1 once it passed, naming the holder, without running
      const waited = await finish(lock(c, ["job", "--wait", "1s", "--", "touch", f("c.ran-at-once")]), "run");
      assert.equal(waited.code, 1, waited.stderr);
      assert.match(waited.stderr, /lock job is still held after \d+\.\d s, by node l1 \(host /);
      assert.ok(!exists(f("c.ran-at-once")), "C ran its command while A held the lock");
      const info = await b.cli(["kv", "get", "__lock/job"]);
      assert.equal(info.code, 0);
      assert.equal(JSON.parse(info.stdout).node, "l1");

      const waitB = lock(b, ["job", "--wait", "120s", "--", "sh", "-c", `echo B > ${f("b.ran")}`]);
      // B is refused while A holds it: its command has not run by the time A is told to finish
      await until("B waiting (its process started)", () => waitB.child.pid > 0);
      assert.ok(!exists(f("b.ran")), "B ran while A held the lock");
      Deno.writeTextFileSync(f("a.go"), "");
      const ra = await finish(holdA, "holdA");
      assert.equal(ra.code, 3, ra.stderr); // the command's exit code
      const ja = JSON.parse(ra.stdout);
      assert.deepEqual([ja.acquired, ja.exit_code, ja.released], [true, 3, true]);
      assert.equal(ja.index, Number(tokenA), "--json's index is the token the command was given");
      const rb = await finish(waitB, "waitB");
      assert.equal(rb.code, 0, rb.stderr);
      assert.equal(Deno.readTextFileSync(f("b.ran")).trim(), "B");
      // released after each run
      const gone = await c.cli(["kv", "get", "__lock/job"]);
      assert.equal(gone.code, 1, gone.stdout);

      // ---- three waiters on three nodes: never two inside the command at once
      const inside = f("inside");
      const script = `mkdir ${inside} || exit 99; echo $KUNAI_LOCK_INDEX >> ${
        f("count")
      }; sleep 0.3; rmdir ${inside}`;
      const three = agents.map((x) => lock(x, ["mutex", "--wait", "120s", "--", "sh", "-c", script]));
      const results = await Promise.all(three.map((r, i) => finish(r, `mutex ${i}`)));
      for (const r of results) assert.equal(r.code, 0, r.stderr);
      const tokens = Deno.readTextFileSync(f("count")).trim().split("\n").map(Number);
      assert.equal(tokens.length, 3);
      // fencing: each holder's token is larger than every earlier holder's (A's included)
      for (const [i, tk] of tokens.entries()) {
        assert.ok(
          tk > (i ? tokens[i - 1] : Number(tokenA)),
          `tokens in the order they ran: ${tokenA} ${tokens}`,
        );
      }

      // ---- SIGTERM to `kunai lock` goes to the command; then the lock is released
      const sig = lock(a, [
        "sig",
        "--",
        "sh",
        "-c",
        `trap 'exit 42' TERM; echo > ${f("sig.ready")}; while :; do sleep 0.05; done`,
      ]);
      await until("the command trapping TERM running", () => exists(f("sig.ready")), 30_000);
      sig.child.kill("SIGTERM");
      const rs = await finish(sig, "sig");
      assert.equal(rs.code, 42, rs.stderr);
      assert.equal((await a.cli(["kv", "get", "__lock/sig"])).code, 1);
      // SIGHUP too (the command, in its own session, would not get a closing terminal's)
      const hup = lock(b, [
        "sig",
        "--",
        "sh",
        "-c",
        `trap 'exit 41' HUP; echo > ${f("hup.ready")}; while :; do sleep 0.05; done`,
      ]);
      await until("the command trapping HUP running", () => exists(f("hup.ready")), 30_000);
      hup.child.kill("SIGHUP");
      const rh = await finish(hup, "hup");
      assert.equal(rh.code, 41, rh.stderr);
      assert.equal((await b.cli(["kv", "get", "__lock/sig"])).code, 1);

      // ---- a command that cannot start: 127, and the lock released
      const nf = await finish(lock(b, ["nf", "--", f("no-such-program")]), "run");
      assert.equal(nf.code, 127, nf.stderr);
      assert.match(nf.stderr, /cannot run ".*no-such-program"/);
      assert.equal((await b.cli(["kv", "get", "__lock/nf"])).code, 1);

      // ---- kill -9 of the holding `kunai lock`: the lock expires after its TTL, then a waiter gets it
      const crash = lock(a, [
        "crash",
        "--ttl",
        "3s",
        "--",
        "sh",
        "-c",
        `echo $$ > ${f("crash.pid")}; exec sleep 600`,
      ]);
      await until(
        "the crash command running",
        () => exists(f("crash.pid")) && Deno.readTextFileSync(f("crash.pid")).trim() !== "",
        30_000,
      );
      orphans.push(Number(Deno.readTextFileSync(f("crash.pid")).trim()));
      crash.child.kill("SIGKILL");
      // (its output pipes stay open: the orphaned command inherited them)
      await crash.child.status;
      const still = await finish(lock(b, ["crash", "--", "true"]), "run");
      // held until its TTL passes (or already expired on a very slow machine)
      assert.ok(still.code === 1 || still.code === 0, still.stderr);
      if (still.code === 1) assert.match(still.stderr, /held by node l1/);
      const after = await finish(
        lock(c, [
          "crash",
          "--wait",
          "120s",
          "--json",
          "--",
          "sh",
          "-c",
          `echo C > ${f("c.ran")}`,
        ]),
        "run",
      );
      assert.equal(after.code, 0, after.stderr);
      assert.equal(JSON.parse(after.stdout).acquired, true);
      assert.equal(Deno.readTextFileSync(f("c.ran")).trim(), "C");

      // ---- the lock deleted behind the holder's back: its command is stopped, exit 1 saying so
      const lost = lock(a, [
        "lost",
        "--ttl",
        "3s",
        "--",
        "sh",
        "-c",
        `echo $$ > ${f("lost.pid")}; trap 'echo term > ${
          f("lost.term")
        }; exit 143' TERM; while :; do sleep 0.05; done`,
      ]);
      await until(
        "the lost command running",
        () => exists(f("lost.pid")) && Deno.readTextFileSync(f("lost.pid")).trim() !== "",
        30_000,
      );
      const lostPid = Number(Deno.readTextFileSync(f("lost.pid")).trim());
      orphans.push(lostPid);
      // renewed (a new index each time) past its TTL, and held all along
      const indexes = new Set<number>();
      await until(
        "4 renewals of __lock/lost",
        async () => {
          const g = await c.cli(["kv", "get", "__lock/lost", "--json"]);
          if (g.code === 0) indexes.add(JSON.parse(g.stdout).modify_index);
          return indexes.size >= 5;
        },
        60_000,
        200,
      );
      const held = await finish(lock(c, ["lost", "--", "true"]), "lost, contended");
      assert.equal(held.code, 1, held.stderr);
      assert.match(held.stderr, /lock lost is held by node l1/);
      const del = await b.cli(["kv", "delete", "__lock/lost"]);
      assert.equal(del.code, 0, del.stderr);
      const rl = await finish(lost, "lost");
      assert.equal(rl.code, 1, rl.stderr);
      assert.match(
        rl.stderr,
        /lock lost was (deleted or expired \(key __lock\/lost\)|taken by .*): stopping/,
      );
      assert.match(rl.stderr, /: stopping the command \(SIGTERM, SIGKILL after 1s\)/);
      assert.equal(Deno.readTextFileSync(f("lost.term")).trim(), "term");
      assert.ok(!alive(lostPid), "the command outlived its lost lock");

      // ---- its agent gone: no renewal confirmed until a third of the TTL before expiry, command stopped
      const cut = lock(c, [
        "cut",
        "--ttl",
        "3s",
        "--",
        "sh",
        "-c",
        `echo $$ > ${f("cut.pid")}; exec sleep 600`,
      ]);
      await until(
        "the cut command running",
        () => exists(f("cut.pid")) && Deno.readTextFileSync(f("cut.pid")).trim() !== "",
        30_000,
      );
      const cutPid = Number(Deno.readTextFileSync(f("cut.pid")).trim());
      orphans.push(cutPid);
      await c.stop();
      const rc = await finish(cut, "cut");
      assert.equal(rc.code, 1, rc.stderr);
      assert.match(
        rc.stderr,
        /the agent has not confirmed lock cut for \d+\.\d s \(TTL 3s; last error: cannot reach the kunai agent/,
      );
      assert.ok(!alive(cutPid), "the command outlived the lock it could not renew");
      assert.match(rc.stderr, /could not release __lock\/cut/);
    } finally {
      // whatever a failed assertion left running: the commands (their command lines name the temp dir) and
      // the orphans of the kill -9 case (pid > 0: kill(-0) would be our own process group)
      for (const pid of [...orphans, ...processesWith(t.dir)].filter((p) => p > 0)) {
        try {
          Deno.kill(-pid, "SIGKILL");
        } catch {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch { /* gone */ }
        }
      }
      for (const x of agents) await x.stop();
      for (const x of agents) {
        try {
          Deno.removeSync(x.dir, { recursive: true });
        } catch { /* gone */ }
      }
    }
  },
});
