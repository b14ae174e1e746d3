/**
 * The checks API the routes call: reads and runtime changes of checks and services. It owns the
 * rules of a change — validation against the config schema, where the object's file is written
 * inside cfg_dir, which objects may not be deleted here (409) — so routes only parse and shape.
 */
import { checkType, objectTypes } from "../config/mod.ts";
import type { Issue } from "../config/schema.ts";
import type { MemberRecord } from "../types.ts";
import type { Checks } from "./checks.ts";
import {
  BadObjectName,
  isInside,
  objectFilePath,
  removeObjectFile,
  stripRuntime,
  writeObjectFile,
} from "./config_files.ts";
import { serviceMembership } from "./services.ts";
import { parseMaintenanceRequest } from "../identity/mod.ts";

/** A refused change: `invalid` (400), `not_found` (404) or `conflict` (409). */
export class ChecksRequestError extends Error {
  constructor(
    readonly kind: "invalid" | "not_found" | "conflict",
    message: string,
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = "ChecksRequestError";
  }
}

/** What other parts (the routes, tests) may ask of the checks subsystem. */
export interface ChecksApi {
  /** Runs one check now (awaits its result). */
  runCheck(id: string): Promise<void>;
  /**
   * `kunai checks run NAME`: runs an active check of this node now and answers its view; refuses
   * (ChecksRequestError) an unknown check (not_found), an inactive or passive one (conflict).
   */
  runNow(id: string): Promise<Record<string, unknown>>;
  /**
   * `kunai checks silence NAME`: no notifications for the check until `for` passes, or (no `for`)
   * until it is OK again; answers the check's view. Refuses an unknown check (not_found), an OK one
   * without `for` (conflict) and a bad body (invalid).
   */
  silence(id: string, body: unknown): Record<string, unknown>;
  /** Ends a check's silence; answers whether it had one (not_found for an unknown check). */
  unsilence(id: string): boolean;
  /** Recomputes the active set from our tags. */
  relink(): void;
  /** Re-reads checks and services from the configuration. */
  loadFromConfig(): void;
  view(id: string): Record<string, unknown> | undefined;
  /** The check's configured fields, secrets masked (handler templates' `check`); undefined: unknown. */
  definition(id: string): Record<string, unknown> | undefined;
  allViews(): Record<string, Record<string, unknown>>;
  activeViews(): Record<string, Record<string, unknown>>;
  serviceViews(): Record<string, Record<string, unknown>>;
  isActive(id: string): boolean;
  history(id: string): Array<{ ts: number; state: string; state_id: number; output: string }>;
  /** Validates, writes `<cfg_dir>/<name>.json` and (re)loads the check; answers its view. */
  putCheck(name: string, body: unknown): Record<string, unknown>;
  /** Removes a check defined in cfg_dir (409 for a service's check or a file outside cfg_dir). */
  deleteCheck(name: string): void;
  /** Validates, writes and (re)loads a service; answers its view. */
  putService(name: string, body: unknown): Record<string, unknown>;
  deleteService(name: string): void;
  /**
   * `/agent/state[/<node>]`: checks and services of this node or of a member; undefined: no such
   * member. Another live node is asked for its own (`askNode`); when it cannot answer, or is not
   * alive, its gossip record gives its services and their checks (`source: "gossip"`, `error` why).
   */
  nodeState(name?: string): Promise<NodeState | undefined>;
  /** `/state/services`: every service with the members offering it. */
  servicesState(): Record<string, unknown>;
}

/** A node's checks and services, and where they were read (the node itself, or its gossip record). */
export interface NodeState {
  checks: Record<string, unknown>;
  services: Record<string, unknown>;
  source: "node" | "gossip";
  /** Why the node itself was not heard: it is not alive, or it was asked and did not answer (or wrongly). */
  error?: string;
}

/** What the API needs besides the core. */
export interface ChecksApiDeps {
  cfgDir: () => string;
  /** Every member (ourselves included). */
  members: () => MemberRecord[];
  /** Our own record. */
  self: () => MemberRecord;
  /** Our services as published right now. */
  localServices: () => Record<string, unknown>;
  /** Epoch ms (the agent's clock). */
  now: () => number;
  /** Asks a member for its own state (its `/checks-internal/state`); absent: gossip records only. */
  askNode?: (m: MemberRecord) => Promise<unknown>;
}

function bodyObject(body: unknown, key: "check" | "service"): Record<string, unknown> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ChecksRequestError("invalid", "Bad json entry", `the body must be a JSON object (a ${key})`);
  }
  const obj = body as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1 && keys[0] === key && obj[key] && typeof obj[key] === "object") {
    return obj[key] as Record<string, unknown>;
  }
  return obj;
}

function validate(kind: "check" | "service", value: Record<string, unknown>): Record<string, unknown> {
  const issues: Issue[] = [];
  const type = kind === "check" ? checkType : objectTypes.service;
  const parsed = type.parse(value, kind, issues) as Record<string, unknown> | undefined;
  if (!parsed || issues.length) {
    throw new ChecksRequestError("invalid", "Bad json entry", issues.map((i) => `${i.path}: ${i.message}`));
  }
  return parsed;
}

function filePath(cfgDir: string, name: string): string {
  try {
    return objectFilePath(cfgDir, name);
  } catch (err) {
    if (err instanceof BadObjectName) throw new ChecksRequestError("invalid", err.message);
    throw err;
  }
}

/** The ChecksApi over the core. */
export function makeChecksApi(core: Checks, d: ChecksApiDeps): ChecksApi {
  const localState = (): NodeState => ({
    checks: core.activeViews(),
    services: d.localServices(),
    source: "node",
  });
  return {
    runCheck: async (id) => {
      await core.runCheck(id);
    },
    silence(id, body) {
      if (!core.defs.get(id)) {
        throw new ChecksRequestError("not_found", `no check named ${JSON.stringify(id)} on this node`);
      }
      let s;
      try {
        s = parseMaintenanceRequest(body, d.now());
      } catch (err) {
        throw new ChecksRequestError("invalid", (err as Error).message);
      }
      const state = core.view(id)!.state;
      if (s.until === null && (state === "ok" || state === "pending")) {
        throw new ChecksRequestError(
          "conflict",
          `check ${id} is ${state}: a silence without "for" lasts until it is OK again; give a duration`,
        );
      }
      const was = core.silence(id);
      core.setSilence(id, was ? { ...s, since: was.since } : s);
      return core.view(id)!;
    },
    unsilence(id) {
      if (!core.defs.get(id)) {
        throw new ChecksRequestError("not_found", `no check named ${JSON.stringify(id)} on this node`);
      }
      const was = core.silence(id) !== null;
      core.setSilence(id, null);
      return was;
    },
    async runNow(id) {
      const def = core.defs.get(id);
      if (!def) {
        throw new ChecksRequestError("not_found", `no check named ${JSON.stringify(id)} on this node`);
      }
      if (!core.isActive(id)) {
        throw new ChecksRequestError(
          "conflict",
          `check ${id} is not active on this node (apply_on ${def.applyOn})`,
        );
      }
      if (def.kind === "passive") {
        throw new ChecksRequestError(
          "conflict",
          `check ${id} is passive: its results are pushed, not run here`,
        );
      }
      if (def.problems.length) throw new ChecksRequestError("conflict", `check ${id}: ${def.problems[0]}`);
      await core.runCheck(id);
      return core.view(id)!;
    },
    relink: () => core.relink(),
    loadFromConfig: () => core.loadFromConfig(),
    view: (id) => core.view(id),
    definition: (id) => core.definition(id),
    allViews: () => core.allViews(),
    activeViews: () => core.activeViews(),
    serviceViews: () => core.serviceViews(),
    isActive: (id) => core.isActive(id),
    history: (id) => core.history(id),
    putCheck(name, body) {
      if (name.startsWith("service:")) {
        throw new ChecksRequestError("invalid", "service checks are edited through /agent/services/<name>");
      }
      const path = filePath(d.cfgDir(), name);
      const value = validate("check", stripRuntime(bodyObject(body, "check")));
      // the file says where the check applies, so a reload keeps it (an API id's directory is not a tag)
      if (typeof value.apply_on !== "string") value.apply_on = "*";
      // so it keeps reading only public configuration data after a reload (definitions.ts lookup)
      value.written_by = "api";
      writeObjectFile(path, "check", value);
      core.defs.putCheck(name, path, value);
      core.reset([name]);
      return core.view(name)!;
    },
    deleteCheck(name) {
      const def = core.def(name);
      if (!def) throw new ChecksRequestError("not_found", "check not found");
      if (def.service) {
        throw new ChecksRequestError(
          "conflict",
          `check ${name} belongs to service ${def.service}; delete the service instead`,
        );
      }
      if (def.file && !isInside(d.cfgDir(), def.file)) {
        throw new ChecksRequestError(
          "conflict",
          `check ${name} is defined in ${def.file}, outside the configuration directory; remove it there`,
        );
      }
      if (def.file) removeObjectFile(def.file);
      if (core.defs.deleteCheck(name)) core.reset([name]);
    },
    putService(name, body) {
      const path = filePath(d.cfgDir(), name);
      const raw = stripRuntime(bodyObject(body, "service"), ["check"]);
      const value = validate("service", { ...raw, name, written_by: "api" });
      writeObjectFile(path, "service", stripRuntime(value, ["check", "name"]));
      const { sd, dropped } = core.defs.putService(name, path, value);
      core.reset([...dropped, ...(sd.checkId ? [sd.checkId] : [])]);
      return core.serviceViews()[name];
    },
    deleteService(name) {
      const sd = core.serviceDef(name);
      if (!sd) throw new ChecksRequestError("not_found", "service not found");
      if (sd.file && !isInside(d.cfgDir(), sd.file)) {
        throw new ChecksRequestError(
          "conflict",
          `service ${name} is defined in ${sd.file}, outside the configuration directory; remove it there`,
        );
      }
      if (sd.file) removeObjectFile(sd.file);
      core.reset(core.defs.deleteService(name));
    },
    async nodeState(name) {
      const self = d.self();
      if (name === undefined || name === self.name || name === self.uuid) return localState();
      const m = d.members().find((x) => x.name === name || x.uuid === name);
      if (!m) return undefined;
      let error = d.askNode ? `${m.name} is ${m.state}` : undefined;
      if (d.askNode && (m.state === "alive" || m.state === "suspect")) {
        try {
          return { ...stateAnswer(await d.askNode(m)), source: "node" };
        } catch (err) {
          error = `${m.name} did not answer: ${(err as Error).message}`;
        }
      }
      const remoteChecks: Record<string, unknown> = {};
      // another node's services are free-form JSON from the network: a service or check that is
      // not an object (null, a string) has no check here rather than failing the whole answer
      for (const [sname, s] of Object.entries(m.services ?? {})) {
        const chk = s && typeof s === "object" ? (s as { check?: unknown }).check : undefined;
        if (chk && typeof chk === "object" && !Array.isArray(chk)) {
          remoteChecks[`service:${sname}`] = { ...chk, service: sname };
        }
      }
      return {
        checks: remoteChecks,
        services: m.services ?? {},
        source: "gossip",
        ...(error ? { error } : {}),
      };
    },
    servicesState() {
      const all = d.members();
      const out: Record<string, unknown> = {};
      for (const [name, base] of Object.entries(core.serviceViews())) {
        out[name] = serviceMembership(name, base, all);
      }
      return out;
    },
  };
}

/** A node's answer to `/checks-internal/state`: `{checks, services}`, both objects, or an error. */
function stateAnswer(v: unknown): Pick<NodeState, "checks" | "services"> {
  const isObject = (x: unknown): x is Record<string, unknown> =>
    x !== null && typeof x === "object" && !Array.isArray(x);
  if (!isObject(v) || !isObject(v.checks) || !isObject(v.services)) {
    throw new Error("its answer is not {checks, services}");
  }
  return { checks: v.checks, services: v.services };
}
