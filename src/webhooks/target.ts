import dns from 'node:dns';
import net from 'node:net';
import { badRequest } from '../lib/errors.js';

/** Where webhooks may be sent (server-side request forgery, OWASP ASVS 5 V1.3). */
export interface TargetRules {
  /** `http://` to a loopback address (a receiver on the same machine, in development and tests). */
  allowHttpLoopback: boolean;
  /** Private, loopback, link-local and other non-public addresses. */
  allowPrivateTargets: boolean;
}

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Addresses that are not the public internet: cloud metadata (169.254.169.254), RFC 1918, CGNAT, ULA, multicast, reserved. */
const NON_PUBLIC = new net.BlockList();
for (const [a, p] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  NON_PUBLIC.addSubnet(a, p, 'ipv4');
for (const [a, p] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const)
  NON_PUBLIC.addSubnet(a, p, 'ipv6');

/** An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is judged as the IPv4 address it is. */
function normalise(address: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1]!, family: 'ipv4' };
  const v = net.isIP(address);
  return v === 4 ? { address, family: 'ipv4' } : v === 6 ? { address, family: 'ipv6' } : undefined;
}

export const isLoopback = (address: string): boolean => {
  const a = normalise(address);
  return a !== undefined && LOOPBACK.check(a.address, a.family);
};

/** Whether a connection to this address is allowed under the rules. */
export function addressAllowed(address: string, rules: TargetRules): boolean {
  const a = normalise(address);
  if (!a) return false;
  if (rules.allowPrivateTargets || !NON_PUBLIC.check(a.address, a.family)) return true;
  return rules.allowHttpLoopback && LOOPBACK.check(a.address, a.family);
}

const hostOf = (u: URL) => u.hostname.replace(/^\[|\]$/g, '');

/**
 * A subscription's URL as the rules allow it: https (http only to a loopback address when allowed),
 * no credentials in it, and a literal address that is allowed. Host names are judged again at each
 * delivery, on the addresses they resolve to (`guardedLookup`).
 */
export function checkTargetUrl(raw: string, rules: TargetRules): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw badRequest('url: must be an absolute URL');
  }
  const host = hostOf(u);
  const loopbackHost = host === 'localhost' || isLoopback(host);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && rules.allowHttpLoopback && loopbackHost)) throw badRequest('url: must be an https URL');
  if (u.username || u.password) throw badRequest('url: must not contain credentials');
  if (u.hash) throw badRequest('url: must not contain a fragment');
  if (net.isIP(host) && !addressAllowed(host, rules)) throw badRequest('url: this address is not allowed as a webhook target');
  if (host === 'localhost' && !addressAllowed('127.0.0.1', rules)) throw badRequest('url: this address is not allowed as a webhook target');
  return u;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * A `lookup` for the HTTP client that refuses a host resolving to any address the rules refuse,
 * so the address checked is the address connected to (no rebinding between check and use).
 */
export function guardedLookup(rules: TargetRules) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { all: true, family: options.family ?? 0 }, (err, addresses) => {
      if (err) return callback(err, []);
      const refused = addresses.find((a) => !addressAllowed(a.address, rules));
      if (refused || !addresses.length) {
        const e: NodeJS.ErrnoException = new Error('the webhook target resolves to an address that is not allowed');
        e.code = 'ETARGETREFUSED';
        return callback(e, []);
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}
