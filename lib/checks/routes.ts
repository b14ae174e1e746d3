/**
 * HTTP routes of checks, services and state views (reference §5). Thin: parse, call, shape.
 */
import type { Hono } from "hono";
import { checkType, objectTypes } from "../config/mod.ts";
import type { Issue } from "../config/schema.ts";
import { type ApiContext, type ApiEnv, HttpError, newRouter, protect, readJson } from "../routing/mod.ts";
import type { MemberRecord, MembershipView } from "../types.ts";
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

export interface RouteDeps {
  checks: Checks;
  cfgDir: () => string;
  membership: () => MembershipView | undefined;
  /** Our own record when gossip is not running. */
  selfRecord: () => MemberRecord;
  /** Our services as published right now. */
  localServices: () => Record<string, unknown>;
}

function filePathOr400(cfgDir: string, name: string): string {
  try {
    return objectFilePath(cfgDir, name);
  } catch (err) {
    if (err instanceof BadObjectName) throw new HttpError(400, err.message);
    throw err;
  }
}

async function bodyObject(c: ApiContext, key: "check" | "service"): Promise<Record<string, unknown>> {
  const body = await readJson(c);
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(400, "Bad json entry", `the body must be a JSON object (a ${key})`);
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
    throw new HttpError(400, "Bad json entry", issues.map((i) => `${i.path}: ${i.message}`));
  }
  return parsed;
}

function members(d: RouteDeps): MemberRecord[] {
  const m = d.membership();
  return m ? m.members() : [d.selfRecord()];
}

/** `/agent/checks*`, `/agent/services*`, `/agent/state*`, `/state/services*`. */
export function checksRoutes(d: RouteDeps): Hono<ApiEnv> {
  const r = newRouter();
  const { checks } = d;

  r.get("/agent/checks", (c) => c.json(checks.allViews()));
  r.get("/agent/checks/", (c) => c.json(checks.allViews()));
  r.get("/agent/checks/:name{.+}", (c) => {
    const v = checks.view(c.req.param("name"));
    if (!v) throw new HttpError(404, "check not found");
    return c.json(v);
  });
  // transitions of one of our checks, newest first (the UI's Checks page)
  r.get("/agent/checks-history/:name{.+}", (c) => {
    const name = c.req.param("name");
    if (!checks.view(name)) throw new HttpError(404, "check not found");
    return c.json(checks.history(name));
  });
  r.put("/agent/checks/:name{.+}", protect, async (c) => {
    const name = c.req.param("name");
    if (name.startsWith("service:")) {
      throw new HttpError(400, "service checks are edited through /agent/services/<name>");
    }
    const path = filePathOr400(d.cfgDir(), name);
    const value = validate("check", stripRuntime(await bodyObject(c, "check")));
    writeObjectFile(path, "check", value);
    checks.putCheck(name, path, value);
    return c.json(checks.view(name));
  });
  r.delete("/agent/checks/:name{.+}", protect, (c) => {
    const name = c.req.param("name");
    const def = checks.def(name);
    if (!def) throw new HttpError(404, "check not found");
    if (def.service) {
      throw new HttpError(409, `check ${name} belongs to service ${def.service}; delete the service instead`);
    }
    if (def.file && !isInside(d.cfgDir(), def.file)) {
      throw new HttpError(
        409,
        `check ${name} is defined in ${def.file}, outside the configuration directory; remove it there`,
      );
    }
    if (def.file) removeObjectFile(def.file);
    checks.deleteCheck(name);
    return c.json({ deleted: name });
  });

  r.get("/agent/services", (c) => c.json(checks.serviceViews()));
  r.get("/agent/services/", (c) => c.json(checks.serviceViews()));
  r.get("/agent/services/:name{.+}", (c) => {
    const v = checks.serviceViews()[c.req.param("name")];
    if (!v) throw new HttpError(404, "service not found");
    return c.json(v);
  });
  r.put("/agent/services/:name{.+}", protect, async (c) => {
    const name = c.req.param("name");
    const path = filePathOr400(d.cfgDir(), name);
    const raw = stripRuntime(await bodyObject(c, "service"), ["check"]);
    const value = validate("service", { ...raw, name });
    writeObjectFile(path, "service", stripRuntime(value, ["check", "name"]));
    checks.putService(name, path, value);
    return c.json(checks.serviceViews()[name]);
  });
  r.delete("/agent/services/:name{.+}", protect, (c) => {
    const name = c.req.param("name");
    const sd = checks.serviceDef(name);
    if (!sd) throw new HttpError(404, "service not found");
    if (sd.file && !isInside(d.cfgDir(), sd.file)) {
      throw new HttpError(
        409,
        `service ${name} is defined in ${sd.file}, outside the configuration directory; remove it there`,
      );
    }
    if (sd.file) removeObjectFile(sd.file);
    checks.deleteService(name);
    return c.json({ deleted: name });
  });

  const localState = () => ({ checks: checks.activeViews(), services: d.localServices() });
  r.get("/agent/state", (c) => c.json(localState()));
  r.get("/agent/state/", (c) => c.json(localState()));
  r.get("/agent/state/:name{.+}", (c) => {
    const name = c.req.param("name");
    const self = d.selfRecord();
    if (name === self.name) return c.json(localState());
    const m = members(d).find((x) => x.name === name || x.uuid === name);
    if (!m) throw new HttpError(404, `node ${name} is not known`);
    const remoteChecks: Record<string, unknown> = {};
    for (const [sname, s] of Object.entries(m.services ?? {})) {
      const chk = (s as { check?: Record<string, unknown> }).check;
      if (chk) remoteChecks[`service:${sname}`] = { ...chk, service: sname };
    }
    return c.json({ checks: remoteChecks, services: m.services ?? {} });
  });

  const stateServices = () => {
    const all = members(d);
    const out: Record<string, unknown> = {};
    for (const [name, base] of Object.entries(checks.serviceViews())) {
      out[name] = serviceMembership(name, base, all);
    }
    return out;
  };
  r.get("/state/services", (c) => c.json(stateServices()));
  r.get("/state/services/", (c) => c.json(stateServices()));
  r.get("/state/services/:name{.+}", (c) => {
    const s = stateServices()[c.req.param("name")];
    if (!s) throw new HttpError(404, "service not found", { name: c.req.param("name") });
    return c.json(s);
  });
  return r;
}
