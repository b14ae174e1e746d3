/**
 * Child of socket_mode_test.ts, under umask 0 (set here: the test process keeps its own): serves on
 * unix sockets in the directory argv[0] and prints, as JSON, what a process could reach at the moment
 * each server reports it listens (its `onListen`), then the modes once started.
 */
import { dirname, join } from "node:path";
import { LastingServer } from "../../lib/http/serve.ts";
import { LogSink } from "../../lib/log/mod.ts";
import { serveUnixApi } from "./unix_api.ts";

const dir = Deno.args[0];
Deno.umask(0);
const log = new LogSink({ node: "child", stderr: true }).logger("http");
const modeOf = (p: string) => {
  try {
    return (Deno.lstatSync(p).mode ?? 0) & 0o777;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
};
/** At onListen: the mode at the socket's path, and where the kernel bound it (its directory's mode). */
const seen: { path: number | null; bound: number | null; boundDir: number | null; same: boolean }[] = [];
const observe = (path: string) => (addr: Deno.UnixAddr) => {
  seen.push({
    path: modeOf(path),
    bound: modeOf(addr.path),
    boundDir: modeOf(dirname(addr.path)),
    same: addr.path === path,
  });
};
const ok = () => new Response("ok");

const sock = join(dir, "api.sock");
// twice: the second replaces the socket the first left (as after a stop, or a listen again)
for (const bits of [0o600, 0o660]) {
  const srv = LastingServer.start({ path: sock, onListen: observe(sock) }, ok, log, "test", { bits });
  const c = await Deno.connect({ transport: "unix", path: sock });
  c.close();
  await srv.shutdown();
}
const afterLasting = modeOf(sock);

const api = join(dir, "kunai.sock");
const srv = await serveUnixApi(api, log);
const apiMode = modeOf(api);
const entries = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
await srv.close();
console.log(JSON.stringify({ seen, afterLasting, apiMode, entries }));
