/**
 * process_open_fds: the count follows the descriptors the process opens and closes. Measured in a
 * child process of its own: under `deno test --parallel` other test modules share this process and
 * open and close descriptors between any two readings (the test once read 74 against 69 in CI).
 */
import assert from "node:assert/strict";

const CHILD = `
import { openFds } from ${JSON.stringify(new URL("../../lib/process_metrics/mod.ts", import.meta.url).href)};
const before = openFds();
let listed = 0;
for (const _ of Deno.readDirSync("/proc/self/fd")) listed++;
// Linux 6.2+ answers with one stat; the listing (older kernels) holds one descriptor of its own
const counted = Deno.statSync("/proc/self/fd").size > 0 ? listed - 1 : listed;
const files = [Deno.openSync("/proc/self/stat"), Deno.openSync("/proc/self/statm")];
const opened = openFds();
files.forEach((f) => f.close());
console.log(JSON.stringify({ before, counted, opened, closed: openFds() }));
`;

Deno.test("process metrics: open_fds counts this process's descriptors", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", CHILD],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.ok(r.before > 2, `stdin, stdout and stderr at least: ${r.before}`);
  assert.equal(r.before, r.counted);
  assert.equal(r.opened, r.before + 2);
  assert.equal(r.closed, r.before);
});
