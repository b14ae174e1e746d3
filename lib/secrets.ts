/**
 * Which configuration names hold secrets, and how their values are masked where others may read
 * them (read routes, service gossip, expressions over the API, logs). One rule for every place.
 *
 * ```ts
 * isSecretName("rabbitMQPass"); // true
 * isSecretName("monkey"); // false
 * redactSecrets({ url: "mongodb://admin:pw@db" }); // {url: "mongodb://admin:********@db"}
 * ```
 */

/** What a masked value shows. */
export const MASK = "********";

/** Names holding one of these anywhere are secrets (`mysql_password`, `SECRETKEY`, `apiKey`). */
const SECRET_PART = /password|passwd|passphrase|secret|token|credential|private|api_?key|encryption/i;
/** Last words that are secrets as they end (`requirepass`, `MYSQLPASS`, `dbpwd`, `masterauth`). */
const SECRET_ENDING = /(pass|pwd|auth)$/;
/** Words that end so and are not secrets. */
const NOT_SECRET = new Set(["bypass", "compass", "surpass", "trespass", "overpass", "underpass", "oauth"]);
/** The last word of a name: after a separator or a camelCase step (`MQPass`, `XMLKey`, `MYSQL_PASS`). */
const LAST_WORD = /([A-Z]?[a-z0-9]+|[A-Z0-9]+)$/;

/**
 * Whether a configuration name holds a secret: it holds password/secret/token/credential/private/
 * api key/encryption anywhere, or its last word (after `_`, `-`, `.`, a space or a camelCase step,
 * trailing digits ignored) ends with pass, pwd or auth (not `bypass`, `compass`, `oauth`...), is pw,
 * or is key(s) after another word (`accessKey`, `ssh_keys`). `monkey`, `passive`, and `key` or
 * `keys` alone are not secrets.
 */
export function isSecretName(name: string): boolean {
  if (SECRET_PART.test(name)) return true;
  const m = LAST_WORD.exec(name);
  if (!m) return false;
  const word = m[1].toLowerCase().replace(/(?<=[a-z])\d+$/, "");
  if (word === "pw" || (SECRET_ENDING.test(word) && !NOT_SECRET.has(word))) return true;
  return (word === "key" || word === "keys") && /[A-Za-z0-9]/.test(name.slice(0, m.index));
}

/** A PEM private key (RSA, EC, OpenSSH, PKCS#8, encrypted or not), whatever the field's name (`key`, `tls`). */
const PEM_PRIVATE = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/** `scheme://user:password@host` anywhere in `s` becomes `scheme://user:********@host`. */
export function maskUrlPasswords(s: string): string {
  if (!s.includes("://")) return s;
  return s.replace(/(\b[a-zA-Z][\w+.-]*:\/\/[^\s/:@]*:)[^\s/]*@/g, `$1${MASK}@`);
}

/**
 * A deep copy of `v` with the values of secret-named keys replaced by `"********"`, as is any string
 * holding a PEM private key, and the password of every URL-shaped string (`mongodb://admin:pw@db`)
 * masked.
 */
export function redactSecrets(v: unknown, depth = 0): unknown {
  if (typeof v === "string") return PEM_PRIVATE.test(v) ? MASK : maskUrlPasswords(v);
  if (v === null || typeof v !== "object") return v;
  if (depth > 32) return MASK; // deeper than any configuration: not looked into, so not shown
  if (Array.isArray(v)) return v.map((x) => redactSecrets(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = isSecretName(k) ? MASK : redactSecrets(x, depth + 1);
  }
  return out;
}
