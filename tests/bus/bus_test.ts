import assert from "node:assert/strict";
import { EventBus, MEMBER_EVENTS } from "../../lib/bus.ts";
import type { MemberRecord } from "../../lib/types.ts";

const member: MemberRecord = {
  uuid: "u",
  name: "n",
  addr: "a",
  port: 1,
  incarnation: 0,
  state: "alive",
  tags: [],
  services: {},
  zone: "",
};

Deno.test("the bus delivers to listeners, isolates a throwing one, and unsubscribes", () => {
  const bus = new EventBus();
  const seen: string[] = [];
  const errors: string[] = [];
  bus.onListenerError = (ev) => errors.push(ev);
  bus.on("member.joined", () => {
    throw new Error("bad listener");
  });
  const off = bus.on("member.joined", (m) => seen.push(m.name));
  bus.once("member.joined", (m) => seen.push("once:" + m.name));
  bus.emit("member.joined", member);
  off();
  bus.emit("member.joined", member);
  assert.deepEqual(seen, ["n", "once:n"]);
  assert.deepEqual(errors, ["member.joined", "member.joined"]);
  assert.equal(bus.listenerCount("member.joined"), 1);
});

Deno.test("onMembers hears every membership change, reaped included, and unsubscribes from all", () => {
  const bus = new EventBus();
  const seen: string[] = [];
  const off = bus.onMembers((m) => seen.push(m.name));
  const rec = (name: string): MemberRecord => ({ ...member, name });
  for (const e of MEMBER_EVENTS) bus.emit(e, rec(e));
  assert.deepEqual(seen, [...MEMBER_EVENTS]);
  off();
  bus.emit("member.joined", rec("after"));
  assert.equal(seen.length, MEMBER_EVENTS.length);
  assert.ok(MEMBER_EVENTS.includes("member.reaped"));
});
