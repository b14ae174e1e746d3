/**
 * Joining at start: the configured seeds, then the peers remembered from the last run, retried
 * with a doubling back-off until one answers, somebody joins us, or the agent stops. Afterwards,
 * `keepSeedsJoined` joins a seed again whenever none is among the members we see.
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

/** How often a joined agent checks that a seed is among its members (see keepSeedsJoined). */
export const RESEED_EVERY_MS = 10 * 60_000;

export interface ReseedOptions {
  seeds: string[];
  defaultPort: number;
  self: PeerAddr;
  /** The members we know, ourselves included. */
  members(): Array<{ addr: string; port: number; state: string }>;
  join(peer: PeerAddr): Promise<boolean>;
  clock: Clock;
  random: Random;
  log: Logger;
  everyMs: number;
  signal: AbortSignal;
}

/**
 * Once joined, every `everyMs`: when no seed given as an address is alive or suspect among our
 * members, joins one of them again. A group that lost the seeds (nodes restarted in a minority
 * partition that joined each other, or that reaped the others during a long cut) otherwise never
 * finds the rest of the cluster: the start's join stops at the first answer, and the reconnect
 * loop only tries the dead members it still holds. Seeds given as host names are left out (a
 * member is known by its address: they would be joined every time).
 */
export async function keepSeedsJoined(o: ReseedOptions): Promise<void> {
  const seeds = seedPeers(o.seeds, o.defaultPort, o.self, o.log).filter((p) => /^[\d.]+$|:/.test(p.addr));
  if (!seeds.length) return;
  while (!o.signal.aborted) {
    await o.clock.sleep(o.everyMs, o.signal);
    if (o.signal.aborted) return;
    const seen = new Set(
      o.members().filter((m) => m.state === "alive" || m.state === "suspect").map((m) => peerKey(m)),
    );
    if (seeds.some((s) => seen.has(peerKey(s)))) continue;
    const s = seeds[Math.floor(o.random() * seeds.length)];
    const joined = await o.join(s).catch(() => false);
    if (joined) o.log.info(`no seed was among the members: joined again through ${peerKey(s)}`);
    else o.log.debug(`no seed is among the members, and ${peerKey(s)} did not answer`);
  }
}
