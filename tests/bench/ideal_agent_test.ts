/**
 * The ideal agent (scripts/bench/ideal_agent) as kunai-cluster.sh drives it: started with the
 * script's command line and config, it answers on its socket with every node alive, then the last
 * one dead once its process is killed. Its figure in the anchors bench is the script's own floor.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir, until } from "../helpers.ts";

const agentDir = new URL("../../scripts/bench/ideal_agent/", import.meta.url).pathname;

async function members(socket: string): Promise<Record<string, { name: string; state: string }>> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  try {
    const res = await fetch("http://localhost/agent/members", { client });
    assert.equal(res.status, 200);
    return await res.json();
  } finally {
    client.close();
  }
}

/** Starts n ideal agents as kunai-cluster.sh does; `env` adds to their environment. */
function startAgents(dir: string, n: number, env: Record<string, string> = {}): Deno.ChildProcess[] {
  const procs: Deno.ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const d = join(dir, `n${i}`);
    Deno.mkdirSync(join(d, "etc"), { recursive: true });
    // what kunai-cluster.sh writes (the ideal agent reads only the socket)
    Deno.writeTextFileSync(
      join(d, "etc", "local.json"),
      JSON.stringify({ name: `n${i}`, port: 17800 + i, socket: join(d, "kunai.sock"), log_level: "ERROR" }),
    );
  }
  for (let i = 0; i < n; i++) {
    procs.push(
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "main.ts", "agent", "start", "--cfg-dir", join(dir, `n${i}`, "etc")],
        cwd: agentDir,
        env,
        stdout: "null",
        stderr: "null",
      }).spawn(),
    );
  }
  return procs;
}

async function stopAll(procs: Deno.ChildProcess[]): Promise<void> {
  for (const p of procs) {
    try {
      p.kill("SIGKILL");
    } catch { /* already gone */ }
    await p.status;
  }
}

const names = (m: Record<string, { name: string; state: string }>) =>
  Object.values(m).map((r) => `${r.name}:${r.state}`).sort();

Deno.test("ideal agent: every node alive at once, the killed one dead after", async () => {
  using tmp = tempDir("kunai-ideal-");
  const n = 3;
  const procs = startAgents(tmp.dir, n);
  try {
    const sock = (i: number) => join(tmp.dir, `n${i}`, "kunai.sock");
    await until("the three sockets", () => [0, 1, 2].every((i) => Deno.statSync(sock(i)).isSocket), 30_000);
    const seen = await members(sock(0));
    assert.deepEqual(names(seen), ["n0:alive", "n1:alive", "n2:alive"]);
    // shaped like a default agent's record (the script's python3 reads "state" of each value)
    assert.ok(JSON.stringify(seen).length > 400 * n);

    procs[2].kill("SIGKILL");
    await procs[2].status;
    const after = await members(sock(1));
    assert.equal(Object.values(after).find((m) => m.name === "n2")?.state, "dead");
    assert.equal(Object.values(after).filter((m) => m.state === "alive").length, 2);
  } finally {
    await stopAll(procs);
  }
});

Deno.test("ideal agent, instant gossip: a node knows the nodes whose join has arrived, nothing sooner", async () => {
  using tmp = tempDir("kunai-ideal-");
  const procs = startAgents(tmp.dir, 3, { KUNAI_IDEAL: "instant" });
  const sock = (i: number) => join(tmp.dir, `n${i}`, "kunai.sock");
  const joinSeed = async (i: number) => {
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: sock(i) } });
    try {
      const res = await fetch("http://localhost/agent/join/127.0.0.1:17800", { method: "POST", client });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    } finally {
      client.close();
    }
  };
  try {
    await until("the three sockets", () => [0, 1, 2].every((i) => Deno.statSync(sock(i)).isSocket), 30_000);
    assert.deepEqual(names(await members(sock(0))), ["n0:alive"]);
    assert.deepEqual(names(await members(sock(1))), ["n1:alive"]);
    await joinSeed(1);
    assert.deepEqual(names(await members(sock(0))), ["n0:alive", "n1:alive"]);
    assert.deepEqual(names(await members(sock(1))), ["n0:alive", "n1:alive"]);
    assert.deepEqual(names(await members(sock(2))), ["n2:alive"], "not joined: itself alone");
    await joinSeed(2);
    for (const i of [0, 1, 2]) {
      assert.deepEqual(names(await members(sock(i))), ["n0:alive", "n1:alive", "n2:alive"]);
    }
    procs[2].kill("SIGKILL");
    await procs[2].status;
    assert.deepEqual(names(await members(sock(1))), ["n0:alive", "n1:alive", "n2:dead"]);
  } finally {
    await stopAll(procs);
  }
});
