import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, resolveConfig } from "../../lib/config/mod.ts";
import { tempDir } from "../helpers.ts";

function load(dns: unknown) {
  const { dir, cleanup } = tempDir();
  try {
    Deno.writeTextFileSync(join(dir, "local.json"), JSON.stringify({ data: join(dir, "data") }));
    Deno.writeTextFileSync(join(dir, "dns.json"), JSON.stringify({ dns }));
    return resolveConfig({ cfgDir: dir, env: { HOME: dir } }).listeners.dns;
  } finally {
    cleanup();
  }
}

Deno.test("dns config: port 6766 by default; recursors are addr[:port], a bad one names the file and field", () => {
  assert.deepEqual(load({ enabled: true }), {
    enabled: true,
    port: 6766,
    domain: ".kunai",
    ttl: 60,
    tcp_idle_timeout: 10_000,
  });
  assert.equal(load({ enabled: true, tcp_idle_timeout: "2s" })?.tcp_idle_timeout, 2000);
  assert.throws(
    () => load({ enabled: true, tcp_idle_timeout: "soon" }),
    (err: unknown) =>
      err instanceof ConfigError && /dns\.json/.test(err.message) && /tcp_idle_timeout/.test(err.message),
  );
  const ok = ["192.0.2.53", "192.0.2.53:5353", "[2001:db8::53]:53", "::1", "resolver.example"];
  assert.deepEqual(load({ enabled: true, recursors: ok })?.recursors, ok);
  for (const bad of ["192.0.2.53:99999", "a b", "[::1]:x", ""]) {
    assert.throws(
      () => load({ enabled: true, recursors: [bad] }),
      (err: unknown) =>
        err instanceof ConfigError && /dns\.json/.test(err.message) && /recursors/.test(err.message),
      bad,
    );
  }
});
