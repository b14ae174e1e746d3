/**
 * Child of emfile_test.ts, run under a low RLIMIT_NOFILE (prlimit): a DNS server on argv[0]:argv[1]
 * whose handler answers one tag. Prints "ready" once listening and one line per socket error
 * ("error <where> <message>"); on the stdin line "fill" opens /dev/null until the process is out of
 * file descriptors ("full"), on "free" closes those again ("freed").
 */
import { DnsHandler } from "../../lib/dns/mod.ts";
import { DnsServer } from "../../lib/dns/server.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { member } from "./dns_helpers.ts";

// as the agent does at start (cli/agent.ts): Deno 2.9.6 sets up its signal handling on the first
// listener, and panics when that happens with no descriptor left
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));

const [hostname, port] = Deno.args;
const handler = new DnsHandler({
  domain: ".kunai",
  ttl: 60,
  members: () => [member("n1", "10.1.2.3", ["web"])],
  forward: false,
});
const server = new DnsServer({
  hostname,
  port: Number(port),
  handler,
  recursors: [],
  log: silentLogger,
  onError: (where, err) => console.log(`error ${where} ${(err as Error).message}`),
  onForward: () => {},
});
server.start();
console.log("ready");

const held: Deno.FsFile[] = [];
let text = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  text += chunk;
  for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n")) {
    const cmd = text.slice(0, nl);
    text = text.slice(nl + 1);
    if (cmd === "fill") {
      try {
        for (let i = 0; i < 100_000; i++) held.push(Deno.openSync("/dev/null"));
      } catch { /* out of descriptors */ }
      console.log(`full ${held.length}`);
    } else if (cmd === "free") {
      for (const f of held.splice(0)) f.close();
      console.log("freed");
    }
  }
}
