/**
 * `addr:port` as a reader (or a parser: `parsePeer`, `--http-addr`, a URL) takes it back: an IPv6
 * address goes in brackets (RFC 3986 §3.2.2, RFC 5952 §6), `[::1]:6768`, since `::1:6768` is an IPv6
 * address of its own. An IPv4 address or a host name is left as is.
 *
 * @example hostPort("::1", 6768) // "[::1]:6768"
 */
export function hostPort(addr: string, port: number | string): string {
  return addr.includes(":") && !addr.startsWith("[") ? `[${addr}]:${port}` : `${addr}:${port}`;
}
