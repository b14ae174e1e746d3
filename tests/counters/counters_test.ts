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

Deno.test("counter and histogram handles add to the same series as inc and observe", () => {
  const c = new Counters();
  const hits = c.counter("hits_total", { route: "/a", code: "200" });
  hits();
  hits(2);
  c.inc("hits_total", { code: "200", route: "/a" });
  assert.equal(c.get("hits_total", { route: "/a", code: "200" }), 4);
  const lat = c.histogram("lat_seconds", { route: "/a" });
  lat(0.002);
  c.observe("lat_seconds", 0.2, { route: "/a" });
  const text = c.render();
  assert.match(text, /kunai_lat_seconds_count\{route="\/a"\} 2/);
  assert.match(text, /kunai_lat_seconds_bucket\{route="\/a",le="0.0025"\} 1/);
});

Deno.test("onRender hooks copy a subsystem's tallies in at scrape time, and stop once undone", () => {
  const c = new Counters();
  const tally = { nx: 0 };
  const off = c.onRender(() => c.set("dns_responses_total", tally.nx, { rcode: "NXDOMAIN" }));
  tally.nx = 2;
  assert.match(c.render(), /kunai_dns_responses_total\{rcode="NXDOMAIN"\} 2\n/);
  tally.nx = 3;
  assert.match(c.render(), /kunai_dns_responses_total\{rcode="NXDOMAIN"\} 3\n/);
  off();
  tally.nx = 9;
  assert.match(c.render(), /kunai_dns_responses_total\{rcode="NXDOMAIN"\} 3\n/);
});
