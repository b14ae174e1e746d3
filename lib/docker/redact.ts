/**
 * What `docker inspect` holds that the read routes (open over TCP) must not serve: environment
 * values (`MYSQL_ROOT_PASSWORD=...`, `DATABASE_URL=postgres://u:pw@db`), the secret-looking words
 * of a command line (`--requirepass X`, `--password=X`, `PASS=X`, `scheme://user:pw@host`) and
 * logging-driver options (`splunk-token`). Pure: applied to each container as it is stored.
 */
import { isSecretName, MASK, maskUrlPasswords } from "../secrets.ts";

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** A copy of one `/containers/<id>/json` answer with the values above masked. */
export function redactInspect(c: Obj): Obj {
  const out: Obj = { ...c };
  if (Array.isArray(c.Args)) out.Args = redactArgv(c.Args);
  if (typeof c.Path === "string") out.Path = redactArgv([c.Path])[0];
  if (isObj(c.Config)) {
    const cfg: Obj = { ...c.Config };
    // every value: which variable carries a secret cannot be told from its name alone
    if (Array.isArray(cfg.Env)) {
      cfg.Env = cfg.Env.map((e) => {
        const s = String(e);
        const eq = s.indexOf("=");
        return eq < 0 ? s : `${s.slice(0, eq)}=${MASK}`;
      });
    }
    if (Array.isArray(cfg.Cmd)) cfg.Cmd = redactArgv(cfg.Cmd);
    if (Array.isArray(cfg.Entrypoint)) cfg.Entrypoint = redactArgv(cfg.Entrypoint);
    if (isObj(cfg.Healthcheck) && Array.isArray(cfg.Healthcheck.Test)) {
      cfg.Healthcheck = { ...cfg.Healthcheck, Test: redactArgv(cfg.Healthcheck.Test) };
    }
    out.Config = cfg;
  }
  if (isObj(c.HostConfig) && isObj(c.HostConfig.LogConfig) && isObj(c.HostConfig.LogConfig.Config)) {
    const opts = Object.fromEntries(Object.keys(c.HostConfig.LogConfig.Config).map((k) => [k, MASK]));
    out.HostConfig = { ...c.HostConfig, LogConfig: { ...c.HostConfig.LogConfig, Config: opts } };
  }
  return out;
}

/**
 * argv with secrets masked, word by word (an element may be a whole `sh -c` script): the value of
 * `--secret-name=v` and `NAME=v`, the word after a bare `--secret-name`, a URL's password.
 */
export function redactArgv(argv: unknown[]): unknown[] {
  let maskNext = false;
  return argv.map((arg) => {
    if (typeof arg !== "string") return arg;
    return arg.split(/(\s+)/).map((w) => {
      if (w === "" || /^\s+$/.test(w)) return w;
      if (maskNext) {
        maskNext = false;
        return MASK;
      }
      const m = /^(-{0,2})([\w.-]+)(=)(.*)$/.exec(w);
      if (m && isSecretName(m[2])) return `${m[1]}${m[2]}=${MASK}`;
      if (/^-{1,2}[\w.-]+$/.test(w) && isSecretName(w.replace(/^-+/, ""))) maskNext = true;
      return maskUrlPasswords(w);
    }).join("");
  });
}
