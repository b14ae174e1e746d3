/**
 * The services Worker starts only when a service collector has something to talk to: before the
 * Worker is up, a run first checks here (main thread, an async TCP connect with a short timeout)
 * that the configured server answers or the status URL is set. A host without redis, MySQL, MongoDB
 * or status URLs keeps one collector Worker (issue 12), and the npm clients are never loaded.
 * The answers have the shape the Worker gives for the same situation.
 */
import type { RunReply } from "./protocol.ts";
import { mongoHostPort } from "./parsers/services.ts";

type Data = Record<string, unknown>;

export function setting(data: Data, key: string, dflt: string): string {
  const v = data[key];
  return v === undefined || v === null || v === "" ? dflt : String(v);
}

/** An error's message, with its code when the message does not say it (ECONNREFUSED...). */
export function reason(err: unknown): string {
  const e = err as Error & { code?: string };
  return e?.code && !String(e.message).includes(e.code)
    ? `${e.message} (${e.code})`
    : String(e?.message ?? err);
}

/** Opens and closes a TCP connection within `ms`. */
export async function tcpAnswers(hostname: string, port: number, ms = 1500): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const attempt = Deno.connect({ hostname, port });
  try {
    const conn = await Promise.race([
      attempt,
      new Promise<never>((_, rej) =>
        timer = setTimeout(() => rej(new Error(`connect timed out after ${ms} ms`)), ms)
      ),
    ]);
    conn.close();
  } catch (err) {
    attempt.then((c) => c.close(), () => {}); // a late connect is closed; a late failure is the one we report
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function unreachable(what: string, where: string, err: unknown): RunReply {
  return {
    results: { available: false },
    inactive: `no ${what} server reachable at ${where}: ${reason(err)}`,
  };
}

/**
 * null when the services Worker should run `collector` now; otherwise the reply to record without
 * starting it (server not answering, status URL not set).
 */
export async function servicePrecheck(collector: string, data: Data): Promise<RunReply | null> {
  switch (collector) {
    case "redis": {
      const host = setting(data, "redis_server", "127.0.0.1");
      const port = Number(setting(data, "redis_port", "6379"));
      return await tcpAnswers(host, port).then(
        () => null,
        (err) => unreachable("redis", `${host}:${port}`, err),
      );
    }
    case "mysql": {
      if (typeof data.mysql_socket === "string" && data.mysql_socket) return null;
      const host = setting(data, "mysql_server", "127.0.0.1").replace(/^localhost$/, "127.0.0.1");
      const port = Number(setting(data, "mysql_port", "3306"));
      return await tcpAnswers(host, port).then(() => null, (err) => ({
        results: { available: false },
        inactive: `cannot connect to mysql at ${host}:${port}: ${reason(err)}`,
      }));
    }
    case "mongodb": {
      const hp = mongoHostPort(setting(data, "mongodb_server", "mongodb://127.0.0.1"));
      const i = hp.lastIndexOf(":");
      const hostname = hp.slice(0, i).replace(/^\[|\]$/g, "");
      return await tcpAnswers(hostname, Number(hp.slice(i + 1))).then(
        () => null,
        (err) => unreachable("MongoDB", hp, err),
      );
    }
    default: {
      const key =
        { apache: "apacheStatusUrl", nginx: "nginxStatusUrl", rabbitmq: "rabbitMQStatusUrl" }[collector];
      if (key && !(typeof data[key] === "string" && data[key])) {
        return { results: null, inactive: `${key} is not set in the configuration data` };
      }
      return null;
    }
  }
}
