/**
 * The snapshot file: `KUNAISNAP1\n`, the manifest's length as 10 decimal digits and `\n`, the
 * manifest (JSON: format, kunai version, node, time, and per part its name, size and sha256), then
 * the parts' bytes one after the other. Reading checks everything before anything is used: magic,
 * manifest, total size (a truncated file is refused) and each part's sha256.
 */

export const MAGIC = "KUNAISNAP1\n";
export const FORMAT = 1;

export interface SnapshotPart {
  /** Database name: `<data>/<name>.db`. */
  name: string;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  format: number;
  /** kunai version that wrote it. */
  version: string;
  node: string;
  uuid: string;
  /** Unix seconds. */
  time: number;
  parts: SnapshotPart[];
}

/** A snapshot that cannot be used, and why. */
export class SnapshotError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = "SnapshotError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A streaming SHA-256 for whole database files: node:crypto's native one, imported here, when a
 * snapshot is written or read, rather than at start (its polyfills cost every agent ~2.5 MB of RSS).
 */
async function newSha256() {
  const { createHash } = await import("node:crypto");
  return createHash("sha256");
}

/** sha256 (hex) and size of a file, streamed. */
export async function fileDigest(path: string): Promise<{ bytes: number; sha256: string }> {
  const h = await newSha256();
  let bytes = 0;
  using f = await Deno.open(path, { read: true });
  for await (const chunk of f.readable) {
    h.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: h.digest("hex") };
}

/** Writes a snapshot of `files` (name → path) to `out`. */
export async function writeSnapshot(
  out: string,
  meta: Omit<Manifest, "format" | "parts">,
  files: Array<{ name: string; path: string }>,
): Promise<Manifest> {
  const parts: SnapshotPart[] = [];
  for (const f of files) parts.push({ name: f.name, ...(await fileDigest(f.path)) });
  const manifest: Manifest = { format: FORMAT, ...meta, parts };
  const json = encoder.encode(JSON.stringify(manifest));
  // every KV value is in it: readable by its owner only (the CLI's copy too)
  using dst = await Deno.open(out, { write: true, create: true, truncate: true, mode: 0o600 });
  await writeAll(dst, encoder.encode(MAGIC + String(json.length).padStart(10, "0") + "\n"));
  await writeAll(dst, json);
  for (const f of files) {
    using src = await Deno.open(f.path, { read: true });
    for await (const chunk of src.readable) await writeAll(dst, chunk);
  }
  return manifest;
}

async function writeAll(f: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await f.write(bytes.subarray(off));
}

/** Reads and checks the header and manifest; returns where the parts start. */
export async function readManifest(file: string): Promise<{ manifest: Manifest; offset: number }> {
  let size: number;
  try {
    size = (await Deno.stat(file)).size;
  } catch (err) {
    throw new SnapshotError(file, `cannot read: ${(err as Error).message}`);
  }
  using f = await Deno.open(file, { read: true });
  const head = new Uint8Array(MAGIC.length + 11);
  const n = await readFull(f, head);
  if (n < head.length || decoder.decode(head.subarray(0, MAGIC.length)) !== MAGIC) {
    throw new SnapshotError(file, "not a kunai snapshot (bad header)");
  }
  const lenText = decoder.decode(head.subarray(MAGIC.length, MAGIC.length + 10));
  const len = Number(lenText);
  if (!/^\d{10}$/.test(lenText) || len <= 0 || len > 64 * 1024 * 1024) {
    throw new SnapshotError(file, "damaged header (manifest length)");
  }
  const json = new Uint8Array(len);
  if (await readFull(f, json) < len) throw new SnapshotError(file, "truncated in the manifest");
  let manifest: Manifest;
  try {
    manifest = JSON.parse(decoder.decode(json));
  } catch (err) {
    throw new SnapshotError(file, `damaged manifest: ${(err as Error).message}`);
  }
  if (manifest.format !== FORMAT || !Array.isArray(manifest.parts)) {
    throw new SnapshotError(file, `snapshot format ${manifest.format} is not ${FORMAT}`);
  }
  for (const p of manifest.parts) {
    if (!/^[a-z][a-z0-9_]*$/.test(String(p.name)) || !Number.isSafeInteger(p.bytes) || p.bytes < 0) {
      throw new SnapshotError(file, `damaged manifest: bad part ${JSON.stringify(p).slice(0, 80)}`);
    }
  }
  const offset = head.length + len;
  const expected = offset + manifest.parts.reduce((a, p) => a + p.bytes, 0);
  if (size !== expected) {
    throw new SnapshotError(
      file,
      size < expected
        ? `truncated: ${size} bytes, the manifest says ${expected}`
        : `${size - expected} unexpected bytes after the last part`,
    );
  }
  return { manifest, offset };
}

async function readFull(f: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let off = 0;
  while (off < buf.length) {
    const n = await f.read(buf.subarray(off));
    if (n === null) break;
    off += n;
  }
  return off;
}

/** Copies each part to `<dir>/<name>.db.restoring`, checking its sha256. Returns the paths. */
export async function extractParts(
  file: string,
  dir: string,
): Promise<Array<{ name: string; path: string }>> {
  const { manifest, offset } = await readManifest(file);
  using f = await Deno.open(file, { read: true });
  await f.seek(offset, Deno.SeekMode.Start);
  const out: Array<{ name: string; path: string }> = [];
  const buf = new Uint8Array(1 << 20);
  for (const p of manifest.parts) {
    const path = `${dir}/${p.name}.db.restoring`;
    const h = await newSha256();
    {
      // never readable by others, even before restoreSnapshot gives it its database's owner and mode
      using dst = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o640 });
      let left = p.bytes;
      while (left > 0) {
        const n = await f.read(buf.subarray(0, Math.min(buf.length, left)));
        if (n === null) throw new SnapshotError(file, `truncated in part ${p.name}`);
        h.update(buf.subarray(0, n));
        await writeAll(dst, buf.subarray(0, n));
        left -= n;
      }
      await dst.sync(); // on disk before a rename puts it in place of the live database
    }
    out.push({ name: p.name, path });
    if (h.digest("hex") !== p.sha256) {
      for (const o of out) await Deno.remove(o.path); // our own temp files: a failure here is worth seeing
      throw new SnapshotError(file, `part ${p.name} is damaged (sha256 mismatch)`);
    }
  }
  return out;
}
