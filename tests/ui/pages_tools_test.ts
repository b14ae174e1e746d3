/** The KV page's notice (ui/js/pages_tools.js, a classic browser script that defines it on globalThis.K). */
import assert from "node:assert/strict";

interface PagesK {
  kvScopeNotice(info: unknown): string | null;
}

const K = await (async () => {
  // a classic script: importing it runs it, and it defines its helpers on globalThis.K
  await import(new URL("../../ui/js/pages_tools.js", import.meta.url).href);
  return (globalThis as unknown as { K: PagesK }).K;
})();

Deno.test("kv page: a notice when no member of the cluster is tagged kv, none otherwise", () => {
  assert.match(
    K.kvScopeNotice({ kv: { isolated_from: 2 } }) ?? "",
    /tagged kv.*the 2 other member\(s\) keep theirs/,
  );
  for (const info of [{ kv: { isolated_from: 0 } }, { kv: {} }, {}, null, { kv: { isolated_from: "3" } }]) {
    assert.equal(K.kvScopeNotice(info), null, JSON.stringify(info));
  }
});
