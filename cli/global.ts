/**
 * Single-word commands: `kunai version`, `kunai keygen`, `kunai info`.
 */
import { type CommandGroup, UsageError } from "./types.ts";
import { VERSION } from "../lib/version.ts";
import type { Output } from "./output.ts";
import type { Maintenance } from "../lib/types.ts";
import { entryExists, writeAtomic } from "../lib/fs/mod.ts";

/** A new 32-byte key, base64 (AES-256-GCM gossip encryption). */
export function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

const version: CommandGroup = {
  group: "version",
  description: "print kunai's version",
  commands: [{
    name: "",
    description: "print kunai's version",
    options: { json: { type: "boolean", description: "JSON output" } },
    run({ out, options }) {
      if (options.json) out.json({ version: VERSION, deno: Deno.version.deno });
      else out.line(VERSION);
      return Promise.resolve(0);
    },
  }],
};

/** A new Ed25519 key pair for remote exec, as PKCS#8 / SPKI PEM (WebCrypto). */
export async function newExecKeys(): Promise<{ priv: string; pub: string }> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const pem = (label: string, der: ArrayBuffer) => {
    let s = "";
    for (const b of new Uint8Array(der)) s += String.fromCharCode(b);
    const body = btoa(s).match(/.{1,64}/g)!.join("\n");
    return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
  };
  return {
    priv: pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", pair.privateKey)),
    pub: pem("PUBLIC KEY", await crypto.subtle.exportKey("spki", pair.publicKey)),
  };
}

const keygen: CommandGroup = {
  group: "keygen",
  description: "generate an encryption key",
  commands: [{
    name: "",
    description: "print a new 32-byte base64 key for encryption_key (AES-256-GCM); --exec: an Ed25519 pair",
    options: {
      json: { type: "boolean", description: "JSON output" },
      exec: { type: "boolean", description: "an Ed25519 key pair for remote exec (master_key_priv/pub)" },
      dir: { type: "string", description: "with --exec: write DIR/exec.key (mode 0600) and DIR/exec.pub" },
    },
    async run({ out, options }) {
      if (typeof options.dir === "string" && !options.exec) throw new UsageError("--dir goes with --exec");
      if (options.exec) {
        const { priv, pub } = await newExecKeys();
        if (typeof options.dir === "string") {
          const key = `${options.dir}/exec.key`, pubFile = `${options.dir}/exec.pub`;
          // a new pair over the old one would lock out every node that holds the old public key
          for (const f of [key, pubFile]) {
            if (entryExists(f)) {
              out.error(`kunai: ${f} already exists: remove it first to make a new pair`);
              return 1;
            }
          }
          try {
            // each whole or absent (a cut key file would be taken for a key), the private one first
            writeAtomic(key, priv, { mode: 0o600, fsync: true });
            writeAtomic(pubFile, pub, { mode: 0o644, fsync: true });
          } catch (err) {
            out.error(`kunai: cannot write ${key}: ${(err as Error).message}`);
            return 1;
          }
          if (options.json) out.json({ master_key_priv: key, master_key_pub: pubFile });
          else {
            out.line(`private key: ${key} (aka master_key_priv: only on the nodes that send commands)`);
            out.line(`public key:  ${pubFile} (aka master_key_pub: on every node that may run them)`);
          }
        } else if (options.json) out.json({ master_key_priv: priv, master_key_pub: pub });
        else {
          out.line(
            "Exec private key (aka master_key_priv, for file exec.key; keep it on the asking nodes only):",
          );
          out.line(priv.trimEnd());
          out.line("Exec public key (aka master_key_pub, for file exec.pub; on every node):");
          out.line(pub.trimEnd());
        }
        return 0;
      }
      const key = newKey();
      if (options.json) out.json({ encryption_key: key });
      else {
        out.line("UDP Encryption key: (aka encryption_key)");
        out.line(key);
      }
      return 0;
    },
  }],
};

type Info = Record<string, unknown> & {
  logs?: Record<string, string[]>;
  collectors?: Record<string, { active?: boolean }>;
  docker?: Record<string, unknown>;
};

type Row = [string, unknown, ("red" | "yellow" | "grey" | undefined)?];

function section(
  out: Output,
  title: string,
  rows: Row[],
): void {
  out.title(title);
  for (const [k, v, c] of rows) out.twoCol(k, v ?? "", { colour: c });
}

/** Prints `/agent/info` with the reference's layout (§1). */
export function printInfo(out: Output, info: Info, showLogs: boolean): void {
  section(out, "Kunai Daemon", [
    ["name", info.name],
    ["uuid", info.uuid],
    ["tags", (info.tags as string[] ?? []).join(",")],
    ["version", info.version],
    ["pid", info.pid],
    ["port", info.port],
    ["addr", info.addr],
    ["zone", info.zone || "(no zone)", info.zone ? undefined : "red"],
    ...(info.maintenance
      ? [["maintenance", maintenanceText(info.maintenance as Maintenance), "yellow"] as Row]
      : []),
    ["socket", info.socket],
    ["threads", (info.threads as { nb_threads?: number })?.nb_threads],
    ...((info.restart_needed as string[] | undefined)?.length
      ? [["restart needed", (info.restart_needed as string[]).join(", "), "yellow"] as Row]
      : []),
    ...(((info.kv as { isolated_from?: number } | undefined)?.isolated_from ?? 0) > 0
      ? [["kv", "no live member of the cluster is tagged kv: keys written here stay here", "yellow"] as Row]
      : []),
    ...((info.kv as { unavailable?: string | null } | undefined)?.unavailable
      ? [["kv", (info.kv as { unavailable: string }).unavailable, "red"] as Row]
      : []),
  ]);
  const http = info.httpservers as Record<string, Record<string, unknown> | null> | undefined;
  section(out, "HTTP (LAN)", http?.external ? Object.entries(http.external) : [["enabled", false, "grey"]]);
  section(
    out,
    "HTTP (Unix Socket)",
    http?.internal ? Object.entries(http.internal) : [["enabled", false, "grey"]],
  );
  const dns = info.dns as Record<string, unknown> | null;
  out.title("DNS");
  if (!dns) out.line(out.paint("No dns configured", "grey"));
  else for (const k of ["enabled", "port", "domain"]) out.twoCol(k, dns[k]);
  for (
    const [title, key, fields] of [
      ["Websocket", "websocket", ["enabled", "port"]],
      ["Graphite", "graphite", ["enabled", "port", "udp", "tcp"]],
      ["Statsd", "statsd", ["enabled", "port", "interval"]],
    ] as const
  ) {
    const o = info[key] as Record<string, unknown> | null;
    out.title(title);
    if (!o) out.twoCol("enabled", false, { colour: "grey" });
    else for (const f of fields) out.twoCol(f, o[f]);
    const ws = info.websocket_info as { nb_connexions?: number } | null | undefined;
    if (key === "websocket" && ws) out.twoCol("nb connexions", ws.nb_connexions ?? 0);
  }
  const shinken = info.shinken as Record<string, unknown> | undefined;
  if (shinken?.enabled) {
    out.title("Shinken");
    for (
      const [f, label] of [
        ["cfg_path", "cfg path"],
        ["monitoring_tool", "tool"],
        ["external_command_file", "command file"],
        ["reloads", "reloads"],
        ["reload_failures", "reload failures"],
        ["lines", "lines written"],
        ["dropped", "lines dropped"],
        ["remote_polls", "polls of nodes"],
        ["remote_unanswered", "unanswered"],
      ]
    ) if (shinken[f] !== undefined && shinken[f] !== "") out.twoCol(label, shinken[f]);
  }
  out.title("Collectors");
  const cols = info.collectors ?? {};
  if (!Object.keys(cols).length) out.line(out.paint("No collectors", "grey"));
  for (const name of Object.keys(cols).sort()) {
    const active = !!cols[name]?.active;
    out.twoCol(name, active ? "True" : "False", { colour: active ? "green" : "grey", capitalise: false });
  }
  const d = info.docker ?? {};
  out.title("Docker");
  if (d.connected) {
    for (const k of ["enabled", "connected", "version", "api", "containers", "images"]) {
      const v = d[k];
      out.twoCol(k, Array.isArray(v) ? v.length : typeof v === "object" && v ? Object.keys(v).length : v);
    }
  } else {
    out.twoCol("enabled", d.enabled ?? false, { colour: "grey" });
    out.twoCol("connected", false, { colour: "grey" });
  }
  const logs = info.logs ?? {};
  const errs = logs.ERROR?.length ?? 0, warns = logs.WARNING?.length ?? 0;
  out.title("Logs");
  out.twoCol("error", errs, { colour: errs ? "red" : undefined });
  out.twoCol("warning", warns, { colour: warns ? "yellow" : undefined });
  if (showLogs) {
    out.title("Error logs");
    for (const l of logs.ERROR ?? []) out.line(out.paint(l, "red"));
    out.title("Warning logs");
    for (const l of logs.WARNING ?? []) out.line(out.paint(l, "yellow"));
  }
}

const info: CommandGroup = {
  group: "info",
  description: "show the local agent's state",
  commands: [{
    name: "",
    description: "show the local agent's state (GET /agent/info)",
    options: {
      json: { type: "boolean", description: "print the raw JSON" },
      "show-logs": { type: "boolean", description: "also print the last error and warning lines" },
    },
    async run({ out, options, client }) {
      const data = await client().json<Info>("GET", "/agent/info");
      if (options.json) out.json(data);
      else printInfo(out, data, !!options["show-logs"]);
      return 0;
    },
  }],
};

export const globalCommands: CommandGroup[] = [version, info, keygen];

function maintenanceText(m: Maintenance): string {
  const until = m.until === null
    ? ""
    : ` until ${new Date(m.until).toISOString().slice(0, 19).replace("T", " ")} UTC`;
  return `yes${until}${m.reason ? `: ${m.reason}` : ""}`;
}
