/**
 * Detectors (reference §7): rules that discover what this node is (OS, applications, location)
 * and add tags to it; `remove_when_false: true` removes them again when the rule stops matching.
 *
 * ```ts
 * const detectors = createDetectors(ctx, { collectors });
 * await detectors.start();
 * await detectors.dryRun(); // {"centos": {matched: false, tags: ["linux", "centos"], new_tags: []}}
 * ```
 */
import type { RouteTable } from "../routing/mod.ts";
import type { Ctx, Subsystem } from "../subsystem.ts";
import { type DetectorRun, Detectors, type DetectorsDeps } from "./detectors.ts";
import { detectorsRoutes } from "./routes.ts";

export type { DetectorRun, DetectorsDeps } from "./detectors.ts";
export { detectorId, makeDetectorDef } from "./detectors.ts";

export interface DetectorsApi {
  /** Evaluates every detector (or one) without applying tags. */
  dryRun(id?: string): Promise<Record<string, DetectorRun>>;
  /** Runs one detector now and applies its tags. */
  runDetector(id: string): Promise<DetectorRun>;
  list(): Array<Record<string, unknown>>;
  loadFromConfig(): void;
}

/** Builds the detectors subsystem. */
export function createDetectors(ctx: Ctx, deps: DetectorsDeps = {}): Subsystem & DetectorsApi {
  const d = new Detectors(ctx, deps);
  return {
    name: d.name,
    start: () => d.start(),
    stop: () => d.stop(),
    info: () => d.info(),
    dryRun: (id) => d.dryRun(id),
    runDetector: (id) => d.runDetector(id),
    list: () => d.list(),
    loadFromConfig: () => d.loadFromConfig(),
    routes: (): RouteTable => detectorsRoutes(d),
  };
}
