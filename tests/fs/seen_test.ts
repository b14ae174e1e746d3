/**
 * The accepted exec requests kept across restarts (`exec-seen.json`): a request recorded by one run
 * is a replay for the next; what expired is forgotten; a damaged file makes every request issued
 * before the start (plus the clock skew) a possible replay; a record that cannot be saved throws.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { SeenRequests } from "../../lib/fs/mod.ts";
import { CLOCK_SKEW_MS } from "../../lib/exec/signing.ts";
import { tempDir } from "../helpers.ts";

const NOW = 1_800_000_000_000;

Deno.test("exec seen: a request accepted by one run is a replay for the next; expired ones are forgotten", () => {
  using t = tempDir("kunai-exec-seen-");
  const path = join(t.dir, "exec-seen.json");
  const first = new SeenRequests(path, CLOCK_SKEW_MS, "commands");
  assert.equal(first.load(NOW), null, "no file yet: nothing seen, nothing refused");
  assert.equal(first.has("cid1/n1", NOW), false);
  first.record("cid1/n1", NOW + 60_000, NOW);
  first.record("cid2/n2", NOW + 5_000, NOW);
  assert.equal(first.has("cid1/n1", NOW), true);
  assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);

  const next = new SeenRequests(path, CLOCK_SKEW_MS, "commands");
  assert.equal(next.load(NOW + 10_000), null);
  assert.equal(next.has("cid1/n1", NOW), true, "recorded by the run before");
  assert.equal(next.has("cid2/n2", NOW), false, "expired before this start: forgotten");
  assert.equal(next.has("cid3/n3", NOW + 10_000), false);
  assert.equal(next.size, 1);
  next.record("cid3/n3", NOW + 70_000, NOW + 65_000); // cid1 expired meanwhile: dropped from the file
  assert.deepEqual(JSON.parse(Deno.readTextFileSync(path)), { seen: [["cid3/n3", NOW + 70_000]] });
});

Deno.test("exec seen: a damaged file refuses what was issued before the start plus the skew; an unsaved record throws", () => {
  using t = tempDir("kunai-exec-seen-");
  const path = join(t.dir, "exec-seen.json");
  for (const bad of ["{not json", '{"seen": 5}', '{"seen": [["k", "soon"]]}', "null"]) {
    Deno.writeTextFileSync(path, bad);
    const s = new SeenRequests(path, CLOCK_SKEW_MS, "commands");
    const why = s.load(NOW);
    assert.ok(why?.startsWith(path), `${bad}: ${why}`);
    assert.match(why!, /refused as possible replays/);
    assert.equal(s.has("any/key", NOW - 1_000), true, `${bad}: issued before the start`);
    assert.equal(s.has("any/key", NOW + CLOCK_SKEW_MS - 1), true, `${bad}: within the skew`);
    assert.equal(s.has("any/key", NOW + CLOCK_SKEW_MS), false, `${bad}: issued after`);
  }
  // the directory is gone: the record throws (the caller refuses the command), kept in memory
  const lost = new SeenRequests(join(t.dir, "missing", "exec-seen.json"), CLOCK_SKEW_MS, "commands");
  assert.equal(lost.load(NOW), null);
  assert.throws(() => lost.record("cid/n", NOW + 60_000, NOW));
  assert.equal(lost.has("cid/n", NOW), true);
});
