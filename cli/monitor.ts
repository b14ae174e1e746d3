/**
 * `kunai monitor [--log-level L]`: the agent's log, live (Serf's and Consul's `monitor`), at any level
 * whatever the agent's own (`--log-level DEBUG` on an agent logging at INFO). Runs until Ctrl-C or
 * until the agent stops.
 */
import { AgentHttpError } from "../lib/client/mod.ts";
import { type CommandGroup, UsageError } from "./types.ts";

/** A stream has no end to wait for: the request's own deadline is the longest a timer allows. */

export const monitorCommands: CommandGroup = {
  group: "monitor",
  description: "the agent's log, live",
  commands: [{
    name: "",
    description: "print the agent's log lines as they are written, until Ctrl-C or the agent stops",
    options: {
      "log-level": { type: "string", description: "DEBUG, INFO (default), WARNING or ERROR" },
    },
    async run({ client, options, out }) {
      const level = String(options["log-level"] ?? "INFO").toUpperCase();
      if (!["DEBUG", "INFO", "WARNING", "ERROR"].includes(level)) {
        throw new UsageError(`--log-level: expected DEBUG, INFO, WARNING or ERROR, got ${level}`);
      }
      // 10 s for the agent to answer; then its log stream lasts as long as it does
      const res = await client().request("GET", `/agent/monitor?level=${level}`, null, {}, 10_000, true);
      if (!res.ok) {
        const text = await res.text();
        let error = text;
        try {
          error = JSON.parse(text).error ?? text;
        } catch { /* not JSON */ }
        throw new AgentHttpError(res.status, error);
      }
      const dec = new TextDecoder();
      let rest = "";
      for await (const chunk of res.body!) {
        const lines = (rest + dec.decode(chunk, { stream: true })).split("\n");
        rest = lines.pop()!;
        for (const l of lines) out.line(l);
      }
      if (rest) out.line(rest);
      out.error("kunai: the agent ended the stream (it stopped)");
      return 0;
    },
  }],
};
