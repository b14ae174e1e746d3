/**
 * For the child processes of the HTTP tests: the API server on a unix socket alone (no TCP), with one
 * read route, `GET /` answering "ok".
 */
import { buildApp, HttpServer } from "../../lib/http/mod.ts";
import { RouteTable } from "../../lib/routing/mod.ts";
import type { Logger } from "../../lib/log/mod.ts";
import { Counters } from "../../lib/counters.ts";

export function serveUnixApi(socket: string, log: Logger): Promise<HttpServer> {
  const counters = new Counters();
  const r = new RouteTable("test");
  r.read("GET", "/", "root", (c) => c.text("ok"));
  const app = buildApp([r], { token: "", maxBody: 100, log, counters });
  return HttpServer.start(app, {
    bind: "",
    port: 0,
    socket,
    tcp: false,
    token: "",
    maxBody: 100,
    log,
    counters,
  });
}
