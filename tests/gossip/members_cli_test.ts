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
