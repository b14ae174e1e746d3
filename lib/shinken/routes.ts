/**
 * The Shinken export's route, shared by the exporter (mod.ts) and its on-demand wrapper (lazy.ts),
 * which serves it without loading the exporter until it is asked.
 */
import { RouteTable } from "../routing/mod.ts";

/** What routes and tests may ask of the exporter. */
export interface ShinkenApi {
  /** Whether a `shinken` object is configured (and not `enabled: false`). */
  readonly enabled: boolean;
  /** The host files an export would write now, by file name. */
  files(): Record<string, string>;
  /** Brings the other nodes' own checks up to date before `files` (asks them when nothing polls). */
  fresh?(): Promise<void>;
  /** Syncs the files now (and reloads if they changed); resolves when done. */
  syncNow(): Promise<void>;
}

/** `GET /agent/shinken/export` (read): the host files for the current membership. */
export function shinkenRoutes(api: () => ShinkenApi | Promise<ShinkenApi>): RouteTable {
  const r = new RouteTable("shinken");
  r.read(
    "GET",
    "/agent/shinken/export",
    "Nagios/Shinken host files for every node, by file name",
    async (c) => {
      const a = await api();
      await a.fresh?.();
      return c.json({ enabled: a.enabled, files: a.files() });
    },
  );
  return r;
}
