/**
 * Configuration and libexec propagation through KV and a gossip event. The only door of lib/propagate.
 */
export {
  type Broadcaster,
  createPropagation,
  type PropagateApi,
  type PropagateKv,
  type PropagateResult,
} from "./subsystem.ts";
export { type Manifest, type PropagateType, targetPath, unsafePath } from "./files.ts";
