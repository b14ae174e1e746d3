/**
 * One app served twice over TCP on loopback: with the front's fast path (`fastDispatcher`) and
 * without it (the reference), counting the requests the fast path took. Shared by the tests that
 * compare the two answers (KV fast path, fast peer routes).
 */
import { buildApp, fastDispatcher, HttpServer } from "../../lib/http/mod.ts";
import type { RouteTable } from "../../lib/routing/mod.ts";
import { freePort } from "../helpers.ts";

type Policy = Parameters<typeof buildApp>[1];

export interface FastPair {
  fast: number;
  slow: number;
  readonly taken: number;
  [Symbol.asyncDispose](): Promise<void>;
}

/** `onClose` runs after both servers closed (the caller's own clean-up). */
export async function fastAndSlowServers(
  routers: RouteTable[],
  policy: Policy,
  onClose: () => void | Promise<void>,
): Promise<FastPair> {
  const app = buildApp(routers, policy);
  const dispatch = fastDispatcher(routers, policy)!;
  let taken = 0;
  const start = (fast: boolean) =>
    HttpServer.start(app, {
      bind: "127.0.0.1",
      port: freePort(),
      socket: "",
      tcp: true,
      token: policy.token,
      maxBody: policy.maxBody,
      log: policy.log,
      counters: policy.counters,
      fast: fast
        ? (b) => {
          const p = dispatch(b);
          if (p) taken++;
          return p;
        }
        : null,
    });
  const fast = await start(true);
  const slow = await start(false);
  return {
    fast: fast.tcpAddr!.port,
    slow: slow.tcpAddr!.port,
    get taken() {
      return taken;
    },
    async [Symbol.asyncDispose]() {
      await fast.close();
      await slow.close();
      await onClose();
    },
  };
}
