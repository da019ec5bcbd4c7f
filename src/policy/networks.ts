import net from 'node:net';

/** An address as one family sees it: an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is the IPv4 address. */
export function plainAddress(ip: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const address = mapped ? mapped[1]! : ip;
  const v = net.isIP(address);
  if (v === 0) return undefined;
  return { address, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** `192.0.2.0/24`, `2001:db8::/32` or a single address; undefined when it is neither or the prefix is out of range. */
export function parseCidr(cidr: string): { address: string; family: 'ipv4' | 'ipv6'; prefix: number } | undefined {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(cidr);
  const plain = m && plainAddress(m[1]!);
  if (!plain || plain.address !== m[1]) return undefined;
  const max = plain.family === 'ipv4' ? 32 : 128;
  const prefix = m[2] === undefined ? max : Number(m[2]);
  return prefix <= max ? { ...plain, prefix } : undefined;
}

export interface NamedNetwork {
  name: string;
  cidr: string;
}

/**
 * The first network (in the order given) that holds the address; undefined for none, and for
 * anything that is not an IP address, so an unreadable client address never counts as inside.
 */
export function networkOf<N extends NamedNetwork>(networks: readonly N[], ip: string | undefined): N | undefined {
  const plain = ip === undefined ? undefined : plainAddress(ip);
  if (!plain) return undefined;
  return networks.find((n) => {
    const c = parseCidr(n.cidr);
    if (c?.family !== plain.family) return false;
    const list = new net.BlockList();
    list.addSubnet(c.address, c.prefix, c.family);
    return list.check(plain.address, plain.family);
  });
}
