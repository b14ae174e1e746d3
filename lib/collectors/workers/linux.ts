/**
 * The "linux" collectors Worker (`collectors.linux_worker`): no Deno permissions at all; every file
 * comes through the read broker (allow-list in ../groups.ts) and disk sizes through its statfs op.
 */
import {
  brokerListening,
  brokerRead,
  brokerReadChunk,
  brokerReadDir,
  brokerReadLink,
  brokerStatfs,
  serve,
} from "../../sandbox/worker_kit.ts";
import { linuxRunner } from "../linux.ts";
import { runMany, type RunManyRequest } from "../protocol.ts";

const run = linuxRunner({
  read: brokerRead,
  readChunk: brokerReadChunk,
  readDir: brokerReadDir,
  readLink: brokerReadLink,
  statfs: brokerStatfs,
  listening: brokerListening,
});

serve({ run, runMany: (req: RunManyRequest) => runMany(run, req) });
