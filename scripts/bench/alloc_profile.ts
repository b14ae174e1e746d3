/**
 * Where a running Deno process allocates: V8's sampling heap profiler over the inspector
 * (Chrome DevTools Protocol), counting the objects the garbage collector already took back too, so
 * the figures are allocation (what makes scavenges), not what stays. Start the agent with
 * `deno run --inspect=127.0.0.1:9229 -A main.ts agent start ...`, let it warm up, then run this.
 *
 *   deno run -A scripts/bench/alloc_profile.ts --port 9229 --seconds 120 [--interval 4096] [--top 40] [--out p.heapprofile]
 *   deno run -A scripts/bench/alloc_profile.ts --in p.heapprofile --seconds 120   (a saved profile)
 *
 * Prints bytes allocated by function (self; a built-in such as `push` with the agent's function
 * that called it) and by the agent's own functions (inclusive).
 *
 * `--promoted` leaves out what the scavenger took back: what is left is what outlived the young
 * generation (promoted to the old one, live or collected since by a mark-compact), the inflow that
 * grows the old generation between mark-compacts.
 */
import { parseArgs } from "node:util";
import { connectCdp } from "./cdp.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "9229" },
    seconds: { type: "string", default: "60" },
    interval: { type: "string", default: "4096" },
    top: { type: "string", default: "40" },
    out: { type: "string" },
    in: { type: "string" },
    promoted: { type: "boolean", default: false },
  },
});

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

const profile: { head: HeapNode } = values.in
  ? JSON.parse(await Deno.readTextFile(values.in))
  : await capture();

async function capture(): Promise<{ head: HeapNode }> {
  const cdp = await connectCdp(values.port);
  const send = cdp.send;

  await send("HeapProfiler.enable");
  await send("HeapProfiler.startSampling", {
    samplingInterval: Number(values.interval),
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: !values.promoted,
  });
  await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
  const { profile } = await send("HeapProfiler.stopSampling") as { profile: { head: HeapNode } };
  cdp.close();
  if (values.out) await Deno.writeTextFile(values.out, JSON.stringify(profile));
  return profile;
}

const self = new Map<string, number>();
const incl = new Map<string, number>();
const ours = (url: string) => /\/(lib|cli)\/|main\.(js|ts)$/.test(url);
const label = (cf: CallFrame) =>
  `${cf.functionName || "(anonymous)"} ${cf.url.replace(/^.*\/(lib|cli)\//, "$1/").replace(/^.*\//, "")}:${
    cf.lineNumber + 1
  }`;
let total = 0;
/** Walks the tree; returns the bytes under `n` (itself included). */
function walk(n: HeapNode, stack: Set<string>, caller = ""): number {
  // a built-in (no script) is named with the agent's function it was called from
  const k = label(n.callFrame) + (n.callFrame.url === "" && caller ? ` < ${caller}` : "");
  self.set(k, (self.get(k) ?? 0) + n.selfSize);
  total += n.selfSize;
  const mine = ours(n.callFrame.url) && !stack.has(k);
  if (mine) stack.add(k);
  let under = n.selfSize;
  const by = ours(n.callFrame.url) ? label(n.callFrame) : caller;
  for (const c of n.children) under += walk(c, stack, by);
  if (mine) {
    stack.delete(k);
    incl.set(k, (incl.get(k) ?? 0) + under);
  }
  return under;
}
walk(profile.head, new Set());
const secs = Number(values.seconds);
const kb = (b: number) => (b / 1024).toFixed(0).padStart(8);
console.log(
  `allocated ${(total / 1048576).toFixed(1)} MB in ${secs} s (${(total / 1024 / secs).toFixed(0)} kB/s)`,
);
console.log("inclusive, the agent's functions (kB):");
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
  console.log(`${kb(v)}  ${k}`);
}
console.log("self (kB):");
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
  console.log(`${kb(v)}  ${k}`);
}
