/**
 * The pure helpers of ui/js/dom.js (a classic browser script that defines them on globalThis.K), and
 * the pages' use of them.
 */
import assert from "node:assert/strict";

interface DomK {
  hostPort(addr: string, port: number): string;
}

const K = await (async () => {
  // a classic script: importing it runs it, and it defines its helpers on globalThis.K
  await import(new URL("../../ui/js/dom.js", import.meta.url).href);
  return (globalThis as unknown as { K: DomK }).K;
})();

Deno.test("ui: a node's address shows an IPv6 address in brackets before its port", () => {
  assert.equal(K.hostPort("10.0.0.5", 6768), "10.0.0.5:6768");
  assert.equal(K.hostPort("fd00::5", 6768), "[fd00::5]:6768");
  assert.equal(K.hostPort("db-1.example", 7000), "db-1.example:7000");
  // the nodes list and a node's page print addresses through it (they wrote `fd00::5:6768`)
  const cluster = Deno.readTextFileSync(new URL("../../ui/js/pages_cluster.js", import.meta.url));
  assert.doesNotMatch(cluster, /\.addr \+ ":"/);
  assert.equal(cluster.match(/K\.hostPort\(n\.addr, n\.port\)/g)?.length, 2);
});
