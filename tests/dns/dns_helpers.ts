/** Shared helpers of the DNS tests: member records, queries built with dns-packet, replies decoded. */
import dnsPacket from "dns-packet";
import { Buffer } from "node:buffer";
import type { MemberRecord, MemberState } from "../../lib/types.ts";

export function member(
  name: string,
  addr: string,
  tags: string[],
  opts: { state?: MemberState; services?: Record<string, unknown> } = {},
): MemberRecord {
  return {
    uuid: `uuid-${name}`,
    name,
    addr,
    port: 6768,
    incarnation: 1,
    state: opts.state ?? "alive",
    tags,
    services: opts.services ?? {},
    zone: "",
  };
}

export interface QueryOpts {
  id?: number;
  type?: string;
  edns?: number;
  ednsVersion?: number;
}

export function query(name: string, o: QueryOpts = {}): Uint8Array {
  const additionals = o.edns !== undefined
    ? [{
      type: "OPT",
      name: ".",
      udpPayloadSize: o.edns,
      ednsVersion: o.ednsVersion ?? 0,
      flags: 0,
      options: [],
    }]
    : [];
  return new Uint8Array(dnsPacket.encode({
    type: "query",
    id: o.id ?? 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: o.type ?? "A", name, class: "IN" }],
    // deno-lint-ignore no-explicit-any
    additionals: additionals as any,
  }));
}

// deno-lint-ignore no-explicit-any
export type Decoded = any;

export function decode(bytes: Uint8Array): Decoded {
  return dnsPacket.decode(Buffer.from(bytes));
}
