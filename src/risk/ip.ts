import net from 'node:net';
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * The address in its one canonical form (an IPv4-mapped IPv6 address as IPv4). Throws on anything
 * that is not a plain IPv4 or IPv6 address: an address the HTTP layer could not establish is not
 * something to score leniently.
 */
export function parseIp(raw: string): Address {
  if (net.isIP(raw) === 0) throw new Error('not an IP address');
  return ipaddr.process(raw);
}

export const canonicalIp = (raw: string): string => parseIp(raw).toString();

/** The forms an address may have been stored under by the HTTP layer (IPv4 also as IPv4-mapped IPv6). */
export function ipSpellings(raw: string): string[] {
  const ip = parseIp(raw);
  const forms = new Set([raw, ip.toString()]);
  if (ip.kind() === 'ipv4') forms.add(`::ffff:${ip.toString()}`);
  return [...forms];
}

/** The network a user's address usually stays in across reconnects: the IPv4 /24 or the IPv6 /48. */
export function networkOf(raw: string): string {
  const ip = parseIp(raw);
  if (ip.kind() === 'ipv4') {
    const [a, b, c] = (ip as ipaddr.IPv4).octets;
    return `${a}.${b}.${c}.0/24`;
  }
  const [a, b, c] = (ip as ipaddr.IPv6).parts;
  return `${new ipaddr.IPv6([a!, b!, c!, 0, 0, 0, 0, 0]).toString()}/48`;
}

const parsedLists = new WeakMap<readonly string[], [Address, number][]>();

/** The first CIDR of `cidrs` that holds the address (the parsed list is kept while the array lives). */
export function matchingCidr(raw: string, cidrs: readonly string[]): string | undefined {
  let ranges = parsedLists.get(cidrs);
  if (!ranges) {
    ranges = cidrs.map((c) => ipaddr.parseCIDR(c));
    parsedLists.set(cidrs, ranges);
  }
  const ip = parseIp(raw);
  const i = ranges.findIndex(([range, bits]) => range.kind() === ip.kind() && ip.match(range, bits));
  return i >= 0 ? cidrs[i] : undefined;
}

/** A plain IPv4 or IPv6 address (no port, zone, or shortened IPv4 forms). */
export const isIpAddress = (raw: string): boolean => net.isIP(raw) !== 0;
