import { isIPv6 } from 'node:net';

/**
 * The client that failed key checks are counted and blocked under, from its address: an IPv4
 * address as it is, an IPv6 address as its /64. An IPv6 client is handed a whole /64 (a home
 * router, a phone, a cloud VM), so counted per address it could rotate through 2^64 of them and
 * never be blocked. An address that carries an IPv4 one (`::ffff:1.2.3.4`, as a dual-stack socket
 * reports IPv4 clients, and the well-known NAT64 prefix `64:ff9b::/96`, behind which all IPv4
 * clients would share one /64) is that IPv4 address. Anything else (proxy-addr passes an untrusted
 * X-Forwarded-For entry on as it was sent) is counted as it is.
 */
export function clientScope(address: string): string {
  if (!address.includes(':') || !isIPv6(address)) return address;
  const groups = ipv6Groups(address);
  const [a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0] = groups;
  const mapped = a === 0 && b === 0 && c === 0 && d === 0 && e === 0 && f === 0xffff;
  const nat64 = a === 0x64 && b === 0xff9b && c === 0 && d === 0 && e === 0 && f === 0;
  if (mapped || nat64) return `${g >> 8}.${g & 255}.${h >> 8}.${h & 255}`;
  return `${a.toString(16)}:${b.toString(16)}:${c.toString(16)}:${d.toString(16)}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail as two groups, any zone dropped). */
function ipv6Groups(address: string): number[] {
  let text = (address.split('%')[0] ?? '').toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [, w, x, y, z] = dotted.map(Number) as [number, number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((w << 8) | x).toString(16)}:${((y << 8) | z).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const groups = (part: string | undefined) =>
    part ? part.split(':').map((group) => Number.parseInt(group, 16)) : [];
  const left = groups(head);
  const right = groups(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
