/** `--http-addr` (and KUNAI_HTTP_ADDR) as the CLI reads it: IPv6 hosts too. */
import assert from "node:assert/strict";
import { parseHttpAddr } from "../../cli/connect.ts";

Deno.test("--http-addr takes an IPv6 host in brackets, and says so when the brackets are missing", () => {
  assert.deepEqual(parseHttpAddr("[::1]:6768", "--http-addr"), { baseUrl: "http://[::1]:6768" });
  assert.deepEqual(parseHttpAddr("http://[fd00::5]:7000", "--http-addr"), {
    baseUrl: "http://[fd00::5]:7000",
  });
  assert.deepEqual(parseHttpAddr("10.0.0.5:6768", "--http-addr"), { baseUrl: "http://10.0.0.5:6768" });
  // what `kunai members` printed before it had brackets: refused with the form to use
  assert.throws(
    () => parseHttpAddr("::1:6768", "--http-addr"),
    /^CliConfigError: --http-addr: not a URL or host:port: "::1:6768" \(an IPv6 address goes in brackets: \[::1\]:6768\)$/,
  );
  assert.throws(() => parseHttpAddr("a b:1", "KUNAI_HTTP_ADDR"), (e: Error) => !/brackets/.test(e.message));
});
