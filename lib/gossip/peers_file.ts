/**
 * Known peers saved under the data dir, so a restarted agent rejoins its cluster even without
 * `seeds` (like Serf's snapshot). Only addresses are kept; the table itself is re-learned.
 */
import { existsNoThrow, writeAtomic } from "../fs/mod.ts";
import { parsePeer, type PeerAddr, peerKey } from "../transport/mod.ts";
import type { MemberRecord } from "../types.ts";

/** The alive set (uuid@addr:port) last written to each peers file. */
const LAST_SAVED = new Map<string, string>();

/** At most this many peers are remembered (a random sample of the alive ones). */
export const MAX_SAVED_PEERS = 32;

/** Reads saved peers; a missing or damaged file gives none. */
export function loadPeers(path: string, defaultPort: number): PeerAddr[] {
  try {
    const j = JSON.parse(Deno.readTextFileSync(path));
    if (!Array.isArray(j?.peers)) return [];
    return j.peers
      .filter((p: unknown): p is string => typeof p === "string")
      .map((p: string) => parsePeer(p, defaultPort))
      .filter((p: PeerAddr | null): p is PeerAddr => p !== null)
      .slice(0, MAX_SAVED_PEERS);
  } catch {
    return [];
  }
}

/** Saves up to MAX_SAVED_PEERS alive peers (not ourselves); false if the file cannot be written. */
export function savePeers(
  path: string,
  members: MemberRecord[],
  selfUuid: string,
  random: () => number,
): boolean {
  const alive = members.filter((m) => m.uuid !== selfUuid && m.state === "alive");
  for (let i = alive.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [alive[i], alive[j]] = [alive[j], alive[i]];
  }
  const peers = alive.slice(0, MAX_SAVED_PEERS).map((m) =>
    peerKey(m.addr.includes(":") ? { addr: `[${m.addr}]`, port: m.port } : m)
  );
  // the same alive set as the file already holds (a lone agent's empty list, a stable cluster): the
  // file is left as it is rather than rewritten and renamed every minute
  const sig = alive.map((m) => `${m.uuid}@${m.addr}:${m.port}`).sort().join(",");
  if (LAST_SAVED.get(path) === sig && existsNoThrow(path)) return true;
  try {
    writeAtomic(path, JSON.stringify({ peers }, null, 2));
    LAST_SAVED.set(path, sig);
    return true;
  } catch {
    LAST_SAVED.delete(path);
    return false;
  }
}
