/**
 * Remote command execution (reference §10.8, DECISIONS "Remote exec"). The asker (a node holding
 * `master_key_priv`) signs `{cid, cmd, tag, nonce, issued, expires}` (Ed25519, or the original's RSA
 * pair: see signing.ts) and sends it to every alive node carrying the tag over the `/exec/run` peer
 * route (keyring-sealed). A target
 * runs it only if the signature verifies against its `master_key_pub`, the request is in its time
 * window, targets one of its tags and was not seen before (by this run or an earlier one: see
 * seen.ts); the capped result goes to KV `__exec/<cid>/<uuid>` (TTL 1 h), which `/exec-get/:cid` on
 * the asker collects.
 */
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { MemberRecord, MembershipView } from "../types.ts";
import { HttpError, peerResponse, readPeerBody, RouteTable } from "../routing/mod.ts";
import type { PeerEnvelope } from "../transport/mod.ts";
import {
  b64,
  checkRequest,
  CLOCK_SKEW_MS,
  type ExecRequest,
  importPrivateKey,
  importPublicKey,
  MAX_EXEC_CMD,
  MAX_EXEC_TAG,
  parseSigned,
  type Refusal,
  replayKey,
  signRequest,
  verifyRequest,
} from "./signing.ts";
import { runCommand } from "./runner.ts";
import { readCapped } from "../read_capped.ts";
import { SeenRequests } from "../fs/mod.ts";
import { join as joinPath } from "node:path";
import { hostPort } from "../host_port.ts";

/** The slice of KV exec needs (wired by lib/agent.ts). */
export interface ExecKv {
  put(key: string, value: Uint8Array, opts?: { ttlMs?: number }): Promise<{ ok: boolean }>;
  get(key: string): Promise<{ entry: { value: Uint8Array } | null }>;
  /** Non-null while no member is tagged `kv`: each node then keeps what it writes to itself. */
  isolated?(): string | null;
  /** A key from a member's own store (a sealed peer read). */
  getFrom?(
    member: { uuid: string; name: string; addr: string; port: number },
    key: string,
  ): Promise<{ entry: { value: Uint8Array } | null }>;
}

export interface NodeResult {
  node: string;
  state: "pending" | "done" | "error";
  rc?: number;
  output?: string;
  err?: string;
  truncated?: { output: number; err: number };
  timed_out?: boolean;
}

export interface ExecGroup {
  cid: string;
  cmd: string;
  tag: string;
  ctime: number;
  nodes: string[];
  res: Record<string, NodeResult>;
}

export interface ExecApi {
  launch(tag: string, cmd: string): Promise<string>;
  result(cid: string): Promise<ExecGroup>;
}

export const EXEC_RESULT_TTL_MS = 3600_000;
const REQUEST_LIFETIME_MS = 60_000;
const COMMAND_TIMEOUT_MS = 30_000;
export const MAX_OUTPUT_BYTES = 64 * 1024;
const MAX_RUNNING = 8;
const SEND_TIMEOUT_MS = 5000;
/** Largest answer read from a target (it says accepted or why not). */
const MAX_ANSWER_BYTES = 64 * 1024;

export function createExec(
  ctx: Ctx,
  deps: { membership: Pick<MembershipView, "members">; envelope: PeerEnvelope; kv: ExecKv | null },
): Subsystem & ExecApi {
  const p = ctx.config.params;
  const c = ctx.counters;
  c.describe("exec_refused_total", "counter", "remote exec requests refused, by reason");
  c.describe("exec_runs_total", "counter", "remote commands run, by outcome");
  let priv: CryptoKey | null = null;
  let pub: CryptoKey | null = null;
  // replay keys of the requests accepted, saved: a restart does not make a captured request new
  const seen = new SeenRequests(joinPath(p.data, "exec-seen.json"), CLOCK_SKEW_MS, "commands");
  /** Groups this node launched; `at`: when, on the clock that never steps (results are kept EXEC_RESULT_TTL_MS). */
  const launched = new Map<string, { group: ExecGroup; errors: Map<string, string>; at: number }>();
  let running = 0;
  const enc = new TextEncoder(), dec = new TextDecoder();

  /** Why master_key_priv is set but not loaded (said to `kunai exec`, not only in the log). */
  let privProblem = "";

  async function loadKey(path: string, kind: "private" | "public"): Promise<CryptoKey | null> {
    if (!path) return null;
    try {
      const text = await Deno.readTextFile(path);
      return kind === "private" ? await importPrivateKey(text) : await importPublicKey(text);
    } catch (err) {
      const why = `cannot load the ${kind} key ${path}: ${(err as Error).message}`;
      ctx.log.error(`exec: ${why}`);
      if (kind === "private") privProblem = why;
      return null;
    }
  }

  /** Per reason: when a refusal was last said, and how many since (a flood of them is one line a minute). */
  const refusalSaid = new Map<string, { at: number; n: number }>();

  function refuse(reason: Refusal | "busy" | "unrecorded", req: Partial<ExecRequest>): Uint8Array {
    c.inc("exec_refused_total", { reason });
    const now = ctx.clock.elapsed();
    const said = refusalSaid.get(reason);
    if (said && now - said.at < 60_000) said.n++;
    else {
      refusalSaid.set(reason, { at: now, n: 0 });
      const more = said?.n ? `; ${said.n} more refused so since the last line` : "";
      ctx.log.warn(
        `exec refused (${reason}): cid ${req.cid ?? "?"} from ${req.from ?? "?"} cmd ${
          JSON.stringify((req.cmd ?? "").slice(0, 200))
        }${more}`,
      );
    }
    return enc.encode(JSON.stringify({ accepted: false, reason }));
  }

  function forget(now: number): void {
    seen.forget(now);
    const t = ctx.clock.elapsed();
    for (const [cid, l] of launched) if (l.at + EXEC_RESULT_TTL_MS < t) launched.delete(cid);
  }

  /** Target side: verify, then run in the background; answers at once. */
  async function accept(body: Uint8Array): Promise<Uint8Array> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(dec.decode(body));
    } catch {
      return refuse("malformed", {});
    }
    const signed = parseSigned(parsed);
    if (!signed) return refuse("malformed", {});
    const { req } = signed;
    if (!pub) return refuse("no-public-key", req);
    if (!(await verifyRequest(pub, signed))) return refuse("bad-signature", req);
    const now = ctx.clock.now();
    forget(now);
    const verdict = checkRequest(req, { now, tags: ctx.node.tags(), seen: (k) => seen.has(k, req.issued) });
    if (verdict) return refuse(verdict, req);
    try {
      seen.record(replayKey(req), req.expires, now);
    } catch (err) {
      // not run: after a restart it could not be told from a replay
      ctx.log.error(`exec: cannot record cid ${req.cid} before running it: ${(err as Error).message}`);
      return refuse("unrecorded", req);
    }
    if (running >= MAX_RUNNING) return refuse("busy", req);
    running++;
    ctx.log.info(`exec: running cid ${req.cid} from ${req.from}: ${JSON.stringify(req.cmd)}`);
    void execute(req).finally(() => running--);
    return enc.encode(JSON.stringify({ accepted: true }));
  }

  async function execute(req: ExecRequest): Promise<void> {
    const key = `__exec/${req.cid}/${ctx.node.uuid}`;
    try {
      const r = await runCommand(req.cmd, { timeoutMs: COMMAND_TIMEOUT_MS, maxOutput: MAX_OUTPUT_BYTES });
      c.inc("exec_runs_total", { outcome: r.timed_out ? "timeout" : r.rc === 0 ? "ok" : "failed" });
      const doc = { node: ctx.node.name, uuid: ctx.node.uuid, cmd: req.cmd, ...r };
      if (!deps.kv) throw new Error("no KV store to write the result to");
      await deps.kv.put(key, enc.encode(JSON.stringify(doc)), { ttlMs: EXEC_RESULT_TTL_MS });
    } catch (err) {
      c.inc("exec_runs_total", { outcome: "error" });
      ctx.log.error(`exec: cid ${req.cid}: cannot run or store the result: ${(err as Error).message}`);
    }
  }

  /** Asker side: sends the signed request to one target; resolves to an error text or null. */
  async function sendTo(m: MemberRecord, body: Uint8Array): Promise<string | null> {
    try {
      const res = await fetch(`http://${hostPort(m.addr, m.port)}/exec/run`, {
        method: "POST",
        body: (await deps.envelope.seal(body)) as Uint8Array<ArrayBuffer>,
        signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      });
      const wire = await readCapped(res, MAX_ANSWER_BYTES);
      if (!res.ok) return `HTTP ${res.status}: ${dec.decode(wire).slice(0, 200)}`;
      const opened = await deps.envelope.open(wire);
      if (!opened.ok) return `answer refused: ${opened.reason}`;
      const ans = JSON.parse(dec.decode(opened.plain)) as { accepted?: boolean; reason?: string };
      return ans.accepted ? null : `refused: ${ans.reason ?? "?"}`;
    } catch (err) {
      return `unreachable: ${(err as Error).message}`;
    }
  }

  const api: ExecApi = {
    async launch(tag, cmd) {
      if (!priv) {
        throw new HttpError(
          400,
          privProblem
            ? `master_key_priv is not usable: ${privProblem}`
            : "No master private key: set master_key_priv (see kunai keygen --exec)",
        );
      }
      if (!tag || !cmd) throw new HttpError(400, "exec needs a tag and a non-empty cmd");
      // what every node would refuse as malformed is refused here, before a cid is handed out
      if (cmd.length > MAX_EXEC_CMD) {
        throw new HttpError(400, `cmd: ${cmd.length} characters, more than ${MAX_EXEC_CMD}`);
      }
      if (tag.length > MAX_EXEC_TAG) {
        throw new HttpError(400, `tag: ${tag.length} characters, more than ${MAX_EXEC_TAG}`);
      }
      const now = ctx.clock.now();
      forget(now);
      const cid = crypto.randomUUID().replaceAll("-", "");
      const req: ExecRequest = {
        v: 1,
        cid,
        cmd,
        tag,
        nonce: b64(crypto.getRandomValues(new Uint8Array(16))),
        issued: now,
        expires: now + REQUEST_LIFETIME_MS,
        from: ctx.node.uuid,
      };
      const body = enc.encode(JSON.stringify(await signRequest(priv, req)));
      const targets = deps.membership.members().filter((m) =>
        (m.state === "alive" || m.state === "suspect") && (tag === "*" || m.tags.includes(tag))
      );
      const group: ExecGroup = {
        cid,
        cmd,
        tag,
        ctime: Math.floor(now / 1000),
        nodes: targets.map((m) => m.uuid),
        res: {},
      };
      const errors = new Map<string, string>();
      launched.set(cid, { group, errors, at: ctx.clock.elapsed() });
      const answers = await Promise.all(targets.map((m) => sendTo(m, body)));
      targets.forEach((m, i) => {
        if (answers[i]) errors.set(m.uuid, answers[i]!);
      });
      ctx.log.info(
        `exec: cid ${cid} sent to ${targets.length} node(s) tagged ${tag}: ${JSON.stringify(cmd)}`,
      );
      return cid;
    },
    async result(cid) {
      const l = launched.get(cid);
      if (!l) throw new HttpError(400, "BAD cid");
      const members = new Map(deps.membership.members().map((m) => [m.uuid, m]));
      // no `kv` node in the cluster: a target kept its result in its own store, asked there
      const isolated = deps.kv?.isolated?.() ?? null;
      const res: Record<string, NodeResult> = {};
      for (const uuid of l.group.nodes) {
        const member = members.get(uuid);
        const node = member?.name ?? uuid;
        const e = l.errors.get(uuid);
        if (e) {
          res[uuid] = { node, state: "error", err: e };
          continue;
        }
        let got;
        try {
          got = deps.kv ? await deps.kv.get(`__exec/${cid}/${uuid}`) : { entry: null };
          if (!got.entry && isolated && member && uuid !== ctx.node.uuid && deps.kv?.getFrom) {
            got = await deps.kv.getFrom(member, `__exec/${cid}/${uuid}`);
          }
        } catch (err) {
          // no copy reachable right now: still pending for the asker, who asks again
          res[uuid] = { node, state: "pending", err: `result not readable yet: ${(err as Error).message}` };
          continue;
        }
        if (!got.entry) res[uuid] = { node, state: "pending" };
        else {
          let d: NodeResult;
          try {
            d = JSON.parse(dec.decode(got.entry.value)) as NodeResult;
          } catch {
            res[uuid] = { node, state: "error", err: `its result in KV (__exec/${cid}/${uuid}) is not JSON` };
            continue;
          }
          res[uuid] = {
            node,
            state: "done",
            rc: d.rc,
            output: d.output,
            err: d.err,
            truncated: d.truncated,
            timed_out: d.timed_out,
          };
        }
      }
      return { ...l.group, res };
    },
  };

  return {
    name: "exec",
    ...api,
    async start() {
      priv = await loadKey(p.master_key_priv, "private");
      pub = await loadKey(p.master_key_pub, "public");
      const problem = seen.load(ctx.clock.now());
      if (problem) ctx.log.warn(`exec: ${problem}`);
      ctx.log.info(
        `exec: ${
          pub
            ? "runs signed commands (public key loaded)"
            : `refuses every command (${
              p.master_key_pub ? "master_key_pub not loaded" : "no master_key_pub"
            })`
        }` +
          (priv ? "; can send commands (private key loaded)" : ""),
      );
    },
    stop: () => Promise.resolve(),
    info: () => ({ can_run: pub !== null, can_send: priv !== null, running, launched: launched.size }),
    routes() {
      const r = new RouteTable("exec");
      r.write(
        "GET",
        "/exec/:tag",
        "run ?cmd= on every node with the tag (signed); answers the cid",
        async (c2) => {
          const cid = await api.launch(c2.req.param("tag") ?? "", c2.req.query("cmd") ?? "");
          return c2.text(cid);
        },
      );
      r.write("GET", "/exec-get/:cid", "results of a command group, per node", async (c2) => {
        return c2.json(await api.result(c2.req.param("cid") ?? ""));
      });
      r.peer("POST", "/exec/run", "a signed command from the asking agent", async (c2) => {
        const answer = await accept(await readPeerBody(c2));
        // a body that is not a signed request at all is a client error; a refusal of a
        // well-formed request (bad signature, replay, expired...) is an answer the sender reads
        const malformed = dec.decode(answer).includes('"reason":"malformed"');
        return await peerResponse(c2, answer, malformed ? 400 : 200);
      });
      return r;
    },
  };
}
