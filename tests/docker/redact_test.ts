/**
 * The command lines of containers as the read routes serve them: MySQL and MariaDB clients take their
 * password attached to `-p` (`-pSECRET`); quoted values with spaces are masked whole.
 */
import assert from "node:assert/strict";
import { redactArgv, redactInspect } from "../../lib/docker/mod.ts";

Deno.test("redactArgv masks a MySQL/MariaDB client's attached -p password, in argv or in a script", () => {
  assert.deepEqual(redactArgv(["mysqladmin", "ping", "-h", "localhost", "-uroot", "-pS3cr3t!"]), [
    "mysqladmin",
    "ping",
    "-h",
    "localhost",
    "-uroot",
    "-p********",
  ]);
  assert.deepEqual(
    redactArgv(["CMD-SHELL", "/usr/bin/mysql -h db -u app -pHunter2 app_db -e 'select 1' || exit 1"]),
    ["CMD-SHELL", "/usr/bin/mysql -h db -u app -p******** app_db -e 'select 1' || exit 1"],
  );
  assert.deepEqual(
    redactArgv(["sh", "-c", "mariadb-dump -uroot '-pa b' --all-databases | gzip > /backup/all.sql.gz"]),
    ["sh", "-c", "mariadb-dump -uroot '-p******** ******** --all-databases | gzip > /backup/all.sql.gz"],
  );
  // bundled after flags without a value; after a letter that takes one, the rest is that value
  assert.deepEqual(redactArgv(["mysql", "-vpS3cr3t", "-BNpX2", "-hprod", "-uapp", "-vuprod", "-vp"]), [
    "mysql",
    "-vp********",
    "-BNp********",
    "-hprod",
    "-uapp",
    "-vuprod",
    "-vp",
  ]);
  // the client's command ends at `;`, `&&`, `|`...: another program's -p is its own
  assert.deepEqual(redactArgv(["sh", "-c", "mysql -pX1 -e 'select 1'; mkdir -p/tmp/x"]), [
    "sh",
    "-c",
    "mysql -p******** -e 'select 1'; mkdir -p/tmp/x",
  ]);
  assert.deepEqual(redactArgv(["sh", "-c", "mysqladmin -pX1; cp -pR a b"]), [
    "sh",
    "-c",
    "mysqladmin -p********; cp -pR a b",
  ]);
  // --password=, --pass=, --passwd= whoever takes them; a quoted value with a space masked whole
  assert.deepEqual(
    redactArgv(["sh", "-c", 'mysqlsh --passwd="two words" --uri root@db && x --pass=P1 y']),
    ["sh", "-c", "mysqlsh --passwd=******** ******** --uri root@db && x --pass=******** y"],
  );
});

Deno.test("redactArgv leaves -p alone outside MySQL clients, and a separate word after -p", () => {
  // ports, parents, preserve: -p means something else to every other program
  const others = [
    "socat -p 8080 tcp-listen:80",
    "mkdir -p /var/lib/app",
    "cp -pR /src /dst",
    "mysqladmin ping; mkdir -p/tmp/x",
    "mysqladmin ping && install -pD a b",
    "mysql -u root -p app_db", // -p alone prompts; app_db is the database, not a password
  ];
  for (const line of others) assert.deepEqual(redactArgv([line]), [line]);
  assert.deepEqual(redactArgv(["mysqld", "--user=mysql", "-P", "3306"]), [
    "mysqld",
    "--user=mysql",
    "-P",
    "3306",
  ]);
});

Deno.test("redactInspect masks a healthcheck's mysqladmin -p password", () => {
  const c = redactInspect({
    Config: { Healthcheck: { Test: ["CMD", "mysqladmin", "ping", "-h", "127.0.0.1", "-proot_pw"] } },
  }) as { Config: { Healthcheck: { Test: string[] } } };
  assert.deepEqual(c.Config.Healthcheck.Test, ["CMD", "mysqladmin", "ping", "-h", "127.0.0.1", "-p********"]);
});

Deno.test("redactInspect reads Args after Path and Cmd after Entrypoint: a -p there is still a password", () => {
  const c = redactInspect({
    Path: "/usr/bin/mysqladmin",
    Args: ["-h", "db", "-pARGS_PW", "ping"],
    Config: { Entrypoint: ["mariadb"], Cmd: ["-uroot", "-pCMD_PW", "-e", "select 1"] },
  }) as { Args: string[]; Config: { Cmd: string[]; Entrypoint: string[] } };
  assert.deepEqual(c.Args, ["-h", "db", "-p********", "ping"]);
  assert.deepEqual(c.Config.Cmd, ["-uroot", "-p********", "-e", "select 1"]);
  assert.deepEqual(c.Config.Entrypoint, ["mariadb"]);
});
