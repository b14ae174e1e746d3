/**
 * Out of file descriptors, Deno ends a server whose accept fails and rejects its `finished`, which
 * ended the agent. The API's server says so once, listens again, and answers once descriptors are back.
 * The child runs under `prlimit --nofile` (lowering one's own limit needs no privilege).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir, until } from "../helpers.ts";

Deno.test("a unix-socket server out of file descriptors keeps the process alive and answers again", async () => {
  using t = tempDir();
  const sock = join(t.dir, "api.sock");
  const child = new Deno.Command("prlimit", {
    args: [
      "--nofile=128:128",
      Deno.execPath(),
      "run",
      "-A",
      join(import.meta.dirname!, "lasting_child.ts"),
      sock,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const dec = new TextDecoder();
  let out = "", err = "";
  const pump = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    for await (const c of s) add(dec.decode(c));
  };
  const pumps = [pump(child.stdout, (x) => out += x), pump(child.stderr, (x) => err += x)];
  const ask = async () => {
    const c = await Deno.connect({ transport: "unix", path: sock });
    try {
      await c.write(new TextEncoder().encode("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"));
      const b = new Uint8Array(512);
      let timer: ReturnType<typeof setTimeout> | undefined;
      // a connection left in the backlog of a server that stopped is never answered
      const n = await Promise.race([
        c.read(b),
        new Promise<null>((r) => timer = setTimeout(() => r(null), 1000)),
      ]);
      clearTimeout(timer);
      return n ? dec.decode(b.subarray(0, n)) : "";
    } finally {
      c.close();
    }
  };
  try {
    await until("the child out of descriptors", () => out.includes("full") || undefined, 20_000);
    // a connection waits in the backlog; accepting it fails: the server stops (it may be listening
    // again between two tries, and a connect that meets it then is reset: try again)
    const waiting = [
      await until(
        "a connection to wait in the backlog",
        async () => {
          try {
            return await Deno.connect({ transport: "unix", path: sock });
          } catch (e) {
            if (
              e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.ConnectionRefused
            ) return undefined;
            throw e;
          }
        },
        10_000,
        100,
      ),
    ];
    await until(
      "the failure said",
      () => /api\.sock failed: Too many open files/.test(err) || undefined,
      10_000,
    ).catch((e) => {
      throw new Error(`${e.message}\nstderr: ${err}\nstdout: ${out}`);
    });
    for (const c of waiting) c.close();
    await new Promise((r) => setTimeout(r, 1500)); // a try to listen again, out of descriptors still
    Deno.writeTextFileSync(`${sock}.free`, "");
    await until("descriptors back", () => out.includes("freed") || undefined, 5000);
    // asked until it answers, and until it says so (the first answer 2 s after the last failure)
    await until("an answer again, said", async () => {
      try {
        return ((await ask()).includes("ok") && /works again/.test(err)) || undefined;
      } catch {
        return undefined;
      }
    }, 10_000);
    assert.equal(err.match(/ERROR: serving the HTTP API on unix:.* failed: /g)?.length, 1, err);
    assert.match(err, /INFO: serving the HTTP API on unix:.* works again/);
    Deno.writeTextFileSync(`${sock}.stop`, "");
    let stopTimer: ReturnType<typeof setTimeout> | undefined;
    const st = await Promise.race([
      child.status,
      new Promise<never>((_, no) => {
        stopTimer = setTimeout(() => no(new Error(`the child did not stop: ${err}`)), 10_000);
      }),
    ]).finally(() => clearTimeout(stopTimer));
    assert.equal(st.code, 0, err);
    assert.match(out, /stopped/);
  } finally {
    try {
      child.kill();
    } catch { /* ended */ }
    await Promise.allSettled(pumps);
  }
});
