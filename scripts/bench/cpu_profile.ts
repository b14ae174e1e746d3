/**
 * A sampling CPU profile of a running Deno process started with `--inspect` (Chrome DevTools
 * Protocol over the inspector's websocket), summarised: self time by function and by category
 * (GC, V8's own, idle), inclusive time of the agent's own functions, and the main thread's wake-ups
 * (samples grouped by gaps of idle). Start the agent with `deno run --inspect=127.0.0.1:9229 -A
 * main.ts agent start ...` (its re-exec keeps the flag), let it warm up, then run this.
 *
 *   deno run -A scripts/bench/cpu_profile.ts --port 9229 --seconds 120 [--interval-us 250] [--out p.cpuprofile] [--top 40]
 *   deno run -A scripts/bench/cpu_profile.ts --in p.cpuprofile [--wake-detail 15]   (a saved profile)
 *
 * `--wake-detail MS` lists, for each wake-up of MS milliseconds or more, the agent's functions that
 * took most of it (inclusive), to tell what makes one round dearer than the others.
 */
import { parseArgs } from "node:util";
import { connectCdp } from "./cdp.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "9229" },
    seconds: { type: "string", default: "60" },
    "interval-us": { type: "string", default: "250" },
    out: { type: "string" },
    top: { type: "string", default: "40" },
    in: { type: "string" },
    "wake-detail": { type: "string" },
  },
});

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const profile: Profile = values.in ? JSON.parse(await Deno.readTextFile(values.in)) : await capture();

async function capture(): Promise<Profile> {
  const cdp = await connectCdp(values.port);
  const send = cdp.send;

  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: Number(values["interval-us"]) });
  await send("Profiler.start");
  await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
  const { profile } = await send("Profiler.stop") as { profile: Profile };
  cdp.close();
  if (values.out) await Deno.writeTextFile(values.out, JSON.stringify(profile));
  return profile;
}

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfUs = new Map<string, number>();
const catUs = new Map<string, number>();
const fileUs = new Map<string, number>();
const interval = Number(values["interval-us"]);
let busyUs = 0;
// wake-ups: runs of non-idle samples separated by >= 50 ms of idle samples
const wakes: { at: number; us: number; top: string; samples: number[] }[] = [];
let t = profile.startTime;
let lastBusy = -Infinity;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i];
  const dt = profile.timeDeltas[i + 1] ?? interval;
  const node = byId.get(profile.samples[i])!;
  const name = node.callFrame.functionName || "(anonymous)";
  if (name === "(idle)") continue;
  const key = `${name} ${node.callFrame.url.replace(/^.*\//, "")}:${node.callFrame.lineNumber + 1}`;
  selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
  const file = node.callFrame.url.replace(/^.*\//, "") || name;
  fileUs.set(file, (fileUs.get(file) ?? 0) + dt);
  const cat = name.startsWith("(") ? name : "js";
  catUs.set(cat, (catUs.get(cat) ?? 0) + dt);
  busyUs += dt;
  if (t - lastBusy > 50_000) {
    // find a root-most frame of ours for a label
    let id: number | undefined = node.id, label = key;
    while (id !== undefined) {
      const n = byId.get(id)!;
      if (n.callFrame.url.includes("kunai") || n.callFrame.url.includes("main.js")) {
        label = `${n.callFrame.functionName}:${n.callFrame.lineNumber + 1}`;
      }
      id = parent.get(id);
    }
    wakes.push({ at: (t - profile.startTime) / 1e6, us: 0, top: label, samples: [] });
  }
  wakes[wakes.length - 1].us += dt;
  wakes[wakes.length - 1].samples.push(i);
  lastBusy = t;
}
const secs = (profile.endTime - profile.startTime) / 1e6;
console.log(
  `window ${secs.toFixed(1)} s, busy ${(busyUs / 1000).toFixed(1)} ms (${
    (busyUs / 1e4 / secs).toFixed(3)
  } %)`,
);
console.log("categories:", [...catUs].map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} ms`).join(", "));
console.log(`wake-ups: ${wakes.length}`);
const detailMs = values["wake-detail"] === undefined ? Infinity : Number(values["wake-detail"]);
for (const w of wakes) {
  console.log(`  +${w.at.toFixed(2)} s ${(w.us / 1000).toFixed(2)} ms ${w.top}`);
  if (w.us / 1000 < detailMs) continue;
  const incl = inclusive(w.samples);
  for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    console.log(`      ${(v / 1000).toFixed(2).padStart(6)} ms  ${k}`);
  }
}
console.log(
  "by file:",
  [...fileUs].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`).join(
    ", ",
  ),
);
const inclUs = inclusive(profile.samples.map((_, i) => i));
console.log("inclusive, the agent's functions:");
for (const [k, v] of [...inclUs].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
  console.log(`${(v / 1000).toFixed(2).padStart(8)} ms  ${k}`);
}
console.log("self:");
const top = [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
for (const [k, v] of top) console.log(`${(v / 1000).toFixed(2).padStart(8)} ms  ${k}`);

/** Inclusive time of the agent's functions over these samples (indexes into profile.samples). */
function inclusive(indexes: number[]): Map<string, number> {
  // each sample counts once for every distinct function of ours on its stack
  const incl = new Map<string, number>();
  const ours = (url: string) => /\/(lib|cli)\/|main\.(js|ts)$/.test(url);
  for (const i of indexes) {
    const dt = profile.timeDeltas[i + 1] ?? interval;
    let id: number | undefined = profile.samples[i];
    if (byId.get(id)!.callFrame.functionName === "(idle)") continue;
    const seen = new Set<string>();
    for (; id !== undefined; id = parent.get(id)) {
      const cf = byId.get(id)!.callFrame;
      if (!ours(cf.url)) continue;
      const k = `${cf.functionName || "(anonymous)"} ${cf.url.replace(/^.*\/(lib|cli)\//, "$1/")}:${
        cf.lineNumber + 1
      }`;
      if (!seen.has(k)) incl.set(k, (incl.get(k) ?? 0) + dt);
      seen.add(k);
    }
  }
  return incl;
}
