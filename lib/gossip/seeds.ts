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

/** How long a seed's host name may take to resolve at a check before it counts as not found. */
const RESOLVE_TIMEOUT_MS = 5000;

export interface ReseedOptions {
  seeds: string[];
  defaultPort: number;
  self: PeerAddr;
  /** The members we know, ourselves included. */
  members(): Array<{ addr: string; port: number; state: string }>;
  join(peer: PeerAddr): Promise<boolean>;
  /** The addresses a seed's host name has now (default: DNS A and AAAA, `/etc/hosts` first). */
  resolve?: (host: string, signal: AbortSignal) => Promise<string[]>;
  clock: Clock;
  random: Random;
  log: Logger;
  everyMs: number;
  signal: AbortSignal;
}

/**
 * Once joined, every `everyMs`: when no seed is alive or suspect among our members, joins one of
 * them again. A group that lost the seeds (nodes restarted in a minority partition that joined each
 * other, or that reaped the others during a long cut) otherwise never finds the rest of the cluster:
 * the start's join stops at the first answer, and the reconnect loop only tries the dead members it
 * still holds. A member is known by its address, so a seed given as a host name is resolved at each
 * check (one that does not resolve counts as absent; the join then goes to the name itself).
 */
export async function keepSeedsJoined(o: ReseedOptions): Promise<void> {
  const seeds = seedPeers(o.seeds, o.defaultPort, o.self, o.log);
  if (!seeds.length) return;
  const resolve = o.resolve ?? resolveHost;
  while (!o.signal.aborted) {
    await o.clock.sleep(o.everyMs, o.signal);
    if (o.signal.aborted) return;
    const seen = new Set(
      o.members().filter((m) => m.state === "alive" || m.state === "suspect").map((m) => peerKey(m)),
    );
    if (await anySeedSeen(seeds, seen, resolve, o)) continue;
    if (o.signal.aborted) return;
    const s = seeds[Math.floor(o.random() * seeds.length)];
    const joined = await o.join(s).catch(() => false);
    if (joined) o.log.info(`no seed was among the members: joined again through ${peerKey(s)}`);
    else o.log.debug(`no seed is among the members, and ${peerKey(s)} did not answer`);
  }
}

/** True when a seed (an address, or any address its host name resolves to now) is in `seen`. */
async function anySeedSeen(
  seeds: PeerAddr[],
  seen: Set<string>,
  resolve: (host: string, signal: AbortSignal) => Promise<string[]>,
  o: ReseedOptions,
): Promise<boolean> {
  if (seeds.some((s) => seen.has(peerKey(s)))) return true;
  for (const s of seeds) {
    if (isIpLiteral(s.addr) || o.signal.aborted) continue;
    let addrs: string[];
    try {
      addrs = await resolve(s.addr, AbortSignal.any([o.signal, AbortSignal.timeout(RESOLVE_TIMEOUT_MS)]));
    } catch (err) {
      o.log.debug(`seed ${peerKey(s)} did not resolve: ${(err as Error).message}`);
      continue;
    }
    if (addrs.some((addr) => seen.has(peerKey({ addr, port: s.port })))) return true;
  }
  return false;
}

function isIpLiteral(addr: string): boolean {
  return addr.includes(":") || /^[\d.]+$/.test(addr);
}

/** A host name's IPv4 and IPv6 addresses (`Deno.resolveDns` reads `/etc/hosts` first). */
export async function resolveHost(host: string, signal: AbortSignal): Promise<string[]> {
  const [v4, v6] = await Promise.allSettled([
    Deno.resolveDns(host, "A", { signal }),
    Deno.resolveDns(host, "AAAA", { signal }),
  ]);
  const out = [
    ...(v4.status === "fulfilled" ? v4.value : []),
    ...(v6.status === "fulfilled" ? v6.value : []),
  ];
  if (!out.length && v4.status === "rejected") throw v4.reason;
  return out;
}
