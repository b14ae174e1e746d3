/**
 * Joining at start: the configured seeds, then the peers remembered from the last run, retried
 * with a doubling back-off until one answers, somebody joins us, or the agent stops.
 */
import type { Clock } from "../clock/mod.ts";
import type { Logger } from "../log/mod.ts";
import { parsePeer, type PeerAddr, peerKey, type Random, shuffle } from "../transport/mod.ts";

export interface SeedJoinOptions {
  seeds: string[];
  /** Peers remembered from the last run (peers_file.ts). */
  saved: PeerAddr[];
  defaultPort: number;
  /** Our own address (never joined). */
  self: PeerAddr;
  /** Known nodes, ourselves included: above 1, somebody joined us meanwhile. */
  size(): number;
  join(peer: PeerAddr): Promise<boolean>;
  clock: Clock;
  random: Random;
  log: Logger;
  maxBackoffMs: number;
  signal: AbortSignal;
}

/** The seeds to try, malformed ones and ourselves left out (with a warning for the malformed). */
export function seedPeers(seeds: string[], defaultPort: number, self: PeerAddr, log: Logger): PeerAddr[] {
  const out: PeerAddr[] = [];
  for (const text of seeds) {
    const peer = parsePeer(text, defaultPort);
    if (!peer) {
      log.warn(`seeds: ignoring malformed seed ${JSON.stringify(text)} (expected addr[:port])`);
      continue;
    }
    if (peerKey(peer) !== peerKey(self)) out.push(peer);
  }
  return out;
}

/** Runs until joined (true) or stopped (false). */
export async function joinSeeds(o: SeedJoinOptions): Promise<boolean> {
  const seeds = seedPeers(o.seeds, o.defaultPort, o.self, o.log);
  const known = new Set([...seeds.map(peerKey), peerKey(o.self)]);
  const saved = o.saved.filter((s) => !known.has(peerKey(s)));
  if (!seeds.length && !saved.length) return false;
  if (saved.length) o.log.info(`will also try ${saved.length} peer(s) known from the last run`);
  let backoff = 1000;
  while (!o.signal.aborted) {
    if (o.size() > 1) return true; // somebody joined us meanwhile
    for (const s of [...shuffle(o.random, [...seeds]), ...shuffle(o.random, [...saved])]) {
      if (o.signal.aborted) return false;
      if (await o.join(s)) {
        o.log.info(`joined the cluster through ${peerKey(s)} (${o.size()} node(s) known)`);
        return true;
      }
    }
    const msg = `no seed answered; retrying in ${Math.round(backoff / 1000)} s`;
    if (seeds.length) o.log.warn(msg);
    else o.log.info(`${msg} (peers known from the last run)`);
    await o.clock.sleep(backoff, o.signal);
    backoff = Math.min(backoff * 2, o.maxBackoffMs);
  }
  return false;
}
