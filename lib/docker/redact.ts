/**
 * What `docker inspect` holds that the read routes (open over TCP) must not serve: environment
 * values (`MYSQL_ROOT_PASSWORD=...`, `DATABASE_URL=postgres://u:pw@db`), the secret-looking words
 * of a command line (`--requirepass X`, `--password=X`, `PASS=X`, `scheme://user:pw@host`, a MySQL
 * client's `-pX` or `-vpX`) and
 * logging-driver options (`splunk-token`). Pure: applied to each container as it is stored.
 */
import { isSecretName, MASK, maskUrlPasswords } from "../secrets.ts";

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** A copy of one `/containers/<id>/json` answer with the values above masked. */
export function redactInspect(c: Obj): Obj {
  const out: Obj = { ...c };
  // the arguments read after their program (`Path: "mysqladmin"`, `Args: ["-pX"]`), as Cmd after Entrypoint
  if (Array.isArray(c.Args)) out.Args = redactAfter(typeof c.Path === "string" ? [c.Path] : [], c.Args);
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
    if (Array.isArray(cfg.Cmd)) {
      cfg.Cmd = redactAfter(Array.isArray(cfg.Entrypoint) ? cfg.Entrypoint : [], cfg.Cmd);
    }
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

/** `argv` masked as the words that follow `before` on one command line. */
function redactAfter(before: unknown[], argv: unknown[]): unknown[] {
  return redactArgv([...before, ...argv]).slice(before.length);
}

/**
 * MySQL and MariaDB client programs (`mysql`, `mysqladmin`, `mysqldump`, `mariadb-dump`, `mysqlsh`...):
 * their `-pX` is the password X. (`mysqld` has no `-p`; more names here only mask more.)
 */
const MYSQL_CLIENT = /^(mysql|mariadb)[\w-]*$/;
/** A shell word that ends a command (`;`, `&&`, `||`, `|`, `&`, or a word ending so): the next program's words follow. */
const COMMAND_END = /[;&|]$/;

/**
 * argv with secrets masked, word by word (an element may be a whole `sh -c` script): the value of
 * `--secret-name=v` and `NAME=v`, the word after a bare `--secret-name`, a URL's password, and the
 * `-pX` of a MySQL or MariaDB client (after the client's name, up to the end of its command).
 * Only the attached form: to these clients `-p X` means "ask for the password" and X is the database,
 * and to every other program `-p` is something else (`mkdir -p`, `cp -p`, a port): masking those
 * would hide what runs and protect nothing. A value opened with a quote and not closed in its word
 * (`--password="two words"` in a script) is masked up to the word that closes it.
 */
export function redactArgv(argv: unknown[]): unknown[] {
  let maskNext = false;
  let inMysql = false; // the current command is a MySQL client's
  let openQuote = ""; // a masked value's quote, still open: its words are masked too
  // `-pX;`: the shell's separator after the value stays
  const masked = (word: string, value: string) => {
    openQuote = unclosedQuote(word);
    return value + MASK + (openQuote ? "" : /[;&|]*$/.exec(word)![0]);
  };
  const redactWord = (w: string): string => {
    if (openQuote) {
      if (w.includes(openQuote)) openQuote = "";
      return MASK;
    }
    if (maskNext) {
      maskNext = false;
      return masked(w, "");
    }
    // a leading quote is the shell's, not the option's (`'-pX'`, `"--password=a b"`)
    const quote = /^["']*/.exec(w)![0];
    const body = w.slice(quote.length);
    const m = /^(-{0,2})([\w.-]+)(=)(.*)$/.exec(body);
    if (m && isSecretName(m[2])) return masked(w, `${quote}${m[1]}${m[2]}=`);
    if (inMysql) {
      const p = mysqlPassword(body);
      if (p > 0) return masked(w, quote + body.slice(0, p));
    }
    if (/^-{1,2}[\w.-]+$/.test(body) && isSecretName(body.replace(/^-+/, ""))) maskNext = true;
    if (MYSQL_CLIENT.test(body.slice(body.lastIndexOf("/") + 1))) inMysql = true;
    return maskUrlPasswords(w);
  };
  return argv.map((arg) => {
    if (typeof arg !== "string") return arg;
    return arg.split(/(\s+)/).map((w) => {
      if (w === "" || /^\s+$/.test(w)) return w;
      const out = redactWord(w);
      if (!openQuote && COMMAND_END.test(w)) inMysql = false;
      return out;
    }).join("");
  });
}

/**
 * Where the password starts in a MySQL client's word (0: none): `-pX`, or bundled after flags
 * without a value (`-vpX`, `-Bp'X'`). A letter that takes a value before the `p` makes the rest
 * that value (`-hprod` is the host "prod", `-uapp` the user): those are u h P S D e.
 */
function mysqlPassword(body: string): number {
  const m = /^-([A-Za-z]*?)p./.exec(body);
  return m && !/[uhPSDe]/.test(m[1]) ? m[1].length + 2 : 0;
}

/** The quote (`"` or `'`) a word opens and does not close, or "". */
function unclosedQuote(word: string): string {
  let open = "";
  for (const ch of word) {
    if (open) {
      if (ch === open) open = "";
    } else if (ch === '"' || ch === "'") open = ch;
  }
  return open;
}
