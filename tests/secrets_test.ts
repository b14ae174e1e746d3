import assert from "node:assert/strict";
import { isSecretName, maskUrlPasswords, redactSecrets } from "../lib/secrets.ts";

Deno.test("isSecretName: camelCase, run-together and separated secret names; not words that only end alike", () => {
  const secret = [
    "rabbitMQPass",
    "apacheStatusPass",
    "requirepass",
    "masterauth",
    "MYSQLPASS",
    "MYSQL_PASS",
    "mysql_pass2",
    "mysql_pw",
    "dbPwd",
    "pwd",
    "basicAuth",
    "mysql_password",
    "smtp_password",
    "encryption_keys",
    "accessKey",
    "XMLKey",
    "ssh-keys",
    "AWS_SECRET_ACCESS_KEY",
    "apiKey",
    "token",
  ];
  const free = [
    "monkey",
    "monkeys",
    "bypass",
    "cache_bypass",
    "compass",
    "passive",
    "passport",
    "key",
    "keys",
    "oauth",
    "author",
    "mongodb_server",
    "apacheStatusUrl",
    "user",
  ];
  for (const n of secret) assert.equal(isSecretName(n), true, n);
  for (const n of free) assert.equal(isSecretName(n), false, n);
});

Deno.test("redactSecrets masks secret-named values and the password of every URL, at any depth", () => {
  const v = {
    rabbitMQPass: "p1",
    mongodb_server: "mongodb://admin:p2@h1,h2/admin?authSource=admin",
    nested: { list: ["http://u:p3@h/x", "https://h/x", "postgres://u@h/db"], apacheStatusPass: "p4" },
    keys: ["a", "b"],
  };
  assert.deepEqual(redactSecrets(v), {
    rabbitMQPass: "********",
    mongodb_server: "mongodb://admin:********@h1,h2/admin?authSource=admin",
    nested: {
      list: ["http://u:********@h/x", "https://h/x", "postgres://u@h/db"],
      apacheStatusPass: "********",
    },
    keys: ["a", "b"],
  });
  assert.equal(redactSecrets("redis://:p5@h:6379"), "redis://:********@h:6379");
  assert.equal(
    maskUrlPasswords("a mongodb://x:p@ss@h/ b"),
    "a mongodb://x:********@h/ b",
    "an @ in the password",
  );
  // deeper than any configuration: masked, not handed out unread
  let deep: unknown = { mysql_password: "p6" };
  for (let i = 0; i < 40; i++) deep = { d: deep };
  assert.doesNotMatch(JSON.stringify(redactSecrets(deep)), /p6/);
});

Deno.test("redactSecrets masks a PEM private key whatever its field is called; a certificate stays", () => {
  const key =
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
  const cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";
  assert.deepEqual(redactSecrets({ key, tls: { cert, pem: `x\n${key.replace("OPENSSH ", "")}` } }), {
    key: "********",
    tls: { cert, pem: "********" },
  });
});
