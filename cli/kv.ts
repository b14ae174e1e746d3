/**
 * `kunai kv get|put|delete|list|watch`: the replicated key/value store through the local agent.
 */
import type { AgentClient } from "../lib/client/mod.ts";
import { AgentHttpError } from "../lib/client/mod.ts";
import type { Output } from "./output.ts";
import { type CommandGroup, UsageError } from "./types.ts";

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

async function readValue(arg: string): Promise<Uint8Array> {
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

function needKey(positionals: string[], what = "key"): string {
  const k = positionals[0];
  if (!k) throw new UsageError(`missing ${what}`);
  return k;
}

function showChange(out: Output, m: Meta): void {
  const when = new Date(m.modify_time * 1000).toISOString();
  if (m.deleted) out.line(`${when} ${out.paint("deleted", "red")} ${m.key}`);
  else out.line(`${when} ${out.paint("set", "green")} ${m.key} = ${b64text(m.value)}`);
}

async function watch(client: AgentClient, out: Output, target: string, count: number): Promise<number> {
  const prefix = target.endsWith("/");
  let index = 0;
  let seen = 0;
  // first call: current state and index, no wait
  const base = prefix ? `/kv/?prefix=${encodeURIComponent(target)}&recurse` : `${keyPath(target)}?meta`;
  const first = await client.request("GET", base);
  if (!first.ok && first.status !== 404) throw await failOf(first);
  index = Number(first.headers.get("x-kunai-index") ?? 0);
  await first.body?.cancel();
  out.line(out.paint(`watching ${prefix ? "prefix" : "key"} ${target} from index ${index}`, "grey"));
  while (count <= 0 || seen < count) {
    const res = await client.request("GET", `${base}&index=${index}&wait=5s`);
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
        });
        seen++;
      }
    } else if (!res.ok) throw await failOf(res);
    else {
      const body = await res.json();
      const changes: Meta[] = prefix ? body : [body];
      for (const m of changes) {
        if (m.modify_index > index) {
          showChange(out, m);
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
      description: "print a key's value (text), its bytes (--raw) or its metadata (--json)",
      args: ["<key>"],
      options: {
        raw: { type: "boolean", description: "write the value's bytes as they are" },
        json: {
          type: "boolean",
          description: "JSON {key, value (base64), modify_index, modify_time, flags}",
        },
      },
      async run({ client, out, options, positionals }) {
        const key = needKey(positionals);
        const res = await client().request("GET", `${keyPath(key)}?meta`);
        if (res.status === 404) {
          await res.body?.cancel();
          out.error(`key ${key} not found`);
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
        if (ok) out.line(`${out.paint("OK", "green")} ${key} (index ${index})`);
        else out.error(`compare-and-set failed: ${key} is at index ${index}`);
        return ok ? 0 : 1;
      },
    },
    {
      name: "delete",
      description: "delete a key",
      args: ["<key>"],
      options: { cas: { type: "string", description: "only if the key's modify_index is this" } },
      async run({ client, out, options, positionals }) {
        const key = needKey(positionals);
        const cas = options.cas;
        if (typeof cas === "string" && !/^\d+$/.test(cas)) {
          throw new UsageError("--cas must be a non-negative integer");
        }
        const res = await client().request(
          "DELETE",
          `${keyPath(key)}${typeof cas === "string" ? `?cas=${cas}` : ""}`,
        );
        if (!res.ok) throw await failOf(res);
        const ok = await res.json();
        if (ok) out.line(`${out.paint("deleted", "green")} ${key}`);
        else out.error(`compare-and-set failed: ${key} is at index ${res.headers.get("x-kunai-index")}`);
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
        return 0;
      },
    },
    {
      name: "watch",
      description: "print changes of KEY, or of every key under PREFIX/ (a trailing / watches a prefix)",
      args: ["<key|prefix/>"],
      options: { count: { type: "string", description: "stop after this many changes" } },
      async run({ client, out, options, positionals }) {
        const target = needKey(positionals, "key or prefix");
        const count = typeof options.count === "string" ? Number(options.count) : 0;
        if (!Number.isInteger(count) || count < 0) {
          throw new UsageError("--count must be a non-negative integer");
        }
        return await watch(client(), out, target, count);
      },
    },
  ],
};
