/**
 * Remote command execution with Ed25519-signed requests. The only door of lib/exec.
 */
export {
  createExec,
  EXEC_RESULT_TTL_MS,
  type ExecApi,
  type ExecGroup,
  type ExecKv,
  MAX_OUTPUT_BYTES,
  type NodeResult,
} from "./subsystem.ts";
export {
  canonicalBytes,
  checkRequest,
  type ExecRequest,
  importPrivateKey,
  importPublicKey,
  parseSigned,
  type Refusal,
  type SignedRequest,
  signRequest,
  verifyRequest,
} from "./signing.ts";
export { runCommand, type RunResult } from "./runner.ts";
