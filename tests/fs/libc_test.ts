import assert from "node:assert/strict";
import { statfsSync } from "node:fs";
import { existsNoThrow, missingNoThrow, statfs } from "../../lib/fs/mod.ts";

Deno.test("existsNoThrow: files, directories and followed links exist; missing and dangling do not", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/f`, "x");
    Deno.symlinkSync(`${dir}/f`, `${dir}/link`);
    Deno.symlinkSync(`${dir}/gone`, `${dir}/dangling`);
    assert.equal(existsNoThrow(`${dir}/f`), true);
    assert.equal(existsNoThrow(dir), true);
    assert.equal(existsNoThrow(`${dir}/link`), true);
    assert.equal(existsNoThrow(`${dir}/dangling`), false);
    assert.equal(existsNoThrow(`${dir}/missing`), false);
    assert.equal(existsNoThrow(`${dir}/f/under-a-file`), false);
    assert.equal(existsNoThrow(`${dir}/f\0x`), false);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("missingNoThrow: true only for what certainly is not there", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/f`, "x");
    Deno.symlinkSync(`${dir}/gone`, `${dir}/dangling`);
    assert.equal(missingNoThrow(`${dir}/missing`), true);
    assert.equal(missingNoThrow(`${dir}/dangling`), true);
    assert.equal(missingNoThrow(`${dir}/f/under-a-file`), true, "ENOTDIR");
    assert.equal(missingNoThrow(`${dir}/f`), false);
    assert.equal(missingNoThrow(dir), false);
    assert.equal(
      missingNoThrow(`${dir}/f\0x`),
      false,
      "not asked of the kernel: the operation says what it is",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("statfs: the figures node:fs statfsSync reports; a missing path throws ENOENT", async () => {
  for (const p of ["/", Deno.cwd()]) {
    const ours = await statfs(p);
    const node = statfsSync(p);
    assert.equal(ours.type, Number(node.type));
    assert.equal(ours.bsize, Number(node.bsize));
    assert.equal(ours.blocks, Number(node.blocks));
    assert.equal(ours.files, Number(node.files));
    // free counts move with other writers of the box: same order of magnitude
    assert.ok(Math.abs(ours.bfree - Number(node.bfree)) <= Math.max(1024, ours.blocks / 100));
    assert.ok(ours.bavail <= ours.bfree && ours.ffree <= ours.files);
  }
  await assert.rejects(statfs("/no/such/path/here"), /ENOENT: statfs '\/no\/such\/path\/here'/);
});
