/**
 * The keyring as gossip's API shows it: listing, cluster-wide install/use/remove (spread by the
 * engine), and persistence of every change to `<data>/keyring.json`.
 */
import type { Logger } from "../log/mod.ts";
import { HttpError } from "../routing/mod.ts";
import { KeyError, type Keyring, saveKeyring } from "../transport/mod.ts";
import type { KeyOpMsg } from "./codec.ts";

export class GossipKeys {
  constructor(
    readonly keyring: Keyring,
    readonly file: string,
    readonly log: Logger,
  ) {}

  list(): { enabled: boolean; primary: string | null; keys: string[] } {
    return { enabled: this.keyring.enabled, ...this.keyring.list() };
  }

  /** Writes the keyring to disk; a failure is logged, never thrown (the running keyring is fine). */
  save(): void {
    try {
      saveKeyring(this.file, this.keyring);
    } catch (err) {
      this.log.warn(`cannot save the keyring to ${this.file}: ${(err as Error).message}`);
    }
  }

  /** Runs a key operation through `spread` (the engine), mapping bad keys to HTTP 400. */
  async op(op: KeyOpMsg["op"], key: string, spread: (op: KeyOpMsg["op"], key: string) => Promise<void>) {
    if (!this.keyring.enabled) {
      throw new HttpError(
        400,
        "encryption is off on this agent: set encryption_key in the configuration first",
      );
    }
    try {
      await spread(op, key);
    } catch (err) {
      if (err instanceof KeyError) throw new HttpError(400, err.message);
      throw err;
    }
  }
}
