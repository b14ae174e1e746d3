import assert from "node:assert/strict";
import { join } from "node:path";
import { openDatabase } from "../../lib/store/mod.ts";
import {
  bumpStartIncarnation,
  detectAddr,
  IDENTITY_MIGRATION,
  LocalNode,
  resolveUuid,
} from "../../lib/identity/mod.ts";
import { EventBus } from "../../lib/bus.ts";
import { tempDir } from "../helpers.ts";

Deno.test("uuid comes from DMI when readable, distinct per data dir, stable across restarts", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const dmi = join(dir, "product_uuid");
    Deno.writeTextFileSync(dmi, "4C4C4544-0042-3510-8052-B4C04F4E4E32\n");
    const a1 = await resolveUuid({ dataDir: join(dir, "a"), name: "h", dmiPath: dmi });
    const a2 = await resolveUuid({ dataDir: join(dir, "a"), name: "h", dmiPath: dmi });
    const b = await resolveUuid({ dataDir: join(dir, "b"), name: "h", dmiPath: dmi });
    assert.equal(a1.source, "dmi");
    assert.match(a1.uuid, /^[0-9a-f]{40}$/);
    assert.equal(a1.uuid, a2.uuid);
    assert.notEqual(a1.uuid, b.uuid);
    assert.equal(Deno.readTextFileSync(join(dir, "a", "server.key")), a1.uuid);
  } finally {
    cleanup();
  }
});

Deno.test("without DMI the uuid is persisted, and renewed when the hostname changes", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const noDmi = join(dir, "missing");
    const first = await resolveUuid({ dataDir: dir, name: "h1", dmiPath: noDmi });
    assert.equal(first.source, "new");
    const again = await resolveUuid({ dataDir: dir, name: "h1", dmiPath: noDmi });
    assert.equal(again.source, "persisted");
    assert.equal(again.uuid, first.uuid);
    const renamed = await resolveUuid({ dataDir: dir, name: "h2", dmiPath: noDmi });
    assert.notEqual(renamed.uuid, first.uuid);
    assert.equal(renamed.damaged, undefined);
    // unchanged files are not written again at each start (each write is a chance to lose them)
    const key = join(dir, "server.key");
    const before = Deno.statSync(key).ino;
    await resolveUuid({ dataDir: dir, name: "h2", dmiPath: noDmi });
    assert.equal(Deno.statSync(key).ino, before, "not replaced");
    // a damaged key file is said (the agent logs it), not silently replaced
    Deno.writeTextFileSync(key, "");
    const fresh = await resolveUuid({ dataDir: dir, name: "h2", dmiPath: noDmi });
    assert.equal(fresh.source, "new");
    assert.equal(fresh.damaged, `${key} holds no uuid (empty)`);
    assert.equal(Deno.readTextFileSync(key), fresh.uuid);
    // a key file that cannot be read is not taken for none: the start stops, naming it, and writes
    // nothing over it (a directory stands for any read error: root reads a file of mode 000)
    Deno.removeSync(key);
    Deno.mkdirSync(key);
    await assert.rejects(
      () => resolveUuid({ dataDir: dir, name: "h2", dmiPath: noDmi }),
      /cannot read .*server\.key: .*new identity/,
    );
    assert.ok(Deno.statSync(key).isDirectory, "left as it was");
  } finally {
    cleanup();
  }
});

Deno.test("incarnation starts at 0 and is bumped at each start", () => {
  const db = openDatabase(":memory:", [{ version: 1, sql: IDENTITY_MIGRATION }]);
  assert.equal(bumpStartIncarnation(db), 0);
  assert.equal(bumpStartIncarnation(db), 1);
  assert.equal(bumpStartIncarnation(db), 2);
  db.close();
});

Deno.test("LocalNode merges tag sources and emits tags.changed only on real changes", () => {
  const bus = new EventBus();
  const events: Array<{ added: string[]; removed: string[] }> = [];
  bus.on("tags.changed", (e) => events.push({ added: e.added, removed: e.removed }));
  const saved: number[] = [];
  const n = new LocalNode({
    uuid: "u",
    name: "n",
    addr: "127.0.0.1",
    port: 1,
    zone: "",
    incarnation: 3,
    configTags: ["linux", "linux"],
    bus,
    saveIncarnation: (x) => saved.push(x),
  });
  assert.deepEqual(n.tags(), ["linux"]);
  n.setSourceTags("detector:debian", ["debian", "linux"]);
  n.setSourceTags("detector:debian", ["debian", "linux"]);
  n.setSourceTags("detector:debian", []);
  assert.deepEqual(events, [{ added: ["debian"], removed: [] }, { added: [], removed: ["debian"] }]);
  assert.equal(n.bumpIncarnation(), 4);
  assert.equal(n.bumpIncarnation(10), 10);
  assert.deepEqual(saved, [4, 10]);
});

Deno.test("the advertised address: bind when specific, else the first IPv4; bound to :: on an IPv6-only host, its IPv6", () => {
  const nic = (address: string, family: "IPv4" | "IPv6"): Deno.NetworkInterfaceInfo => ({
    family,
    name: "eth0",
    address,
    netmask: "",
    scopeid: family === "IPv6" ? 0 : null,
    cidr: address,
    mac: "00:00:00:00:00:00",
  });
  const lo = [nic("127.0.0.1", "IPv4"), nic("::1", "IPv6")];
  const dual = [...lo, nic("fe80::2", "IPv6"), nic("2001:db8::2", "IPv6"), nic("192.0.2.2", "IPv4")];
  const v6only = [...lo, nic("fe80::2", "IPv6"), nic("2001:db8::2", "IPv6")];
  assert.equal(detectAddr("::1", () => dual), "::1");
  assert.equal(detectAddr("0.0.0.0", () => dual), "192.0.2.2");
  assert.equal(detectAddr("::", () => dual), "192.0.2.2");
  // advertised 127.0.0.1, every peer reached itself instead of this node
  assert.equal(detectAddr("::", () => v6only), "2001:db8::2");
  assert.equal(detectAddr("::", () => lo), "::1");
  assert.equal(detectAddr("0.0.0.0", () => v6only), "127.0.0.1");
});
