/**
 * Assembles lib/gossip/lz_block.wat into lib/gossip/lz_block_wasm.ts (the module's bytes,
 * base64). Run after editing the .wat: `deno run -A scripts/lz_wasm.ts`; `--check` only compares
 * (exit 1 when the committed bytes are not the .wat's). tests/gossip/lz_test.ts checks the same.
 */
import { join } from "node:path";
import wabtInit from "wabt";

const dir = join(new URL(".", import.meta.url).pathname, "..", "lib", "gossip");
export const WAT = join(dir, "lz_block.wat");
export const OUT = join(dir, "lz_block_wasm.ts");

/** The module's bytes assembled from the .wat. */
export async function assemble(): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat("lz_block.wat", Deno.readTextFileSync(WAT), { bulk_memory: true });
  try {
    mod.validate();
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}

/** The TypeScript module holding `bytes`. */
export function render(bytes: Uint8Array): string {
  let b64 = "";
  for (const byte of bytes) b64 += String.fromCharCode(byte);
  b64 = btoa(b64);
  const lines = b64.match(/.{1,100}/g)!.map((l) => `  "${l}"`).join(" +\n");
  return `/**
 * The LZ4 block codec of lz.ts as a WebAssembly module (${bytes.length} bytes), assembled from
 * lz_block.wat by scripts/lz_wasm.ts: do not edit, regenerate.
 */
export const LZ_BLOCK_WASM_BASE64 =\n${lines};\n`;
}

if (import.meta.main) {
  const text = render(await assemble());
  if (Deno.args.includes("--check")) {
    const same = Deno.readTextFileSync(OUT) === text;
    console.log(same ? "lz_block_wasm.ts matches lz_block.wat" : "lz_block_wasm.ts is stale");
    Deno.exit(same ? 0 : 1);
  }
  Deno.writeTextFileSync(OUT, text);
  console.log(`wrote ${OUT}`);
}
