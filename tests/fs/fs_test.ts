import assert from "node:assert/strict";
import { pathExists, readIfExists, writeAtomic } from "../../lib/fs/mod.ts";
import { tempDir } from "../helpers.ts";

Deno.test("pathExists: files and folders are there, a missing path is not; other errors are thrown", () => {
  const t = tempDir("kunai-fs-");
  try {
    assert.equal(pathExists(t.dir), true);
    assert.equal(pathExists(`${t.dir}/nope`), false);
    writeAtomic(`${t.dir}/f.txt`, "x");
    assert.equal(pathExists(`${t.dir}/f.txt`), true);
    assert.equal(readIfExists(`${t.dir}/f.txt`), "x");
    assert.equal(readIfExists(`${t.dir}/nope`), null);
    // a path through a regular file is not "missing": stat fails with ENOTDIR, which is reported
    assert.throws(() => pathExists(`${t.dir}/f.txt/inside`));
  } finally {
    t.cleanup();
  }
});
