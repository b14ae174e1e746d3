/**
 * A unix socket the agent serves on never exists with a wider mode than it is given, even for the
 * moment between bind(2) and a chmod: under umask 0 that moment let any user connect. The child runs
 * under umask 0 (the test process keeps its umask).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { SHARED_DENO_DIR, tempDir } from "../helpers.ts";

Deno.test("a unix socket is never reachable with a wider mode than its own, even under umask 0", async () => {
  using t = tempDir();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(import.meta.dirname!, "socket_mode_child.ts"), t.dir],
    env: SHARED_DENO_DIR,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  const r = JSON.parse(dec.decode(out.stdout));
  assert.equal(r.seen.length, 2);
  for (const [i, s] of r.seen.entries()) {
    const bits = i === 0 ? 0o600 : 0o660;
    // at its path: not there yet, or already with its mode
    assert.ok(s.path === null || (s.path & ~bits) === 0, `at its path: 0${s.path?.toString(8)}`);
    // bound elsewhere: where only the agent's user may go
    if (!s.same) assert.equal(s.boundDir & 0o077, 0, `bound in a dir 0${s.boundDir?.toString(8)}`);
    else assert.ok((s.bound & ~bits) === 0, `bound in place 0${s.bound?.toString(8)}`);
  }
  assert.equal(r.afterLasting, 0o660);
  assert.equal(r.apiMode, 0o660);
  // nothing left beside the sockets (the private directories are gone)
  assert.deepEqual(r.entries, ["api.sock", "kunai.sock"]);
});
