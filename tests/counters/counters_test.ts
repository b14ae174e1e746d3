import assert from "node:assert/strict";
import { Counters } from "../../lib/counters.ts";

Deno.test("counters render Prometheus text with labels and help", () => {
  const c = new Counters();
  c.describe("packets_total", "counter", "packets seen");
  c.inc("packets_total", { kind: "ping" });
  c.inc("packets_total", { kind: "ping" }, 2);
  c.set("members", 3, { state: 'a"b' });
  const text = c.render();
  assert.match(text, /# TYPE kunai_packets_total counter/);
  assert.match(text, /kunai_packets_total\{kind="ping"\} 3/);
  assert.match(text, /kunai_members\{state="a\\"b"\} 3/);
});

Deno.test("a series is its name and its label set, whatever the labels' order", () => {
  const c = new Counters();
  c.inc("req_total", { method: "GET", code: "200" });
  c.inc("req_total", { code: "200", method: "GET" }, 2);
  c.inc("req_total", { method: "GET", code: "404" });
  c.inc("req_total", { method: 'GE"T', code: "200" });
  c.inc("req_total", { "method,code": "GET" });
  c.inc("req_total");
  assert.equal(c.get("req_total", { code: "200", method: "GET" }), 3);
  assert.equal(c.get("req_total", { method: "GET", code: "404" }), 1);
  assert.equal(c.get("req_total", { method: 'GE"T', code: "200" }), 1);
  assert.equal(c.get("req_total", { "method,code": "GET" }), 1);
  assert.equal(c.get("req_total"), 1);
  assert.equal(c.get("req_total", { method: "GET" }), 0);
});
