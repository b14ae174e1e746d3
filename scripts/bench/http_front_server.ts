/**
 * Server side of http_front_bench: the same app served directly by Deno.serve on one port and
 * through lib/http's HttpServer (the TCP front that drops slow clients) on another. Prints
 * `{"direct": port, "front": port}` and serves until killed.
 */
import { buildApp, HttpServer } from "../../lib/http/mod.ts";
import { RouteTable } from "../../lib/routing/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { Counters } from "../../lib/counters.ts";

const r = new RouteTable("bench");
r.read("GET", "/", "small answer", (c) => c.text("OK"));
r.read("GET", "/big", "64 KB answer", (c) => c.text("x".repeat(65536)));
const counters = new Counters();
const app = buildApp([r], { token: "", maxBody: 1 << 20, log: silentLogger, counters });
const direct = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  (req) => app.fetch(req, { transport: "tcp" }),
);
const front = await HttpServer.start(app, {
  bind: "127.0.0.1",
  port: 0,
  socket: "",
  tcp: true,
  token: "",
  maxBody: 1 << 20,
  log: silentLogger,
  counters,
  headerTimeoutMs: 2000,
  idleTimeoutMs: 60_000,
});
console.log(JSON.stringify({ direct: direct.addr.port, front: front.tcpAddr!.port }));
Deno.addSignalListener("SIGTERM", async () => {
  await Promise.all([direct.shutdown(), front.close()]);
  Deno.exit(0);
});
