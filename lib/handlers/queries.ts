/**
 * Queries (Serf's `serf query`): ask every member (or those with a tag, or named nodes) a question
 * and collect their answers. A node answers with the stdout of its `event_handler` for
 * `query:NAME` (Serf's `query:NAME=script`), run with the payload on stdin; a node without one says
 * so. Unlike `kunai exec`, the command is the answering node's administrator's, never the asker's.
 *
 * The asking agent (write route `POST /agent/query/:name`) sends the question to each target on the
 * peer route `POST /query/run`, sealed with the cluster key (the envelope refuses replays and stale
 * messages), and each target answers in its reply. Without a cluster key a question from another
 * agent runs nothing (anyone could send it): the target answers `refused`. The asking agent's own
 * answer runs locally. Every answer is bounded: the question's deadline (at most 60 s), the
 * handler's timeout, QUERY_RESPONSE_BYTES of output, QUERY_MAX_RUNNING runs at a time per node.
 */
import type { MemberRecord } from "../types.ts";
import { readCapped } from "../read_capped.ts";
import { hostPort } from "../host_port.ts";

/** Event names of queries start with this (`query:uptime`); they cannot be sent as events. */
export const QUERY_PREFIX = "query:";
/** Largest question payload (UTF-8 bytes), as for events. */
export const QUERY_PAYLOAD_BYTES = 1024;
/** Bytes of a handler's stdout sent back (Serf's limit is 1 KB). */
export const QUERY_RESPONSE_BYTES = 4096;
export const QUERY_DEFAULT_TIMEOUT_MS = 5_000;
export const QUERY_MAX_TIMEOUT_MS = 60_000;
/** Questions answered at once per node; more are refused as `busy`. */
export const QUERY_MAX_RUNNING = 4;
/** Questions in flight from the asker at once (a large cluster is asked in waves, within the deadline). */
export const QUERY_MAX_SENDING = 64;
/** Largest sealed answer read from a target (an answer's output is cut at QUERY_RESPONSE_BYTES). */
const QUERY_ANSWER_MAX = 64 * 1024;
/** A question issued further in the future than this (clock skew) is refused. */
export const QUERY_SKEW_MS = 30_000;
/** A query name: the event-name alphabet. */
export const QUERY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/** What travels to a target. `issued`/`deadline`: the asker's clock, epoch ms. */
export interface QueryRequest {
  v: 1;
  qid: string;
  name: string;
  payload: string;
  from: string;
  from_uuid: string;
  issued: number;
  deadline: number;
}

export type QueryStatus = "ok" | "failed" | "no-handler" | "refused" | "unreachable" | "timeout";

/** One node's answer. `output`: the handler's stdout (ok and failed); `error`: why there is none. */
export interface QueryAnswer {
  node: string;
  uuid: string;
  status: QueryStatus;
  handler?: string;
  code?: number;
  output?: string;
  truncated?: boolean;
  error?: string;
  duration_ms?: number;
}

export interface QueryResult {
  qid: string;
  name: string;
  targets: number;
  answers: QueryAnswer[];
}

/** Which members a query goes to. */
export interface QueryFilter {
  tag?: string;
  nodes?: string[];
}

const bytes = (s: string) => new TextEncoder().encode(s).length;

/** Throws an Error naming what is wrong with a question the asker was given. */
export function checkQuestion(name: string, payload: string, timeoutMs: number): void {
  if (!QUERY_NAME.test(name)) {
    throw new Error(
      `query name ${JSON.stringify(name.slice(0, 80))}: 1-64 letters, digits, '.', '_', ':' or '-', ` +
        `starting with a letter or digit`,
    );
  }
  if (bytes(payload) > QUERY_PAYLOAD_BYTES) {
    throw new Error(`query payload of ${bytes(payload)} bytes: at most ${QUERY_PAYLOAD_BYTES}`);
  }
  if (!(timeoutMs >= 100 && timeoutMs <= QUERY_MAX_TIMEOUT_MS)) {
    throw new Error(`query timeout of ${timeoutMs} ms: from 100 ms to ${QUERY_MAX_TIMEOUT_MS / 1000} s`);
  }
}

/** The request in `body`, or why it is refused (a peer's bytes: anything may arrive). */
export function parseRequest(body: Uint8Array, now: number): QueryRequest | string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    return "malformed: not JSON";
  }
  if (!o || typeof o !== "object" || Array.isArray(o)) return "malformed: not an object";
  if (o.v !== 1) return "malformed: unknown version";
  const str = (k: string, max: number) => typeof o[k] === "string" && (o[k] as string).length <= max;
  if (!str("qid", 64) || !str("from", 255) || !str("from_uuid", 64)) return "malformed: qid, from, from_uuid";
  if (typeof o.name !== "string" || !QUERY_NAME.test(o.name)) return "malformed: name";
  if (typeof o.payload !== "string" || bytes(o.payload) > QUERY_PAYLOAD_BYTES) return "malformed: payload";
  const issued = o.issued, deadline = o.deadline;
  if (typeof issued !== "number" || typeof deadline !== "number" || !Number.isFinite(issued + deadline)) {
    return "malformed: issued, deadline";
  }
  if (deadline <= issued || deadline - issued > QUERY_MAX_TIMEOUT_MS) return "malformed: deadline";
  if (issued > now + QUERY_SKEW_MS) return "expired: issued in the future";
  if (deadline <= now) return "expired";
  return o as unknown as QueryRequest;
}

/** The members a query goes to: alive or suspect, with the tag, among the names (when given). */
export function queryTargets(members: MemberRecord[], f: QueryFilter): MemberRecord[] {
  const names = f.nodes?.length ? new Set(f.nodes) : null;
  return members
    .filter((m) => m.state === "alive" || m.state === "suspect")
    .filter((m) => !f.tag || f.tag === "*" || m.tags.includes(f.tag))
    .filter((m) => !names || names.has(m.name) || names.has(m.uuid))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** What asking needs: the membership, our own answer, and the envelope for the others. */
export interface AskDeps {
  selfUuid: string;
  members: () => MemberRecord[];
  now: () => number;
  /** Our own answer (asked through our write route: authenticated). */
  local: (q: QueryRequest) => Promise<QueryAnswer>;
  seal: (plain: Uint8Array) => Promise<Uint8Array>;
  open: (wire: Uint8Array) => Promise<{ ok: true; plain: Uint8Array } | { ok: false; reason: string }>;
}

/**
 * Asks the targets at once and waits for every answer until the deadline; a target that has not
 * answered by then is `timeout`, one that cannot be reached `unreachable`. Answers sorted by node.
 */
export async function askQuery(
  d: AskDeps,
  name: string,
  payload: string,
  filter: QueryFilter,
  timeoutMs: number,
): Promise<QueryResult> {
  checkQuestion(name, payload, timeoutMs);
  const targets = queryTargets(d.members(), filter);
  const self = d.members().find((m) => m.uuid === d.selfUuid);
  const issued = d.now();
  const q: QueryRequest = {
    v: 1,
    qid: crypto.randomUUID(),
    name,
    payload,
    from: self?.name ?? "",
    from_uuid: d.selfUuid,
    issued,
    deadline: issued + timeoutMs,
  };
  const body = new TextEncoder().encode(JSON.stringify(q));
  const answers = await mapLimited(targets, QUERY_MAX_SENDING, async (m): Promise<QueryAnswer> => {
    const base = { node: m.name, uuid: m.uuid };
    if (m.uuid === d.selfUuid) return await d.local(q);
    try {
      const res = await fetch(`http://${hostPort(m.addr, m.port)}/query/run`, {
        method: "POST",
        body: (await d.seal(body)) as Uint8Array<ArrayBuffer>,
        // (the deadline is the asker's wall clock: a step back must not stretch the wait by the step)
        signal: AbortSignal.timeout(Math.max(1, Math.min(q.deadline - d.now(), q.deadline - q.issued))),
      });
      const wire = await readCapped(res, QUERY_ANSWER_MAX);
      if (!res.ok) {
        return { ...base, status: "refused", error: `HTTP ${res.status}: ${decodeText(wire).slice(0, 200)}` };
      }
      const opened = await d.open(wire);
      if (!opened.ok) return { ...base, status: "refused", error: `answer refused: ${opened.reason}` };
      let answer: unknown;
      try {
        answer = JSON.parse(decodeText(opened.plain));
      } catch {
        return { ...base, status: "refused", error: "malformed answer" };
      }
      return checkAnswer(m, answer);
    } catch (err) {
      const e = err as Error;
      if (e.name === "TimeoutError") {
        return { ...base, status: "timeout", error: "no answer before the deadline" };
      }
      return { ...base, status: "unreachable", error: e.message };
    }
  });
  return { qid: q.qid, name, targets: targets.length, answers };
}

/** `fn` over `items` with at most `limit` running at once; results in the items' order. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function decodeText(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

const STATUSES = new Set<QueryStatus>(["ok", "failed", "no-handler", "refused", "timeout"]);

/** A target's answer as we pass it on: its fields checked, named by our membership (not its claim). */
function checkAnswer(m: MemberRecord, a: unknown): QueryAnswer {
  const base = { node: m.name, uuid: m.uuid };
  if (!a || typeof a !== "object" || !STATUSES.has((a as QueryAnswer).status)) {
    return { ...base, status: "refused", error: "malformed answer" };
  }
  const o = a as Record<string, unknown>;
  const out: QueryAnswer = { ...base, status: o.status as QueryStatus };
  if (typeof o.handler === "string") out.handler = o.handler.slice(0, 255);
  if (typeof o.code === "number" && Number.isInteger(o.code)) out.code = o.code;
  if (typeof o.output === "string") {
    out.output = o.output.slice(0, QUERY_RESPONSE_BYTES);
    out.truncated = o.truncated === true || o.output.length > QUERY_RESPONSE_BYTES;
  }
  if (typeof o.error === "string") out.error = o.error.slice(0, 500);
  if (typeof o.duration_ms === "number" && Number.isFinite(o.duration_ms)) out.duration_ms = o.duration_ms;
  return out;
}
