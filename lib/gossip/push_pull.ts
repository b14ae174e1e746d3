/**
 * Push-pull: full state exchange over the transport's stream (HTTP POST in real agents),
 * sealed with the keyring. Periodic with a random alive node, on join, and towards one random
 * dead node per period so partitions heal (the peer's own record counts as strong evidence).
 */
import type { MemberRecord } from "../types.ts";
import { type PeerAddr, peerKey } from "../transport/mod.ts";
import { decodePushPull, encodePushPull } from "./codec.ts";
import type { EngineCore } from "./core.ts";

/** Deadline of one push-pull exchange. */
export const PUSH_PULL_TIMEOUT = 5000;

/** `interval` stretched above 32 nodes like memberlist, so push-pull load stays flat. */
export function pushPullInterval(interval: number, nodes: number): number {
  if (nodes <= 32) return interval;
  return interval * (Math.ceil(Math.log2(nodes) - Math.log2(32)) + 1);
}

export class PushPull {
  #core: EngineCore;

  constructor(core: EngineCore) {
    this.#core = core;
  }

  /** Periodic sync with a random alive node. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, config, random, log } = this.#core.deps;
    const members = this.#core.members;
    while (this.#core.running) {
      await clock.sleep(pushPullInterval(config.push_pull_interval, members.size), signal);
      if (!this.#core.running || members.leaving) continue;
      const peers = members.records().filter((r) => r.state === "alive" && r.uuid !== members.selfUuid);
      if (!peers.length) continue;
      const p = peers[Math.floor(random() * peers.length)];
      await this.exchange(p, false).catch((err) => log.debug(`push-pull with ${p.name}: ${err.message}`));
    }
  }

  /** Tries one random dead node each period: heals partitions and revives paused nodes. */
  async reconnect(signal: AbortSignal): Promise<void> {
    const { clock, config, random } = this.#core.deps;
    const members = this.#core.members;
    while (this.#core.running) {
      await clock.sleep(config.push_pull_interval, signal);
      if (!this.#core.running || members.leaving) continue;
      const dead = members.records().filter((r) => r.state === "dead");
      if (!dead.length) continue;
      await this.exchange(dead[Math.floor(random() * dead.length)], false).catch(() => {});
    }
  }

  #body(join: boolean): Uint8Array {
    const nodes: Record<string, MemberRecord> = {};
    for (const r of this.#core.members.records()) nodes[r.uuid] = r;
    return encodePushPull({ type: "push-pull-msg", join, nodes, from: this.#core.members.selfUuid });
  }

  /** Full state exchange with a peer; resolves true when its table was merged. */
  async exchange(peer: PeerAddr, join: boolean): Promise<boolean> {
    const { keyring, transport, counters } = this.#core.deps;
    const body = await keyring.seal(this.#body(join));
    const answer = await transport.request({ addr: peer.addr, port: peer.port }, body, PUSH_PULL_TIMEOUT);
    const plain = await keyring.open(answer);
    if (!plain) {
      this.#core.traffic.droppedAuth++;
      throw new Error("answer not authenticated by any key in the keyring");
    }
    const d = decodePushPull(plain);
    if (!d.ok) throw new Error(`bad push-pull answer: ${d.error}`);
    if (!this.#core.running) return false;
    this.#core.members.merge(Object.values(d.value.nodes), d.value.from ?? null);
    counters.inc("gossip_push_pull_total", { role: "client" });
    return true;
  }

  /** Answers a peer's push-pull: merge its table, send ours. Throws when refused. */
  async serve(data: Uint8Array, from: PeerAddr): Promise<Uint8Array> {
    const { keyring, counters, log } = this.#core.deps;
    const plain = await keyring.open(data);
    if (!plain) {
      this.#core.traffic.droppedAuth++;
      throw new Error("push-pull not authenticated by any key in the keyring");
    }
    const d = decodePushPull(plain);
    if (!d.ok) {
      this.#core.traffic.droppedMalformed++;
      throw new Error(`bad push-pull: ${d.error}`);
    }
    if (!this.#core.running) throw new Error("gossip is stopped");
    this.#core.members.merge(Object.values(d.value.nodes), d.value.from ?? null);
    counters.inc("gossip_push_pull_total", { role: "server" });
    if (d.value.join) log.debug(`join push-pull from ${peerKey(from)}`);
    return await keyring.seal(this.#body(false));
  }

  /** Joins through one peer (`kunai join`, seeds); false when it fails. */
  async join(peer: PeerAddr): Promise<boolean> {
    try {
      return await this.exchange(peer, true);
    } catch (err) {
      this.#core.deps.log.info(`join ${peerKey(peer)} failed: ${(err as Error).message}`);
      return false;
    }
  }
}
