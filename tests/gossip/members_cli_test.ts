import assert from "node:assert/strict";
import { Output } from "../../cli/output.ts";
import { printMembers } from "../../cli/members.ts";
import type { MemberRecord } from "../../lib/types.ts";

const m = (name: string, state: MemberRecord["state"], zone = "", tags: string[] = []): MemberRecord => ({
  uuid: name,
  name,
  addr: "10.0.0.1",
  port: 6768,
  incarnation: 0,
  state,
  tags,
  services: {},
  zone,
});

Deno.test("kunai members prints a header row and aligned columns: node, address, status, zone, tags", () => {
  const out = new Output({ colour: false, capture: true });
  printMembers(out, [
    m("db", "alive", "", ["kv", "linux"]),
    m("web-1", "leave", "eu"),
    m("web-2", "dead", "eu", ["web"]),
  ]);
  assert.deepEqual(out.captured, [
    "Node   Address        Status  Zone  Tags",
    "db     10.0.0.1:6768  alive   -     kv,linux",
    "web-1  10.0.0.1:6768  leave   eu    -",
    "web-2  10.0.0.1:6768  dead    eu    web",
  ]);
});

Deno.test("kunai members prints an IPv6 member's address in brackets, as --http-addr and join take it", () => {
  const out = new Output({ colour: false, capture: true });
  printMembers(out, [{ ...m("six", "alive"), addr: "fd00::5" }]);
  assert.match(out.captured[1], /^six\s+\[fd00::5\]:6768\s+alive/);
});

Deno.test("kunai members --detailed adds uuid, incarnation and services", () => {
  const out = new Output({ colour: false, capture: true });
  printMembers(out, [{ ...m("db", "alive"), services: { redis: {}, web: {} } }], true);
  assert.match(out.captured[0], /^Node\s+Address\s+Status\s+Zone\s+Tags\s+Uuid\s+Incarnation\s+Services$/);
  assert.match(out.captured[1], /^db\s+10\.0\.0\.1:6768\s+alive\s+-\s+-\s+db\s+0\s+redis,web$/);
});

Deno.test("kunai members colours states when asked", () => {
  const out = new Output({ colour: true, capture: true });
  printMembers(out, [m("a", "suspect")]);
  // deno-lint-ignore no-control-regex
  assert.match(out.captured[1], /\x1b\[33msuspect/);
});

// deno-lint-ignore no-control-regex
const OUR_COLOURS = /\x1b\[(?:0|1|31|32|33|34|35|36|90)m/g;

Deno.test("kunai members: a name or tag from the network cannot add a row or drive the terminal", () => {
  // records are gossiped by anyone who can reach the port (or any member): a newline in a name forged
  // a row, ESC sequences (an OSC title, a screen clear, text hidden or recoloured) reached the terminal
  for (const colour of [false, true]) {
    const out = new Output({ colour, capture: true });
    printMembers(out, [
      m("evil\x1b]0;owned\x07\x1b[2J\x1b[8m\nweb-9  10.0.0.9:6768  alive", "alive", "eu\r", ["x\x9b1m"]),
      m("web-1", "dead"),
    ]);
    assert.equal(out.captured.length, 3, "a header and two rows");
    for (const l of out.captured) {
      const bare = l.replace(OUR_COLOURS, "");
      assert.ok(![...bare].some((c) => c < " " || (c >= "\x7f" && c <= "\x9f")), JSON.stringify(l));
    }
    assert.match(out.captured[1], /^evil\\u001b\]0;owned\\u0007\\u001b\[2J\\u001b\[8m\\u000aweb-9 /);
    assert.match(out.captured[1], /eu\\u000d +x\\u009b1m$/);
    // deno-lint-ignore no-control-regex
    if (colour) assert.match(out.captured[2], /\x1b\[31mdead\x1b\[0m/, "our own colours stay");
  }
});

Deno.test("Output: control characters in any line are shown escaped; JSON stays the same value", () => {
  const out = new Output({ colour: true, capture: true });
  out.line("a\x1b[31mb\x1b[2Jc\rd\te\nf\u0085");
  assert.deepEqual(out.captured, ["a\x1b[31mb\\u001b[2Jc\\u000dd\te\nf\\u0085"]);
  const json = new Output({ colour: false, capture: true });
  const value = { name: "x\x1b[2J\u009b\r" };
  json.json(value);
  assert.deepEqual(JSON.parse(json.captured.join("\n")), value);
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(json.captured.join("\n"), /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  json.error("bad name \x1b]0;t\x07");
  assert.deepEqual(json.capturedErrors, ["kunai: bad name \\u001b]0;t\\u0007"]);
});
