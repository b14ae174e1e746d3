/**
 * RAFT leader elections per group of nodes (a tag of the `raft.groups` configuration, or `*`).
 * The only door of lib/raft.
 */
export { quorum, RaftMachine, type RaftMsg, type RaftTimings, type Role, TERM_MAX } from "./machine.ts";
export {
  type GroupStatus,
  type LeaderChange,
  RaftGroup,
  type RaftPersistence,
  type RaftTransport,
} from "./group.ts";
export { createRaft, type GroupView, type RaftApi } from "./subsystem.ts";
