/**
 * Child of lasting_server_test.ts: serves the HTTP API on a unix socket (argv[0]), then uses up its file
 * descriptors ("full" on stdout) until the file `<socket>.free` appears ("freed"); `<socket>.stop` ends it.
 */
import { dirname } from "node:path";
import { LogSink } from "../../lib/log/mod.ts";
import { serveUnixApi } from "./unix_api.ts";

const path = Deno.args[0];
const sink = new LogSink({ node: "child", stderr: true });
const log = sink.logger("http");
const srv = await serveUnixApi(path, log);
// as the agent does at start: Deno sets up its signal thread at the first listener, and panics when
// it has to do so without a descriptor left
const onTerm = () => {};
Deno.addSignalListener("SIGTERM", onTerm);
const hog: Deno.FsFile[] = [];
try {
  for (;;) hog.push(Deno.openSync("/dev/null"));
} catch { /* out of descriptors */ }
const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
out("full");
// told by files beside the socket (a stat needs no descriptor; Deno's stdin or signal set-up may)
const there = (p: string) => {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
};
await new Promise<void>((done) => {
  const t = setInterval(() => {
    if (hog.length && there(`${path}.free`)) {
      for (const f of hog.splice(0)) f.close();
      out("freed");
    }
    // told to stop, or left behind by a test run that was killed (its temp dir gone, or a minute passed)
    if (there(`${path}.stop`) || !there(dirname(path)) || performance.now() > 60_000) {
      clearInterval(t);
      done();
    }
  }, 50);
});
// a connection the stopped server left half-open must not hold the exit
await Promise.race([srv.close(), new Promise((r) => setTimeout(r, 2000))]);
Deno.removeSignalListener("SIGTERM", onTerm);
out("stopped");
