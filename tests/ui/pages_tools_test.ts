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

Deno.test("kv page: a notice when no member of the cluster is tagged kv or every kv node is down, none otherwise", () => {
  assert.match(
    K.kvScopeNotice({ kv: { isolated_from: 2 } }) ?? "",
    /tagged kv.*the 2 other member\(s\) keep theirs/,
  );
  assert.equal(
    K.kvScopeNotice({
      kv: { isolated_from: 0, unavailable: "the KV store is unavailable: no node (n1 dead)" },
    }),
    "The KV store is unavailable: no node (n1 dead).",
  );
  const quiet = [{ kv: { isolated_from: 0, unavailable: null } }, {
    kv: { isolated_from: 0, unavailable: "" },
  }];
  for (
    const info of [
      { kv: { isolated_from: 0 } },
      { kv: {} },
      {},
      null,
      { kv: { isolated_from: "3" } },
      ...quiet,
    ]
  ) {
    assert.equal(K.kvScopeNotice(info), null, JSON.stringify(info));
  }
});
