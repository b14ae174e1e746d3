import assert from "node:assert/strict";
import { EventBus } from "../../lib/bus.ts";
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
