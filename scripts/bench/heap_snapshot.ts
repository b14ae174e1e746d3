/**
 * What a running Deno process's V8 heap holds: a heap snapshot over the inspector (Chrome DevTools
 * Protocol), summarised as self size by node type (code, strings, closures, arrays...) and by the
 * largest (type, name) groups. Start the agent with `deno run --inspect=127.0.0.1:9229 -A main.ts
 * agent start ...`, then run this (the snapshot itself runs a full collection first).
 *
 *   deno run -A scripts/bench/heap_snapshot.ts --port 9229 [--top 40] [--out h.heapsnapshot]
 *   deno run -A scripts/bench/heap_snapshot.ts --in h.heapsnapshot [--top 40]
 */
import { parseArgs } from "node:util";
import { connectCdp } from "./cdp.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "9229" },
    top: { type: "string", default: "40" },
    out: { type: "string" },
    in: { type: "string" },
  },
});

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

async function capture(): Promise<string> {
  const cdp = await connectCdp(values.port);
  const chunks: string[] = [];
  cdp.on("HeapProfiler.addHeapSnapshotChunk", (p) => chunks.push(String(p.chunk)));
  await cdp.send("HeapProfiler.enable");
  await cdp.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  cdp.close();
  return chunks.join("");
}

const text = values.in ? await Deno.readTextFile(values.in) : await capture();
if (values.out) await Deno.writeTextFile(values.out, text);
const snap: Snapshot = JSON.parse(text);
const fields = snap.snapshot.meta.node_fields;
const types = snap.snapshot.meta.node_types[0];
const width = fields.length;
const fType = fields.indexOf("type"), fName = fields.indexOf("name"), fSize = fields.indexOf("self_size");
const byType = new Map<string, [number, number]>();
const byName = new Map<string, [number, number]>();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + fType]];
  const size = snap.nodes[i + fSize];
  total += size;
  const t = byType.get(type) ?? [0, 0];
  t[0] += size;
  t[1]++;
  byType.set(type, t);
  let name = snap.strings[snap.nodes[i + fName]] ?? "";
  if (type === "string" || type === "concatenated string" || type === "sliced string") name = "";
  if (name.length > 60) name = name.slice(0, 57) + "...";
  const k = `${type} ${name}`;
  const n = byName.get(k) ?? [0, 0];
  n[0] += size;
  n[1]++;
  byName.set(k, n);
}
const kb = (b: number) => (b / 1024).toFixed(0).padStart(7);
console.log(`heap ${kb(total)} kB in ${snap.nodes.length / width} objects`);
console.log("by type (kB, objects):");
for (const [t, [s, c]] of [...byType].sort((a, b) => b[1][0] - a[1][0])) {
  console.log(`${kb(s)}  ${String(c).padStart(7)}  ${t}`);
}
console.log("by type and name:");
for (const [k, [s, c]] of [...byName].sort((a, b) => b[1][0] - a[1][0]).slice(0, Number(values.top))) {
  console.log(`${kb(s)}  ${String(c).padStart(7)}  ${k}`);
}
