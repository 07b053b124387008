import { BlockList, isIP } from 'node:net';

/**
 * Address ranges that never locate a person: private networks, loopback, link-local, carrier-grade NAT, documentation
 * and benchmarking ranges, multicast and reserved space (IANA's special-purpose registries, RFC 6890 and successors).
 * An address in one of them has no region, whatever an IP database says about it.
 */
const SPECIAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  SPECIAL.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 127], // :: and ::1
  ['100::', 64], // discard-only
  ['2001::', 23], // IETF protocol assignments (Teredo, benchmarking, ORCHID…)
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  SPECIAL.addSubnet(net, bits, 'ipv6');
}

/** `::ffff:1.2.3.4` (an IPv4 client seen on an IPv6 socket) → `1.2.3.4`; other addresses unchanged. */
export function normalizeAddress(ip: string): string {
  const t = ip.trim();
  if (t.length > 7 && t.slice(0, 7).toLowerCase() === '::ffff:' && isIP(t.slice(7)) === 4) return t.slice(7);
  return t;
}

/** Whether `ip` is a valid address that can belong to a person on the internet (not private, reserved, loopback…). */
export function isPublicAddress(ip: string): boolean {
  const v = isIP(ip);
  if (v === 0) return false;
  return !SPECIAL.check(ip, v === 4 ? 'ipv4' : 'ipv6');
}
