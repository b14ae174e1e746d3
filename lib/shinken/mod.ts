/**
 * Shinken/Nagios export (reference §10.1, README "Export your nodes and check states into
 * Shinken"): with a `shinken` object in the configuration, every node becomes a host in
 * `<cfg_path>/<uuid>.cfg` (host templates `agent,kunai`, one passive service per check), kept in
 * step with the membership at start and on `member.*` events, with one `reload_command` per batch;
 * check results go to the external command file as `PROCESS_SERVICE_CHECK_RESULT` lines, node
 * maintenance as host downtimes and silences of our checks as acknowledgements.
 *
 * ```ts
 * const shinken = createShinken(ctx, { membership, localChecks });
 * await shinken.start();
 * ```
 */
import { MEMBER_EVENTS } from "../bus.ts";
import type { Ctx, Subsystem } from "../subsystem.ts";
import { type ShinkenApi, shinkenRoutes } from "./routes.ts";
import type { LocalChecks, RemoteChecks, ShinkenConfig, ShinkenMembership } from "./types.ts";
import { RemoteCheckCache } from "./remote_checks.ts";
import { HostFiles, HostRenderer } from "./host_files.ts";
import { ExternalCommands } from "./external_commands.ts";
import { commandFileReady } from "./command_file.ts";
import type { TimerId } from "../clock/mod.ts";
import type { MemberRecord } from "../types.ts";

export {
  ackServiceLine,
  cfgName,
  cfgValue,
  cmdField,
  delHostDowntimeLine,
  GENERATED_MARK,
  hostConfig,
  hostDowntimeLine,
  hostResultLine,
  removeAckLine,
  safeHostName,
  SERVICE_TEMPLATE,
  serviceName,
  serviceResultLine,
} from "./cfg_render.ts";
export { commandFileReady, pushLines } from "./command_file.ts";
export { RESYNC_FIRST_MS, RESYNC_MAX_MS } from "./external_commands.ts";
export { ackComment, downtimeComment, OPEN_DOWNTIME_S, planAck, planDowntime } from "./quiet.ts";
export { shinkenRoutes } from "./routes.ts";
export { DISK_CHECK_MS, HostRenderer, renderAll } from "./host_files.ts";
export type { CheckBrief, LocalChecks, RemoteChecks, ShinkenConfig, ShinkenMembership } from "./types.ts";
export { RemoteCheckCache } from "./remote_checks.ts";
export { checkBriefs } from "./lazy.ts";

export type { ShinkenApi } from "./routes.ts";

/** How long the export route's poll of the other nodes serves its later requests. */
export const FRESH_MS = 10_000;

/**
 * How long the file of a node that left stays. A node leaves at each `agent stop`, and a restart
 * or an upgrade is back within seconds: its host was removed and added again, two reloads, and
 * Nagios dropped that host's and its services' states, downtimes and acknowledgements. One that
 * has not come back by then is gone from the export.
 */
export const LEFT_GRACE_MS = 5 * 60_000;

/** Builds the exporter; without a `shinken` object it only answers the export route. */
export function createShinken(
  ctx: Ctx,
  deps: { membership: ShinkenMembership; localChecks?: LocalChecks; remoteChecks?: RemoteChecks },
): Subsystem & ShinkenApi {
  const raw = ctx.config.listeners.shinken as ShinkenConfig | undefined;
  const cfg: ShinkenConfig = raw ?? {
    enabled: false,
    cfg_path: "",
    external_command_file: "",
    reload_command: "",
    monitoring_tool: "nagios",
    host_templates: ["agent", "kunai"],
    reload_delay: 1000,
    poll_interval: 30_000,
  };
  const enabled = Boolean(raw) && cfg.enabled;
  const { membership, localChecks } = deps;
  const renderer = new HostRenderer({
    hostTemplates: cfg.host_templates,
    monitoringTool: cfg.monitoring_tool,
  });
  // other nodes' own checks, asked of them (their gossip records carry their services' only)
  const remote = deps.remoteChecks
    ? new RemoteCheckCache(ctx, deps.remoteChecks, membership, (m, listChanged) => {
      renderer.forget(m);
      // the route alone (no exporter running) renders, and writes nothing
      if (!running) return;
      if (listChanged) hostFiles.schedule();
      commands.onMember(m);
    }, cfg.poll_interval)
    : null;
  const remoteOf = remote ? (uuid: string) => remote.get(uuid) : undefined;
  const hostFiles = new HostFiles(
    ctx,
    cfg,
    () => renderer.render(membership.members(), membership.self().uuid, localChecks, remoteOf, keepLeft),
    {
      held: () => membership.joining?.() === true,
      // other nodes whose own checks were not answered yet since the start (none without polls)
      unknown: () =>
        remote && cfg.poll_interval > 0
          ? new Set(
            membership.members()
              .filter((m) => m.uuid !== membership.self().uuid && remote.get(m.uuid) === undefined)
              .map((m) => `${m.uuid}.cfg`),
          )
          : new Set(),
    },
  );
  const commands = new ExternalCommands(ctx, cfg, membership, localChecks, remoteOf, keepLeft);
  /** When this exporter saw each node leave (an exporter started since does not know: gone). */
  const leftAt = new Map<string, number>();
  const graceTimers = new Set<TimerId>();
  function keepLeft(uuid: string): boolean {
    const t = leftAt.get(uuid);
    return t !== undefined && ctx.clock.now() - t < LEFT_GRACE_MS;
  }
  function onLeft(m: MemberRecord): void {
    leftAt.set(m.uuid, ctx.clock.now());
    const t = ctx.clock.setTimeout(() => {
      graceTimers.delete(t);
      // still gone: its file goes, and its downtime
      const now = membership.members().find((x) => x.uuid === m.uuid);
      if (now?.state !== "leave") return;
      hostFiles.schedule();
      commands.onMember(now);
    }, LEFT_GRACE_MS + 1);
    graceTimers.add(t);
  }
  const offs: Array<() => void> = [];
  let routePoll: { at: number; done: Promise<void> } | null = null;
  let running = false;
  const api: Subsystem & ShinkenApi = {
    name: "shinken",
    enabled,
    async start() {
      if (!enabled) return;
      running = true;
      if (cfg.external_command_file) await commandFileReady();
      const sync = () => hostFiles.schedule();
      offs.push(ctx.bus.onMembers(sync));
      for (const event of MEMBER_EVENTS) {
        // the bus is synchronous: a reaped member is already out of the membership, the others are in it
        if (event === "member.reaped") {
          offs.push(ctx.bus.on(event, (m) => {
            remote?.forget(m.uuid);
            leftAt.delete(m.uuid);
            commands.onReaped(m);
          }));
        } else {
          offs.push(ctx.bus.on(event, (m) => {
            if (event === "member.left") onLeft(m);
            commands.onMember(m);
          }));
        }
      }
      offs.push(ctx.bus.on("services.changed", sync));
      // a reload that adds or removes a plain check changes our host's services in Nagios too
      offs.push(ctx.bus.on("config.reloaded", sync));
      offs.push(ctx.bus.on("check.changed", (ev) => commands.onCheckChanged(ev)));
      offs.push(ctx.bus.on("check.silenced", () => commands.onSilenced()));
      await hostFiles.syncNow();
      commands.pushAll();
      remote?.start();
      ctx.log.info(
        `shinken: exporting nodes to ${cfg.cfg_path} (${cfg.monitoring_tool})` +
          (remote && cfg.poll_interval > 0
            ? `; other nodes' own checks asked of them every ${cfg.poll_interval / 1000} s`
            : "; other nodes: their services' checks only"),
      );
    },
    async stop() {
      running = false;
      for (const off of offs.splice(0)) off();
      for (const t of graceTimers) ctx.clock.clearTimeout(t);
      graceTimers.clear();
      await remote?.stop();
      commands.stop();
      await hostFiles.stop();
    },
    info: () =>
      enabled
        ? {
          enabled: true,
          cfg_path: cfg.cfg_path,
          monitoring_tool: cfg.monitoring_tool,
          external_command_file: cfg.external_command_file,
          ...hostFiles.stats,
          waiting_for_join: hostFiles.heldForJoin,
          ...commands.stats,
          ...(remote ? { remote_polls: remote.stats.polls, remote_unanswered: remote.stats.unanswered } : {}),
          ...commands.quietInfo(),
        }
        : { enabled: false },
    files: () => Object.fromEntries(hostFiles.files()),
    // a running exporter keeps the other nodes' checks fresh; the route alone asks them now, once
    // for every request of the next FRESH_MS (a read route: open over TCP, so a flood of requests
    // is one poll of the cluster, not one per request)
    fresh: () => {
      if (!remote || (enabled && cfg.poll_interval > 0)) return Promise.resolve();
      const now = ctx.clock.elapsed();
      if (!routePoll || now - routePoll.at >= FRESH_MS) routePoll = { at: now, done: remote.poll() };
      return routePoll.done;
    },
    syncNow: () => hostFiles.syncNow(),
    routes: () => shinkenRoutes(() => api),
  };
  return api;
}
