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

Deno.test("ideal agent: every node alive at once, the killed one dead after", async () => {
  using tmp = tempDir("kunai-ideal-");
  const n = 3;
  const procs: Deno.ChildProcess[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const d = join(tmp.dir, `n${i}`);
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
          args: ["run", "-A", "main.ts", "agent", "start", "--cfg-dir", join(tmp.dir, `n${i}`, "etc")],
          cwd: agentDir,
          stdout: "null",
          stderr: "null",
        }).spawn(),
      );
    }
    const sock = (i: number) => join(tmp.dir, `n${i}`, "kunai.sock");
    await until("the three sockets", () => [0, 1, 2].every((i) => Deno.statSync(sock(i)).isSocket), 30_000);
    const seen = await members(sock(0));
    assert.deepEqual(Object.values(seen).map((m) => `${m.name}:${m.state}`).sort(), [
      "n0:alive",
      "n1:alive",
      "n2:alive",
    ]);
    // shaped like a default agent's record (the script's python3 reads "state" of each value)
    assert.ok(JSON.stringify(seen).length > 400 * n);

    procs[2].kill("SIGKILL");
    await procs[2].status;
    const after = await members(sock(1));
    assert.equal(Object.values(after).find((m) => m.name === "n2")?.state, "dead");
    assert.equal(Object.values(after).filter((m) => m.state === "alive").length, 2);
  } finally {
    for (const p of procs) {
      try {
        p.kill("SIGKILL");
      } catch { /* already gone */ }
      await p.status;
    }
  }
});
