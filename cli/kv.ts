/**
 * `kunai kv get|put|delete|list|watch`: the replicated key/value store through the local agent.
 */
import type { AgentClient } from "../lib/client/mod.ts";
import { AgentHttpError } from "../lib/client/mod.ts";
import type { Output } from "./output.ts";
import { type CommandGroup, UsageError } from "./types.ts";
import { validateKey } from "../lib/kv/keys.ts";
import { parseDuration } from "../lib/clock/mod.ts";

interface Meta {
  key: string;
  value: string | null;
  modify_index: number;
  modify_time: number;
  flags: number;
  deleted?: boolean;
}

const decoder = new TextDecoder();

/** `/kv/<key>` with every character escaped, so `.`/`..` segments reach the agent (and get refused). */
function keyPath(key: string): string {
  return "/kv/" + encodeURIComponent(key);
}

function b64text(v: string | null): string {
  if (v === null) return "";
  return decoder.decode(Uint8Array.from(atob(v), (c) => c.charCodeAt(0)));
}

/** A value argument: text, `-` for stdin or `@FILE`. */
export async function readValue(arg: string): Promise<Uint8Array> {
  if (arg === "-") return new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
  if (arg.startsWith("@")) {
    try {
      return await Deno.readFile(arg.slice(1));
    } catch (err) {
      throw new UsageError(`cannot read ${arg.slice(1)}: ${(err as Error).message}`);
    }
  }
  return new TextEncoder().encode(arg);
}

async function failOf(res: Response): Promise<AgentHttpError> {
  const text = await res.text();
  try {
    const j = JSON.parse(text);
    return new AgentHttpError(res.status, String(j.error ?? text));
  } catch {
    return new AgentHttpError(res.status, text || `HTTP ${res.status}`);
  }
}

/**
 * Why a compare-and-set of `key` on `cas` was refused, from the key as it is now: absent, or at
 * another modify_index (the answer's X-Kunai-Index is the store's index when the key is absent).
 */
async function casRefusal(
  client: AgentClient,
  key: string,
  cas: unknown,
): Promise<{ why: string; current: number | null }> {
  const res = await client.request("GET", `${keyPath(key)}?meta`);
  if (res.status === 404) {
    await res.body?.cancel();
    return { why: `${key} does not exist (--cas 0 creates a key only if it is absent)`, current: null };
  }
  if (!res.ok) throw await failOf(res);
  const m = await res.json() as Meta;
  return {
    why: typeof cas !== "string"
      ? `${key} was left as it is (modify_index ${m.modify_index})`
      : cas === "0"
      ? `${key} exists (modify_index ${m.modify_index}); --cas 0 creates a key only if it is absent`
      : `${key} is at modify_index ${m.modify_index}, not ${cas}`,
    current: m.modify_index,
  };
}

/** Every entry (with value) under `prefix`. */
async function listEntries(client: AgentClient, prefix: string): Promise<Meta[]> {
  const res = await client.request("GET", `/kv/?${new URLSearchParams({ prefix, recurse: "" })}`);
  if (!res.ok) throw await failOf(res);
  return await res.json() as Meta[];
}

/** An export file: `[{key, flags?, value}]` with base64 values; errors name the file and entry. */
export function parseExport(
  text: string,
  file: string,
): Array<{ key: string; flags: number; value: string }> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: invalid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(data)) throw new UsageError(`${file}: expected a JSON array of {key, flags, value}`);
  return data.map((e, i) => {
    const where = `${file}: entry ${i}`;
    if (!e || typeof e !== "object") throw new UsageError(`${where}: expected an object`);
    const { key, flags = 0, value = "" } = e as Record<string, unknown>;
    if (typeof key !== "string" || !key) throw new UsageError(`${where}: "key" must be a non-empty string`);
    // the agent's own key rules (its kv.max_key_bytes aside), so a bad entry stops the import
    // before the entries above it are written
    try {
      validateKey(key, Infinity);
    } catch (err) {
      throw new UsageError(`${where} (${key}): ${(err as Error).message}`);
    }
    if (typeof flags !== "number" || !Number.isInteger(flags) || flags < 0 || flags > 2 ** 32 - 1) {
      throw new UsageError(`${where} (${key}): "flags" must be an integer 0-4294967295`);
    }
    if (typeof value !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
      throw new UsageError(`${where} (${key}): "value" must be base64`);
    }
    return { key, flags, value };
  });
}

/**
 * Says, on stderr, that the agent keeps keys to itself: it answered with the KV's isolation header
 * (no member of its cluster is tagged `kv`, others are alive; the reference's rule).
 */
function warnIsolated(out: Output, res: Response, what: string): void {
  const n = Number(res.headers.get("x-kunai-kv-isolated") ?? "0");
  if (!(n > 0)) return;
  out.error(
    `warning: no live member of the cluster is tagged kv, so ${what} on the agent asked alone; ` +
      `the ${n} other member(s) do not see its keys: tag at least 3 nodes kv (kv.replicas) to replicate the store`,
  );
}

function needKey(positionals: string[], what = "key"): string {
  const k = positionals[0];
  if (!k) throw new UsageError(`missing ${what}`);
  return k;
}

function showChange(out: Output, m: Meta, json = false): void {
  if (json) {
    out.line(JSON.stringify(m));
    return;
  }
  const when = new Date(m.modify_time * 1000).toISOString();
  if (m.deleted) out.line(`${when} ${out.paint("deleted", "red")} ${m.key}`);
  else out.line(`${when} ${out.paint("set", "green")} ${m.key} = ${b64text(m.value)}`);
}

/** A watch waits out a store that cannot answer for now (503, 504): 1 s, then twice as long, up to this. */
const WATCH_RETRY_MAX_MS = 30_000;

async function watch(
  client: AgentClient,
  out: Output,
  target: string,
  count: number,
  json: boolean,
): Promise<number> {
  const prefix = target.endsWith("/");
  let index = 0;
  let seen = 0;
  let backoff = 0;
  /** A 503/504 (every kv node down, no copy reachable): said on stderr, asked again after a pause. */
  const waitOut = async (res: Response): Promise<boolean> => {
    if (res.status !== 503 && res.status !== 504) return false;
    backoff = Math.min(backoff ? backoff * 2 : 1000, WATCH_RETRY_MAX_MS);
    out.error(`kunai: ${(await failOf(res)).message}; asking again in ${backoff / 1000} s`);
    await new Promise((r) => setTimeout(r, backoff));
    return true;
  };
  // first call: current state and index, no wait
  const base = prefix ? `/kv/?prefix=${encodeURIComponent(target)}&recurse` : `${keyPath(target)}?meta`;
  let first: Response;
  while (await waitOut(first = await client.request("GET", base)));
  if (!first.ok && first.status !== 404) throw await failOf(first);
  index = Number(first.headers.get("x-kunai-index") ?? 0);
  await first.body?.cancel();
  if (!json) {
    out.line(out.paint(`watching ${prefix ? "prefix" : "key"} ${target} from index ${index}`, "grey"));
  }
  while (count <= 0 || seen < count) {
    const res = await client.request("GET", `${base}&index=${index}&wait=5s`);
    if (await waitOut(res)) continue;
    if (backoff) out.error("kunai: the store answers again: watching");
    backoff = 0;
    const next = Number(res.headers.get("x-kunai-index") ?? index);
    if (res.status === 404) {
      await res.body?.cancel();
      if (next > index) {
        showChange(out, {
          key: target,
          value: null,
          modify_index: next,
          modify_time: Math.floor(Date.now() / 1000),
          flags: 0,
          deleted: true,
        }, json);
        seen++;
      }
    } else if (!res.ok) throw await failOf(res);
    else {
      const body = await res.json();
      const changes: Meta[] = prefix ? body : [body];
      for (const m of changes) {
        if (m.modify_index > index) {
          showChange(out, m, json);
          seen++;
        }
      }
    }
    index = Math.max(index, next);
  }
  return 0;
}

export const kvCommands: CommandGroup = {
  group: "kv",
  description: "the replicated key/value store",
  commands: [
    {
      name: "get",
      description:
        "print a key's value (text), its bytes (--raw) or its metadata (--json); --recurse: every key under a prefix",
      args: ["<key>"],
      options: {
        raw: { type: "boolean", description: "write the value's bytes as they are" },
        json: {
          type: "boolean",
          description: "JSON {key, value (base64), modify_index, modify_time, flags}",
        },
        recurse: { type: "boolean", description: "KEY is a prefix: print key:value for every key under it" },
        prefix: { type: "boolean", description: "same as --recurse" },
      },
      async run({ client, out, options, positionals }) {
        const key = needKey(positionals);
        if (options.recurse || options.prefix) {
          const entries = await listEntries(client(), key);
          if (options.json) out.json(entries);
          else for (const e of entries) out.line(`${e.key}:${b64text(e.value)}`);
          return 0;
        }
        const res = await client().request("GET", `${keyPath(key)}?meta`);
        if (res.status === 404) {
          await res.body?.cancel();
          out.error(`key ${key} not found`);
          warnIsolated(out, res, "a key written through another agent is not");
          return 1;
        }
        if (!res.ok) throw await failOf(res);
        const meta = await res.json() as Meta;
        if (options.json) out.json(meta);
        else if (options.raw) {
          const bytes = Uint8Array.from(atob(meta.value ?? ""), (c) => c.charCodeAt(0));
          await Deno.stdout.write(bytes);
        } else out.line(b64text(meta.value));
        return 0;
      },
    },
    {
      name: "put",
      description: "set a key to VALUE, the contents of @FILE, or stdin (-)",
      args: ["<key>", "<value|@file|->"],
      options: {
        ttl: { type: "string", description: "expire after this duration (30s, 10m, 1h)" },
        cas: { type: "string", description: "only if the key's modify_index is this (0: only if absent)" },
        flags: { type: "string", description: "opaque integer stored with the value" },
        json: {
          type: "boolean",
          description: "JSON {key, ok, index}; a refused CAS adds modify_index (null: absent)",
        },
      },
      async run({ client, out, options, positionals }) {
        const key = needKey(positionals);
        if (positionals.length < 2) throw new UsageError("missing value (VALUE, @file or - for stdin)");
        const q = new URLSearchParams();
        for (const o of ["ttl", "cas", "flags"] as const) {
          const v = options[o];
          if (typeof v === "string") {
            if (o !== "ttl" && !/^\d+$/.test(v)) {
              throw new UsageError(`--${o} must be a non-negative integer`);
            }
            if (o === "ttl" && parseDuration(v) === null) {
              throw new UsageError(`--ttl: expected a duration such as 30s, 10m or 1h, got ${v}`);
            }
            q.set(o, v);
          }
        }
        const body = await readValue(positionals[1]);
        const res = await client().request(
          "PUT",
          `${keyPath(key)}${q.size ? `?${q}` : ""}`,
          body as BodyInit,
        );
        if (!res.ok) throw await failOf(res);
        const ok = await res.json();
        const index = res.headers.get("x-kunai-index");
        warnIsolated(out, res, "this key is kept");
        const refused = ok ? null : await casRefusal(client(), key, options.cas);
        if (options.json) {
          out.json({ key, ok, index: Number(index), ...(refused && { modify_index: refused.current }) });
        } else if (ok) out.line(`${out.paint("OK", "green")} ${key} (index ${index})`);
        else out.error(`compare-and-set failed: ${refused!.why}`);
        return ok ? 0 : 1;
      },
    },
    {
      name: "delete",
      description: "delete a key (an error if it does not exist), or every key under a prefix (--recurse)",
      args: ["<key>"],
      options: {
        cas: { type: "string", description: "only if the key's modify_index is this" },
        recurse: { type: "boolean", description: "KEY is a prefix: delete every key under it" },
        json: {
          type: "boolean",
          description:
            "JSON {key, deleted, index}; a refused CAS adds modify_index (--recurse: {prefix, deleted: [keys]})",
        },
      },
      async run({ client, out, options, positionals }) {
        const key = needKey(positionals);
        const c = client();
        if (options.recurse) {
          if (options.cas !== undefined) throw new UsageError("--cas and --recurse do not go together");
          const keys = (await listEntries(c, key)).map((e) => e.key);
          for (const k of keys) {
            const res = await c.request("DELETE", keyPath(k));
            if (!res.ok) throw await failOf(res);
            await res.body?.cancel();
          }
          if (options.json) out.json({ prefix: key, deleted: keys });
          else out.line(`${out.paint("deleted", "green")} ${keys.length} key(s) under ${key}`);
          return 0;
        }
        const cas = options.cas;
        if (typeof cas === "string" && !/^\d+$/.test(cas)) {
          throw new UsageError("--cas must be a non-negative integer");
        }
        const meta = await c.request("GET", `${keyPath(key)}?meta`);
        await meta.body?.cancel();
        if (meta.status === 404) {
          out.error(`key ${key} not found`);
          warnIsolated(out, meta, "a key written through another agent is not");
          return 1;
        }
        if (!meta.ok) throw await failOf(meta);
        const res = await c.request(
          "DELETE",
          `${keyPath(key)}${typeof cas === "string" ? `?cas=${cas}` : ""}`,
        );
        if (!res.ok) throw await failOf(res);
        const ok = await res.json();
        const index = Number(res.headers.get("x-kunai-index"));
        const refused = ok ? null : await casRefusal(c, key, cas);
        if (options.json) {
          out.json({ key, deleted: ok, index, ...(refused && { modify_index: refused.current }) });
        } else if (ok) out.line(`${out.paint("deleted", "green")} ${key}`);
        else out.error(`compare-and-set failed: ${refused!.why}`);
        return ok ? 0 : 1;
      },
    },
    {
      name: "list",
      description: "list keys (under PREFIX)",
      args: ["[prefix]"],
      options: {
        json: { type: "boolean", description: "JSON entries with values and metadata" },
      },
      async run({ client, out, options, positionals }) {
        const prefix = positionals[0] ?? "";
        const q = new URLSearchParams({ prefix });
        if (options.json) q.set("recurse", "");
        const res = await client().request("GET", `/kv/?${q}`);
        if (!res.ok) throw await failOf(res);
        const body = await res.json();
        if (options.json) out.json(body);
        else for (const k of body as string[]) out.line(k);
        warnIsolated(out, res, "these are the keys kept");
        return 0;
      },
    },
    {
      name: "export",
      description:
        "print every key under PREFIX (default: all) as JSON [{key, flags, value (base64)}] (Consul's shape)",
      args: ["[prefix]"],
      options: {
        "from-original": {
          type: "string",
          multiple: true,
          description:
            "read the keys of running original (Python) kunai agents at http://host:port instead of " +
            "this agent (no kunai agent needed; give each of its nodes: each lists only its own keys)",
        },
        json: { type: "boolean", description: "JSON output (always JSON; accepted for symmetry)" },
      },
      async run({ client, out, options, positionals }) {
        const from = options["from-original"] as string[] | undefined;
        if (from?.length) return await exportOriginal(out, from, positionals[0] ?? "");
        const entries = await listEntries(client(), positionals[0] ?? "");
        out.json(entries.map((e) => ({ key: e.key, flags: e.flags ?? 0, value: e.value ?? "" })));
        return 0;
      },
    },
    {
      name: "import",
      description: "write every entry of FILE (or - for stdin), as `kv export` prints it",
      args: ["<file|->"],
      options: { json: { type: "boolean", description: "JSON {imported: [keys]}" } },
      async run({ client, out, options, positionals }) {
        const src = positionals[0];
        const text = decoder.decode(src === "-" ? await readValue("-") : await readValue(`@${src}`));
        const entries = parseExport(text, src === "-" ? "stdin" : src);
        const c = client();
        for (const e of entries) {
          const q = e.flags ? `?flags=${e.flags}` : "";
          const body = Uint8Array.from(atob(e.value), (ch) => ch.charCodeAt(0));
          const res = await c.request("PUT", `${keyPath(e.key)}${q}`, body);
          if (!res.ok) throw await failOf(res);
          await res.body?.cancel();
        }
        if (options.json) out.json({ imported: entries.map((e) => e.key) });
        else out.line(`${out.paint("imported", "green")} ${entries.length} key(s)`);
        return 0;
      },
    },
    {
      name: "watch",
      description:
        "print changes of KEY, or of every key under PREFIX/ (a trailing / watches a prefix); waits out a store that cannot answer (503)",
      args: ["<key|prefix/>"],
      options: {
        count: { type: "string", description: "stop after this many changes" },
        json: { type: "boolean", description: "one JSON object per change" },
      },
      async run({ client, out, options, positionals }) {
        const target = needKey(positionals, "key or prefix");
        const count = typeof options.count === "string" ? Number(options.count) : 0;
        if (!Number.isInteger(count) || count < 0) {
          throw new UsageError("--count must be a non-negative integer");
        }
        return await watch(client(), out, target, count, !!options.json);
      },
    },
  ],
};

/**
 * `kv export --from-original URL...`: the original agents' user keys under `prefix`, printed as
 * `kv export` prints this agent's (for `kv import` once the kunai agents run); what was left out is
 * said on stderr. Exit 1 when an agent could not be read or a key cannot be a kunai key.
 */
async function exportOriginal(out: Output, urls: string[], prefix: string): Promise<number> {
  const { readOriginal } = await import("./kv_original.ts");
  const byKey = new Map<string, { key: string; flags: number; value: string }>();
  let bad = 0;
  for (const url of urls) {
    let plan;
    try {
      plan = await readOriginal(url, prefix);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      out.error(`kunai: cannot read the original agent: ${(err as Error).message}`);
      bad++;
      continue;
    }
    for (const e of plan.entries) byKey.set(e.key, e);
    for (const r of plan.refused) {
      out.error(`kunai: ${JSON.stringify(r.key)} (${plan.url}) left out: ${r.why}`);
    }
    bad += plan.refused.length;
    const more = [
      `${plan.skipped.length} internal key(s) of the original left out`,
      ...(plan.missing.length ? [`${plan.missing.length} gone before they were read`] : []),
      ...(plan.refused.length ? [`${plan.refused.length} that cannot be kunai keys`] : []),
    ].join(", ");
    out.error(`${plan.url}: ${plan.entries.length} key(s) read (${more})`);
  }
  out.json([...byKey.values()].sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return bad ? 1 : 0;
}
