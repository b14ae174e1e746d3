/**
 * The keyring on disk: `<data>/keyring.json` (0600) keeps runtime rotations (`kunai keys ...`)
 * across restarts and wins over the configuration, as Serf's and Consul's keyring files do: once it
 * holds keys, a configured key (`encryption_key`, `encryption_keys`) it does not hold is not
 * installed (said through `warn`), so a key a rotation removed (a leaked one) is not accepted again
 * because local.json still names it. Without the file, the configured keys are the ring.
 *
 * ```ts
 * const ring = await loadKeyring({ file, configured: [p.encryption_key], label: p.gossip.label });
 * saveKeyring(file, ring);
 * ```
 */
import { writeAtomic } from "../fs/mod.ts";
import { KeyError, Keyring } from "./keyring.ts";

export interface KeyringSource {
  /** `<data>/keyring.json`. */
  file: string;
  /** Keys from the configuration (empty strings ignored). */
  configured: string[];
  /** Cluster label (authenticated with every packet). */
  label: string;
  /** Told about configured keys left out because the saved keyring wins. */
  warn?: (message: string) => void;
}

/** Loads the persisted keys first, then the configured ones; KeyError names where a bad key came from. */
export async function loadKeyring(src: KeyringSource): Promise<Keyring> {
  const configured = src.configured.filter((k) => k && k.trim());
  let saved: string[] = [];
  let primaryAt = 0;
  let text: string | null = null;
  try {
    text = Deno.readTextFileSync(src.file);
  } catch (err) {
    // none saved yet; a file we cannot read must not be taken for none: the rotated keys would be
    // lost without a word, and the node cut off from the cluster's traffic
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new KeyError(`${src.file}: cannot read the saved keys: ${(err as Error).message}`);
    }
  }
  if (text !== null) {
    let j: { keys?: unknown; primary_at?: unknown } | null = null;
    try {
      j = JSON.parse(text);
    } catch { /* said below */ }
    if (!j || typeof j !== "object" || !Array.isArray(j.keys)) {
      throw new KeyError(
        `${src.file}: damaged (${text.trim() ? "not a JSON object with a keys list" : "empty"}); ` +
          "move it aside to start with the configured keys only (encryption_key), then install the cluster's keys again",
      );
    }
    saved = j.keys.filter((k: unknown): k is string => typeof k === "string");
    if (Number.isSafeInteger(j.primary_at) && (j.primary_at as number) > 0) {
      primaryAt = j.primary_at as number;
    }
  }
  const ring = await Keyring.create([], src.label);
  if (saved.length) {
    const ignored = configured.filter((k) => !saved.includes(k.trim()));
    if (ignored.length) {
      src.warn?.(
        `${src.file} holds the keys since a runtime rotation (kunai keys ...) and wins over the configuration: ` +
          `configured key(s) ${ignored.map((k) => `${k.trim().slice(0, 6)}…`).join(", ")} not installed ` +
          "(a key removed from the cluster stays removed); to start from the configured keys instead, " +
          "stop the agent and move that file aside",
      );
    }
  }
  for (const k of saved.length ? saved : configured) {
    try {
      await ring.install(k);
    } catch (err) {
      throw new KeyError(`${saved.includes(k) ? src.file : "encryption_key(s)"}: ${(err as Error).message}`);
    }
  }
  if (saved.length) ring.primaryAt = primaryAt; // the stamp belongs to the saved primary
  return ring;
}

/** Writes the installed keys, primary first, and when the primary's `use` was issued; atomically, 0600. */
export function saveKeyring(file: string, ring: Keyring): void {
  const { keys } = ring.list();
  const body = ring.primaryAt ? { keys, primary_at: ring.primaryAt } : { keys };
  writeAtomic(file, JSON.stringify(body, null, 2), { mode: 0o600, mkdir: true, fsync: true });
}
