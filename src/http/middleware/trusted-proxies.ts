import net from 'node:net';
import type { Middleware } from 'koa';

const FORWARDED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded'];

/** Accepts `10.0.0.0/8`, `192.0.2.1`, `::1`, `fd00::/8`. */
export function parseCidrs(cidrs: readonly string[]): net.BlockList {
  const list = new net.BlockList();
  for (const entry of cidrs) {
    const [address, bits] = entry.split('/');
    const type = net.isIPv6(address!) ? 'ipv6' : 'ipv4';
    if (!net.isIP(address!)) throw new Error(`TRUSTED_PROXIES: ${entry} is not an IP address or CIDR`);
    if (bits === undefined) list.addAddress(address!, type);
    else list.addSubnet(address!, Number(bits), type);
  }
  return list;
}

/** What `ctx.ip` is when a trusted proxy forwarded an address that cannot be read: it is in no network, and all such requests share one rate-limit bucket. */
export const UNKNOWN_IP = 'unknown';

/**
 * `X-Forwarded-*` is believed only from the configured proxies (authentik CVE-2023-36456 class):
 * from anyone else those headers are dropped before koa or the provider read them. From a trusted
 * proxy the client address is the right-most `X-Forwarded-For` hop that is not itself a trusted
 * proxy: everything left of it was written by the client and is not believed. A hop that is not
 * an IP address makes the address unknown (`UNKNOWN_IP`), never the proxy's own.
 */
export function trustedProxies(cidrs: readonly string[]): Middleware {
  const list = parseCidrs(cidrs);
  const verdicts = new Map<string, boolean>(); // per peer address: BlockList lookups are not free
  const isTrusted = (remote: string): boolean => {
    let v = verdicts.get(remote);
    if (v === undefined) {
      const plain = remote.startsWith('::ffff:') ? remote.slice(7) : remote;
      v = cidrs.length > 0 && plain !== '' && list.check(plain, net.isIPv6(plain) ? 'ipv6' : 'ipv4');
      if (verdicts.size > 10_000) verdicts.clear();
      verdicts.set(remote, v);
    }
    return v;
  };
  /** Right to left: the first hop that is not one of our proxies; every hop being ours leaves the left-most. */
  const clientOf = (forwardedFor: string): string => {
    const hops = forwardedFor.split(',').map((h) => h.trim());
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (!net.isIP(hop)) return UNKNOWN_IP;
      if (i === 0 || !isTrusted(hop)) return hop;
    }
    return UNKNOWN_IP;
  };
  return async (ctx, next) => {
    const { headers } = ctx.req;
    const forwarded = headers['x-forwarded-for'] || headers['x-forwarded-proto'] || headers['x-forwarded-host'] || headers.forwarded;
    if (forwarded && !isTrusted(ctx.req.socket.remoteAddress ?? '')) {
      for (const h of FORWARDED) delete headers[h];
    } else if (headers['x-forwarded-for'] !== undefined) {
      ctx.request.ip = clientOf([headers['x-forwarded-for']].flat().join(','));
    }
    await next();
  };
}
