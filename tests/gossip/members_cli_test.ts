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

Deno.test("kunai members prints per zone, sorted by name, state, addr:port and tags (reference layout)", () => {
  const out = new Output({ colour: false, capture: true });
  printMembers(out, [
    m("web-2", "dead", "eu", ["web"]),
    m("db", "alive", "", ["kv", "linux"]),
    m("web-1", "leave", "eu"),
  ]);
  assert.deepEqual(out.captured, [
    "Zone: [(no zone)      ]",
    "\tdb     alive   10.0.0.1:6768  kv,linux",
    "Zone: [eu             ]",
    "\tweb-1  leave   10.0.0.1:6768  ",
    "\tweb-2  dead    10.0.0.1:6768  web",
  ]);
});

Deno.test("kunai members colours states when asked", () => {
  const out = new Output({ colour: true, capture: true });
  printMembers(out, [m("a", "suspect")]);
  // deno-lint-ignore no-control-regex
  assert.match(out.captured[1], /\x1b\[33msuspect/);
});
