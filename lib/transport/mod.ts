/**
 * Transport: how gossip reaches peers. `UdpTransport` for real agents, `SimNetwork` for
 * many-node simulations on a virtual clock.
 */
export {
  type PacketHandler,
  parsePeer,
  type PeerAddr,
  peerKey,
  type RequestHandler,
  type Transport,
  TransportError,
} from "./types.ts";
export { MAX_DATAGRAM, PUSH_PULL_PATH, UdpTransport, type UdpTransportOptions } from "./udp.ts";
export {
  type LinkProfile,
  NodeClock,
  SimNetwork,
  type SimNetworkOptions,
  type SimNode,
  type SimStats,
  SimTransport,
} from "./sim.ts";
export { type Random, randomInt, seededRandom, shuffle } from "./rng.ts";
export { decodeKey, generateKey, KeyError, Keyring, KEYRING_VERSION, SEAL_OVERHEAD } from "./keyring.ts";
export {
  DEFAULT_WINDOW_MS,
  type DropReason,
  ENVELOPE_OVERHEAD,
  type EnvelopeOptions,
  explainDrop,
  type OpenResult,
  PeerEnvelope,
} from "./envelope.ts";
export { type KeyringSource, loadKeyring, saveKeyring } from "./keyring_file.ts";
