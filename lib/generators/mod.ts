/**
 * Generators (reference §10.7): configuration files rendered from Jinja2 templates over the
 * cluster's state (`node`, `nodes`, `ok_nodes(service)`, `kv(key)`), re-rendered on membership,
 * service, tag and KV events (debounced), written atomically only when their content changes,
 * then their `command` runs with a timeout. Partial files keep everything outside the
 * `partial_start`/`partial_end` markers. `GET /agent/generators[/:name]` shows their state.
 *
 * ```ts
 * const gens = createGenerators(ctx, { membership, kvGet });
 * await gens.start();
 * ```
 */
import type { Ctx, Subsystem } from "../subsystem.ts";
import { HttpError, RouteTable } from "../routing/mod.ts";
import {
  type GeneratorDef,
  Generators,
  type GeneratorsMembership,
  type GeneratorStatus,
  type KvGet,
} from "./generators.ts";

export {
  DEBOUNCE_MS,
  generatorContext,
  type GeneratorDef,
  type GeneratorStatus,
  type KvGet,
  okNodes,
} from "./generators.ts";
export { applyPartial, PartialError } from "./partial.ts";
export { type CommandResult, runCommand } from "../process/mod.ts";

/** What routes and tests may ask of the generators. */
export interface GeneratorsApi {
  list(): Array<GeneratorDef & GeneratorStatus & { waiting_for_join: boolean }>;
  /** Renders every generator now and resolves when done (tests, `kunai generators`). */
  runNow(): Promise<void>;
}

/** Builds the generators subsystem; KV reads in templates need `kvGet`. */
export function createGenerators(
  ctx: Ctx,
  deps: { membership: GeneratorsMembership; kvGet?: KvGet },
): Subsystem & GeneratorsApi {
  const g = new Generators(ctx, deps.membership, deps.kvGet);
  const offs: Array<() => void> = [];
  const api: Subsystem & GeneratorsApi = {
    name: "generators",
    start() {
      const again = () => g.schedule();
      offs.push(ctx.bus.onMembers(again));
      offs.push(ctx.bus.on("services.changed", again));
      offs.push(ctx.bus.on("tags.changed", again));
      offs.push(ctx.bus.on("kv.changed", (e) => g.onKvChanged(e.key)));
      offs.push(ctx.bus.on("config.reloaded", () => g.reload()));
      g.start();
      return Promise.resolve();
    },
    async stop() {
      for (const off of offs.splice(0)) off();
      await g.stop();
    },
    info: () => {
      const all = g.status();
      return {
        generators: all.length,
        applying: all.filter((s) => s.applies).map((s) => s.name),
        errors: all.filter((s) => s.last_error).map((s) => s.name),
        kv_reads: g.kvEnabled,
        waiting_for_join: g.heldForJoin,
      };
    },
    list: () => g.status(),
    runNow: () => g.runNow(),
    routes: () => generatorsRoutes(api),
  };
  return api;
}

function view(s: GeneratorDef & GeneratorStatus): Record<string, unknown> {
  const { templateDirs: _dirs, ...rest } = s;
  return rest;
}

/** `GET /agent/generators` and `GET /agent/generators/:name` (read). */
export function generatorsRoutes(api: GeneratorsApi): RouteTable {
  const r = new RouteTable("generators");
  r.read(
    "GET",
    "/agent/generators",
    "the generators, whether they apply here, last render/write/command",
    (c) => c.json(api.list().map(view)),
  );
  r.read("GET", "/agent/generators/:name{.+}", "one generator", (c) => {
    const name = c.req.param("name") ?? "";
    const g = api.list().find((s) => s.name === name);
    if (!g) throw new HttpError(404, `no generator named ${name}`);
    return c.json(view(g));
  });
  return r;
}
