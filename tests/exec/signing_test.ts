import assert from "node:assert/strict";
import {
  checkRequest,
  type ExecRequest,
  importPrivateKey,
  importPublicKey,
  parseSigned,
  runCommand,
  signRequest,
  verifyRequest,
} from "../../lib/exec/mod.ts";
import { newExecKeys } from "../../cli/global.ts";

const NOW = 1_800_000_000_000;
function req(over: Partial<ExecRequest> = {}): ExecRequest {
  return {
    v: 1,
    cid: "0123456789abcdef0123456789abcdef",
    cmd: "echo hi",
    tag: "web",
    nonce: "bm9uY2Vub25jZQ==",
    issued: NOW,
    expires: NOW + 60_000,
    from: "asker",
    ...over,
  };
}

Deno.test("a signed request verifies; any tampered field, a tampered signature or another key does not", async () => {
  const keys = await newExecKeys();
  const priv = await importPrivateKey(keys.priv);
  const pub = await importPublicKey(keys.pub);
  const signed = await signRequest(priv, req());
  assert.equal(await verifyRequest(pub, signed), true);
  for (
    const over of [{ cmd: "rm -rf /" }, { tag: "*" }, { expires: NOW + 3600_000 }, { nonce: "b3RoZXI=" }]
  ) {
    assert.equal(
      await verifyRequest(pub, { ...signed, req: { ...signed.req, ...over } }),
      false,
      JSON.stringify(over),
    );
  }
  const sig = signed.sig.startsWith("A") ? "B" + signed.sig.slice(1) : "A" + signed.sig.slice(1);
  assert.equal(await verifyRequest(pub, { ...signed, sig }), false);
  assert.equal(await verifyRequest(pub, { ...signed, sig: "not base64!" }), false);
  const other = await importPublicKey((await newExecKeys()).pub);
  assert.equal(await verifyRequest(other, signed), false);
  await assert.rejects(() => importPublicKey("nope"), /BEGIN PUBLIC KEY/);
  await assert.rejects(() => importPrivateKey(keys.pub), /BEGIN PRIVATE KEY/);
});

Deno.test("expired, far-future, untargeted and replayed requests are refused", () => {
  const at = { now: NOW + 1000, tags: ["web", "linux"], seen: () => false };
  assert.equal(checkRequest(req(), at), null);
  assert.equal(checkRequest(req({ tag: "*" }), at), null);
  assert.equal(checkRequest(req({ expires: NOW + 500 }), at), "expired");
  assert.equal(checkRequest(req({ issued: NOW + 120_000, expires: NOW + 130_000 }), at), "not-yet-valid");
  assert.equal(checkRequest(req({ expires: NOW + 3600_000 }), at), "not-yet-valid");
  assert.equal(checkRequest(req({ tag: "db" }), at), "not-targeted");
  assert.equal(checkRequest(req(), { ...at, seen: () => true }), "replay");
});

Deno.test("malformed requests are recognised before any crypto", () => {
  assert.equal(parseSigned(null), null);
  assert.equal(parseSigned({ req: req(), sig: 5 }), null);
  assert.equal(parseSigned({ req: { ...req(), cid: "../x" }, sig: "x" }), null);
  assert.equal(parseSigned({ req: { ...req(), cmd: "" }, sig: "x" }), null);
  assert.equal(parseSigned({ req: { ...req(), issued: "now" }, sig: "x" }), null);
  // unknown extra fields are not carried (they are not signed)
  const p = parseSigned({ req: { ...req(), extra: 1 }, sig: "x" });
  assert.deepEqual(p?.req, req());
});

Deno.test("the runner caps output (and says how much it dropped), reports rc and kills on timeout", async () => {
  const big = await runCommand("head -c 100000 /dev/zero | tr '\\0' x; echo oops >&2; exit 3", {
    timeoutMs: 10_000,
    maxOutput: 65_536,
  });
  assert.equal(big.rc, 3);
  assert.equal(big.output.length, 65_536);
  assert.equal(big.truncated.output, 100_000 - 65_536);
  assert.equal(big.err, "oops\n");
  assert.equal(big.timed_out, false);
  const slow = await runCommand("sleep 5", { timeoutMs: 200, maxOutput: 1024 });
  assert.equal(slow.timed_out, true);
  assert.equal(slow.rc, 124);
  assert.match(slow.err, /timeout/);
});

Deno.test("the runner answers when the command exits, though a daemon it started (setsid) holds its output open", async () => {
  const r = await runCommand("setsid sleep 60 & echo $!", { timeoutMs: 60_000, maxOutput: 1024 });
  const pid = Number(r.output.trim());
  assert.ok(pid > 1, r.output);
  try {
    assert.equal(r.rc, 0);
    assert.equal(r.timed_out, false);
    Deno.kill(pid, "SIGCONT"); // throws if the daemon were gone: the answer came while it still ran
  } finally {
    Deno.kill(pid, "SIGKILL");
  }
});

/** An RSA pair as the original's `kunai keygen` wrote it: Python's `rsa` module, 2048 bits, PKCS#1 PEM. */
async function originalKeys(): Promise<{ priv: string; pub: string }> {
  const script = "import rsa, json; pub, priv = rsa.newkeys(2048); " +
    "print(json.dumps({'priv': priv.save_pkcs1().decode(), 'pub': pub.save_pkcs1().decode()}))";
  for (const py of ["/usr/bin/python3", "python3"]) {
    try {
      const r = await new Deno.Command(py, { args: ["-c", script], stdout: "piped", stderr: "null" })
        .output();
      if (r.success) return JSON.parse(new TextDecoder().decode(r.stdout));
    } catch { /* the next one */ }
  }
  throw new Error("no python3 with the rsa module (Debian: python3-rsa, which .ci/run installs)");
}

Deno.test("the original's RSA exec keys (Python rsa, PKCS#1) sign and verify; other keys are refused by name", async () => {
  const keys = await originalKeys();
  assert.match(keys.priv, /^-----BEGIN RSA PRIVATE KEY-----/);
  assert.match(keys.pub, /^-----BEGIN RSA PUBLIC KEY-----/);
  const priv = await importPrivateKey(keys.priv);
  const pub = await importPublicKey(keys.pub);
  const signed = await signRequest(priv, req());
  assert.equal(unb64len(signed.sig), 256, "a 2048-bit signature");
  assert.equal(await verifyRequest(pub, signed), true);
  assert.equal(await verifyRequest(pub, { ...signed, req: { ...signed.req, cmd: "rm -rf /" } }), false);
  // an Ed25519 signature is not an RSA one, nor the other way round
  const ed = await newExecKeys();
  const edPriv = await importPrivateKey(ed.priv), edPub = await importPublicKey(ed.pub);
  assert.equal(await verifyRequest(pub, await signRequest(edPriv, req())), false);
  assert.equal(await verifyRequest(edPub, signed), false);
  // the same pair in PKCS#8 / SPKI (OpenSSL 3's genrsa) reads too
  const { createPrivateKey, createPublicKey, generateKeyPairSync } = await import("node:crypto");
  const p8 = createPrivateKey(keys.priv).export({ type: "pkcs8", format: "pem" }) as string;
  const spki = createPublicKey(keys.pub).export({ type: "spki", format: "pem" }) as string;
  assert.equal(
    await verifyRequest(await importPublicKey(spki), await signRequest(await importPrivateKey(p8), req())),
    true,
  );
  // weak and foreign keys are named
  const small = generateKeyPairSync("rsa", {
    modulusLength: 1024,
    publicKeyEncoding: { type: "pkcs1", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  });
  await assert.rejects(() => importPrivateKey(small.privateKey as string), /1024 bits: at least 2048/);
  await assert.rejects(() => importPublicKey(small.publicKey as string), /1024 bits: at least 2048/);
  const ec = generateKeyPairSync("ec", {
    namedCurve: "P-256",
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  await assert.rejects(() => importPrivateKey(ec.privateKey as string), /neither an Ed25519 nor an RSA key/);
  await assert.rejects(() => importPublicKey(ec.publicKey as string), /neither an Ed25519 nor an RSA key/);
});

function unb64len(s: string): number {
  return atob(s).length;
}
