/**
 * Known peers saved under the data dir, so a restarted agent rejoins its cluster even without
 * `seeds` (like Serf's snapshot). Only addresses are kept; the table itself is re-learned.
 */
import { writeAtomic } from "../fs/mod.ts";
import { parsePeer, type PeerAddr, peerKey } from "../transport/mod.ts";
import type { MemberRecord } from "../types.ts";

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
  try {
    writeAtomic(path, JSON.stringify({ peers }, null, 2));
    return true;
  } catch {
    return false;
  }
}
