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

/**
 * Reads saved peers; a missing file gives none. One that cannot be read or parsed gives none too,
 * said through `warn` (the next save replaces it: the peers it held are gone); a damaged one is
 * first kept as `<path>.damaged`.
 */
export function loadPeers(
  path: string,
  defaultPort: number,
  warn: (msg: string) => void = () => {},
): PeerAddr[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      warn(`cannot read the known peers in ${path} (${(err as Error).message}): rejoining from seeds only`);
    }
    return [];
  }
  let j: { peers?: unknown };
  try {
    j = JSON.parse(text);
  } catch (err) {
    let kept = "";
    try {
      Deno.renameSync(path, `${path}.damaged`);
      kept = `; kept as ${path}.damaged`;
    } catch { /* said below without it */ }
    warn(
      `the known peers in ${path} are damaged (${(err as Error).message})${kept}: rejoining from seeds only`,
    );
    return [];
  }
  if (!Array.isArray(j?.peers)) return [];
  return j.peers
    .filter((p: unknown): p is string => typeof p === "string")
    .map((p: string) => parsePeer(p, defaultPort))
    .filter((p: PeerAddr | null): p is PeerAddr => p !== null)
    .slice(0, MAX_SAVED_PEERS);
}

/** Saves up to MAX_SAVED_PEERS alive peers (not ourselves); why not when the file cannot be written. */
export function savePeers(
  path: string,
  members: MemberRecord[],
  selfUuid: string,
  random: () => number,
): { ok: true } | { ok: false; why: string } {
  const alive = members.filter((m) => m.uuid !== selfUuid && m.state === "alive");
  for (let i = alive.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [alive[i], alive[j]] = [alive[j], alive[i]];
  }
  const peers = alive.slice(0, MAX_SAVED_PEERS).map(peerKey);
  // the same alive set as the file already holds (a lone agent's empty list, a stable cluster): the
  // file is left as it is rather than rewritten and renamed every minute
  const sig = alive.map((m) => `${m.uuid}@${m.addr}:${m.port}`).sort().join(",");
  if (LAST_SAVED.get(path) === sig && existsNoThrow(path)) return { ok: true };
  try {
    writeAtomic(path, JSON.stringify({ peers }, null, 2));
    LAST_SAVED.set(path, sig);
    return { ok: true };
  } catch (err) {
    LAST_SAVED.delete(path);
    return { ok: false, why: (err as Error).message };
  }
}
