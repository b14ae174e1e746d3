/**
 * `kunai evaluator list|eval` (reference §1): the whitelisted functions, and one expression evaluated
 * by the agent (with its collector results and configuration).
 */
import { AgentHttpError } from "../lib/client/mod.ts";
import { excerpt } from "../lib/excerpt.ts";
import type { CommandGroup } from "./types.ts";

function base64Utf8(text: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
}

export const evaluatorCommands: CommandGroup = {
  group: "evaluator",
  description: "the expression language of checks and detectors",
  commands: [
    {
      name: "list",
      description: "list the functions expressions may call",
      options: { json: { type: "boolean", description: "JSON output" } },
      async run({ client, out, options }) {
        const names = await client().json<string[]>("GET", "/agent/evaluator/list");
        if (options.json) out.json(names);
        else {
          out.title("Functions");
          for (const n of names) out.line(n);
        }
        return 0;
      },
    },
    {
      name: "eval",
      description: "evaluate an expression on the agent (quote it; use -- before a leading '-')",
      args: ["<expr...>"],
      options: { json: { type: "boolean", description: "JSON output" } },
      async run({ client, out, options, positionals }) {
        const expr = positionals.join(" ");
        const body = new URLSearchParams({ expr: base64Utf8(expr) }).toString();
        const res = await client().request("POST", "/agent/evaluator/eval", body, {
          "content-type": "application/x-www-form-urlencoded",
        });
        const text = await res.text();
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new AgentHttpError(res.status, `expected JSON, got: ${text.slice(0, 200)}`);
        }
        if (res.status === 400 && parsed && typeof parsed === "object" && "error" in parsed) {
          const err = parsed as { error: string; detail?: { kind?: string; column?: number | null } };
          if (options.json) out.json(err);
          else {
            const column = err.detail?.column;
            const shown = excerpt(expr, typeof column === "number" ? column - 1 : null);
            out.line(shown.text);
            if (shown.caret !== null) out.line(`${" ".repeat(shown.caret)}^`);
            out.error(`${err.detail?.kind ?? "evaluation"} error: ${err.error}`);
          }
          return 1;
        }
        if (!res.ok) {
          const e = parsed as { error?: string; detail?: unknown } | null;
          throw new AgentHttpError(res.status, String(e?.error ?? text), e?.detail);
        }
        if (options.json) out.json({ expr, result: parsed });
        else {
          out.line(expr);
          out.title("Result");
          out.line(JSON.stringify(parsed));
        }
        return 0;
      },
    },
  ],
};
