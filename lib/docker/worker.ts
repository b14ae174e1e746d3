/**
 * The docker Worker: it may touch only the Engine API socket path (net `unix:<path>`, read/write
 * `<path>`, which Deno requires for unix sockets); cgroup files and the mount table come through
 * the read broker.
 */
import { brokerRead, brokerTryRead, serve } from "../sandbox/worker_kit.ts";
import { unixGet, unixGetJson } from "./http_unix.ts";
import { containerDirs, fromV1, fromV2, parseCgroupMounts } from "./cgroups.ts";
import type { CgroupReply, CgroupRequest, PollReply, PollRequest } from "./protocol.ts";

type Obj = Record<string, unknown>;

const tryRead = brokerTryRead;

/** First candidate dir holding `file`, with its text. */
async function findFile(mnt: string, id: string, file: string): Promise<string | null> {
  for (const d of containerDirs(mnt, id)) {
    const t = await tryRead(`${d}/${file}`);
    if (t !== null) return t;
  }
  return null;
}

serve({
  async poll(req: PollRequest): Promise<PollReply> {
    const s = req.socket;
    const version = await unixGetJson<Obj>(s, "/version");
    const list = await unixGetJson<Obj[]>(s, "/containers/json");
    const containers: Obj[] = [];
    for (const c of list) {
      containers.push(await unixGetJson<Obj>(s, `/containers/${encodeURIComponent(String(c.Id))}/json`));
    }
    const images = await unixGetJson<Obj[]>(s, "/images/json");
    const events: Obj[] = [];
    let events_error: string | undefined;
    if (req.since !== null) {
      const r = await unixGet(s, `/events?since=${req.since}&until=${req.until}`);
      if (r.status !== 200) events_error = `HTTP ${r.status}: ${r.body.slice(0, 200)}`;
      else {
        for (const line of r.body.split("\n")) {
          if (!line.trim()) continue;
          try {
            events.push(JSON.parse(line));
          } catch { /* partial line: skipped */ }
        }
      }
    }
    return events_error === undefined
      ? { version, containers, images, events }
      : { version, containers, images, events, events_error };
  },
  async cgroups(req: CgroupRequest): Promise<CgroupReply> {
    const mounts = parseCgroupMounts(await brokerRead(req.mountsPath));
    const out: CgroupReply = {};
    for (const id of req.ids) {
      try {
        if (mounts.memory) {
          const mem = await findFile(mounts.memory, id, "memory.stat");
          if (mem !== null) {
            out[id] = fromV1(mem, mounts.cpuacct ? await findFile(mounts.cpuacct, id, "cpuacct.stat") : null);
            continue;
          }
        }
        if (mounts.unified) {
          const mem = await findFile(mounts.unified, id, "memory.stat");
          if (mem !== null) {
            out[id] = fromV2(
              mem,
              await findFile(mounts.unified, id, "cpu.stat"),
              await findFile(mounts.unified, id, "memory.swap.current"),
            );
            continue;
          }
        }
        out[id] = { error: "no cgroup directory found for this container" };
      } catch (err) {
        out[id] = { error: (err as Error).message };
      }
    }
    return out;
  },
});
