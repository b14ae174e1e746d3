/**
 * Which handler a name in a check's `handlers` list means (README "Handlers"): the handler of that
 * id, else the one whose id ends in `/<name>` when exactly one does, and `default` also the only
 * handler when there is just one. Shared by lib/handlers (which sends) and the configuration's
 * warnings (a name that means no handler sends nothing, without a word at run time).
 *
 * ```ts
 * handlerCandidates(["handlers/mail", "ops/mail"], "mail"); // ["handlers/mail", "ops/mail"]: ambiguous
 * ```
 */
import type { ConfigProblem, LoadedObject } from "./load.ts";

/** The handler ids `name` could mean: one is a match, none or several mean no handler is used. */
export function handlerCandidates(ids: Iterable<string>, name: string): string[] {
  const all = [...ids];
  if (all.includes(name)) return [name];
  const suffixed = all.filter((id) => id.endsWith(`/${name}`));
  if (suffixed.length === 0 && name === "default" && all.length === 1) return all;
  return suffixed;
}

/**
 * Warnings for the names of checks' (and services' checks') `handlers` that mean no handler: a
 * typo, or a short name several handlers end with. `default` alone is not worth one (a check
 * without a handler of its own is the common case).
 */
export function handlerRefWarnings(
  objects: Record<string, Record<string, LoadedObject>>,
): ConfigProblem[] {
  const ids = Object.keys(objects.handler ?? {});
  const out: ConfigProblem[] = [];
  const look = (file: string, path: string, handlers: unknown) => {
    if (!Array.isArray(handlers)) return;
    for (const name of handlers) {
      if (typeof name !== "string" || name === "default") continue;
      const c = handlerCandidates(ids, name);
      if (c.length === 1) continue;
      out.push({
        file,
        path,
        message: c.length
          ? `handler "${name}" matches several handlers (${c.join(", ")}): none is used; name one by its id`
          : `handler "${name}" matches no handler (${
            ids.length ? `there are: ${ids.join(", ")}` : "none is defined"
          })`,
      });
    }
  };
  for (const o of Object.values(objects.check ?? {})) look(o.file, "check.handlers", o.value.handlers);
  for (const o of Object.values(objects.service ?? {})) {
    const ck = o.value.check;
    if (ck && typeof ck === "object") {
      look(o.file, "service.check.handlers", (ck as Record<string, unknown>).handlers);
    }
  }
  return out;
}
