// Where webhooks may be sent: HTTPS only, and only to public addresses, so an endpoint cannot make Portico reach
// into its own network (SSRF). Checked at registration and again at each delivery, because DNS may change in
// between; a delivery should connect to the addresses this check returned, not resolve the name again.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

// One list per family: a BlockList checks IPv4 addresses against IPv6 rules too, as IPv4-mapped addresses, and
// ::ffff:0:0/96 below would then refuse every IPv4 address.
const blockedV4 = new BlockList();
const blockedV6 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
] as const) {
  blockedV4.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::ffff:0:0', 96], // IPv4-mapped: would reach any IPv4 address, private ones included
  ['64:ff9b::', 96], // NAT64, likewise
  ['2002::', 16], // 6to4, likewise
  ['fc00::', 7], // unique local, AWS metadata (fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  blockedV6.addSubnet(network, prefix, 'ipv6');
}

/** Whether an IP address is one a webhook may never reach. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return family === 4 ? blockedV4.check(address, 'ipv4') : blockedV6.check(address, 'ipv6');
}

export interface TargetOptions {
  /** WEBHOOK_ALLOW_PRIVATE_TARGETS: for development and tests, lifts both the HTTPS and the address rules. */
  allowPrivate: boolean;
  /** Resolves a host name to its addresses; node:dns by default. */
  resolve?: (host: string) => Promise<string[]>;
}

export type TargetCheck = { ok: true; url: URL; addresses: string[] } | { ok: false; reason: string };

const resolveWithDns = async (host: string): Promise<string[]> =>
  (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

/** Whether `text` is a URL webhooks may be sent to, and the addresses its host resolves to now. */
export async function checkWebhookTarget(text: string, options: TargetOptions): Promise<TargetCheck> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: 'must be an absolute URL.' };
  }
  if (url.protocol !== 'https:' && !(options.allowPrivate && url.protocol === 'http:')) {
    return { ok: false, reason: 'must use https.' };
  }
  // Credentials in a URL end up in logs and in the delivery log shown to the owner.
  if (url.username || url.password) return { ok: false, reason: 'must not carry a user name or password.' };
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  let addresses: string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = await (options.resolve ?? resolveWithDns)(host);
    } catch {
      return { ok: false, reason: `its host '${host}' does not resolve.` };
    }
    if (addresses.length === 0) return { ok: false, reason: `its host '${host}' does not resolve.` };
  }
  if (!options.allowPrivate) {
    // Every address must be public: a client may connect to any of them.
    const refused = addresses.find(isBlockedAddress);
    if (refused) {
      return {
        ok: false,
        reason: `its host resolves to ${refused}, a loopback, private, link-local or metadata address.`,
      };
    }
  }
  return { ok: true, url, addresses };
}
