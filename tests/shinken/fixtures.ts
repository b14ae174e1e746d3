/** What the Shinken/Nagios tests share: a member record and a real Nagios 4 main configuration. */
import { join } from "node:path";
import type { MemberRecord } from "../../lib/types.ts";
import { REPO } from "../helpers.ts";

/** An alive member `node-<i>` with a uuid Nagios takes as a host name. */
export function member(i: number, extra: Partial<MemberRecord> = {}): MemberRecord {
  return {
    uuid: `0000000${i}-aaaa-bbbb-cccc-00000000000${i}`,
    name: `node-${i}`,
    addr: `10.0.0.${i}`,
    port: 6768,
    incarnation: 1,
    state: "alive",
    tags: ["linux"],
    services: {},
    zone: "",
    ...extra,
  };
}

function whoami(flag: string): string {
  return new TextDecoder().decode(new Deno.Command("id", { args: [flag] }).outputSync().stdout).trim();
}

/**
 * A Nagios 4 main configuration in `dir` around the exported directory `cfgPath` and the shipped
 * templates, with the site's own contact (Nagios refuses a configuration without one), running as the
 * test's user (root here: Nagios 4 accepts nagios_user=root); `extra` lines (e.g.
 * `status_update_interval=1`) are added. Notifications are off, unless `notify`: then the contact is
 * notified of every problem through `notify.command` (its output appended to `notify.file`), for the
 * hosts that use the `notified` template. Returns its path.
 */
export function nagiosMainConfig(
  dir: string,
  cfgPath: string,
  extra: string[] = [],
  notify?: { file: string; command: string },
): string {
  const results = join(dir, "checkresults");
  Deno.mkdirSync(results, { recursive: true });
  const site = join(dir, "site.cfg");
  const on = notify ? "1" : "0";
  Deno.writeTextFileSync(
    site,
    (notify
      ? `define command {\n  command_name notify_test\n  command_line ${notify.command} >> ${notify.file}\n}\n`
      : "") +
      `define contact {\n  contact_name admin\n  host_notifications_enabled ${on}\n` +
      `  service_notifications_enabled ${on}\n` +
      "  host_notification_period kunai-24x7\n  service_notification_period kunai-24x7\n" +
      `  host_notification_options ${notify ? "d,u,r" : "n"}\n` +
      `  service_notification_options ${notify ? "w,u,c,r" : "n"}\n` +
      `  host_notification_commands ${notify ? "notify_test" : "kunai_echo"}\n` +
      `  service_notification_commands ${notify ? "notify_test" : "kunai_echo"}\n}\n` +
      // Nagios notifies only an object's contacts: hosts that use this template (and so their services) have ours
      (notify ? "define host {\n  name notified\n  register 0\n  contacts admin\n}\n" : ""),
  );
  const main = join(dir, "nagios.cfg");
  Deno.writeTextFileSync(
    main,
    [
      `log_file=${join(dir, "nagios.log")}`,
      `cfg_file=${join(REPO, "templates/shinken/kunai-templates.cfg")}`,
      `cfg_file=${site}`,
      `cfg_dir=${cfgPath}`,
      `object_cache_file=${join(dir, "objects.cache")}`,
      `precached_object_file=${join(dir, "objects.precache")}`,
      `status_file=${join(dir, "status.dat")}`,
      `temp_file=${join(dir, "nagios.tmp")}`,
      `lock_file=${join(dir, "nagios.lock")}`,
      `check_result_path=${results}`,
      `command_file=${join(dir, "nagios.cmd")}`,
      `nagios_user=${whoami("-un")}`,
      `nagios_group=${whoami("-gn")}`,
      "check_external_commands=1",
      `enable_notifications=${on}`,
      ...extra,
      "",
    ].join("\n"),
  );
  return main;
}

/** A running nagios4. */
export interface NagiosProc {
  alive(): boolean;
  /** SIGTERM, SIGKILL after 10 s; resolves once it exited. */
  stop(): Promise<void>;
}

/** Starts the real nagios4 on a main configuration (see nagiosMainConfig). */
export function startNagios(mainCfg: string): NagiosProc {
  const child = new Deno.Command("/usr/sbin/nagios4", {
    args: [mainCfg],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  void child.status.then(() => exited = true);
  return {
    alive: () => !exited,
    async stop() {
      if (!exited) child.kill("SIGTERM");
      const killer = setTimeout(() => !exited && child.kill("SIGKILL"), 10_000);
      await child.status;
      clearTimeout(killer);
    },
  };
}
