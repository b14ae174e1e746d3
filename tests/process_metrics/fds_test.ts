/** process_open_fds: the count follows the descriptors the process opens and closes. */
import assert from "node:assert/strict";
import { openFds } from "../../lib/process_metrics/mod.ts";

Deno.test("process metrics: open_fds counts this process's descriptors", {
  ignore: Deno.build.os !== "linux",
}, () => {
  const before = openFds();
  let listed = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) listed++;
  // Linux 6.2+ answers with one stat; the listing (older kernels) holds one descriptor of its own
  const counted = Deno.statSync("/proc/self/fd").size > 0 ? listed - 1 : listed;
  assert.equal(before, counted);
  const files = [Deno.openSync("/proc/self/stat"), Deno.openSync("/proc/self/statm")];
  try {
    assert.equal(openFds(), before + 2);
  } finally {
    files.forEach((f) => f.close());
  }
  assert.equal(openFds(), before);
});
