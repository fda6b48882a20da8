// The client address a per-address rate limit counts under. Rules:
//   1. The address is Fastify's request.ip, which believes X-Forwarded-For only from TRUST_PROXY peers.
//   2. What a trusted proxy forwards is not always an address: anything else counts as the proxy's own, so a
//      client cannot mint a fresh allowance per request by writing nonsense (or another key's name) in the header.
//   3. An IPv4-mapped IPv6 address is the IPv4 address it maps.
//   4. IPv6 counts per /64, the block one subscriber is given: a client could otherwise rotate through 2^64
//      addresses of its own and never be limited.
import { isIP } from 'node:net';

/** The eight hextets of an IPv6 address, or null when it does not parse. */
function hextets(address: string): number[] | null {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string | undefined) => (part ? part.split(':').map((group) => Number.parseInt(group, 16)) : []);
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  const zeros = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const all = [...head, ...new Array<number>(Math.max(0, zeros)).fill(0), ...tail];
  return all.length === 8 && all.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff)
    ? all
    : null;
}

function normalized(address: string): string | null {
  const kind = isIP(address);
  if (kind === 4) return address;
  if (kind !== 6) return null;
  const groups = hextets(address);
  if (!groups) return null;
  const [g0, g1, g2, g3, g4, g5, g6 = 0, g7 = 0] = groups;
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) {
    return [g6 >> 8, g6 & 0xff, g7 >> 8, g7 & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

// The last answer, kept: every request asks, and most come from the address the one before came from.
let last = { ip: '', peer: undefined as string | undefined, address: 'unknown' };

/** `ip` as a rate-limit subject; `peer` (the socket's address) when `ip` is not an address. */
export function clientAddress(ip: string, peer: string | undefined): string {
  if (ip === last.ip && peer === last.peer) return last.address;
  const address = normalized(ip) ?? normalized(peer ?? '') ?? 'unknown';
  last = { ip, peer, address };
  return address;
}
