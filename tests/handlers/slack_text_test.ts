/**
 * Cluster text in a Slack-format webhook: Slack's `&`, `<`, `>` escaped, a zero-width space after an `@`
 * before a name and after each `]`, in every string of a record (keys too), at any depth.
 */
import assert from "node:assert/strict";
import { slackLiteral, slackLiteralValues } from "../../lib/handlers/slack_text.ts";

const Z = "\u200B";

Deno.test("slackLiteral escapes Slack's control characters and breaks mentions and Markdown links", () => {
  assert.equal(slackLiteral("a & <!here> @channel [x](y)"), `a &amp; &lt;!here&gt; @${Z}channel [x]${Z}(y)`);
  assert.equal(slackLiteral("root@db-1 a@ @ @@all"), `root@${Z}db-1 a@ @ @@${Z}all`);
  assert.equal(
    slackLiteral(slackLiteral("@here")),
    `@${Z}here`,
    "an @ already followed by the space is left",
  );
  assert.equal(slackLiteral("plain text: 5% ok"), "plain text: 5% ok");
});

Deno.test("slackLiteralValues covers keys and values at every depth and leaves other values and the input", () => {
  const rec = {
    name: "@here",
    port: 6768,
    up: true,
    none: null,
    tags: ["<a>", 1],
    services: { "@all": { check: { output: "x & y" } } },
  };
  const before = structuredClone(rec);
  assert.deepEqual(slackLiteralValues(rec), {
    name: `@${Z}here`,
    port: 6768,
    up: true,
    none: null,
    tags: ["&lt;a&gt;", 1],
    services: { [`@${Z}all`]: { check: { output: "x &amp; y" } } },
  });
  assert.deepEqual(rec, before, "the record itself is not changed");
});

Deno.test("slackLiteralValues takes a record nested 30 000 deep (free-form services) without overflowing", () => {
  const n = 30_000;
  const deep = JSON.parse("[".repeat(n) + '"@channel"' + "]".repeat(n));
  let x: unknown = slackLiteralValues(deep);
  for (let i = 0; i < n; i++) x = (x as unknown[])[0];
  assert.equal(x, `@${Z}channel`);
});
