import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Which addresses outbound webhooks may connect to: public ones only, unless a network is listed
 * in GATEHOUSE_WEBHOOK_ALLOW_NETS. The check runs on the resolved address that the socket then
 * uses (a custom `lookup`), so a DNS answer that changes between check and connect cannot slip
 * past, and IP literals are checked too.
 */

const PRIVATE_V4 = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const;

const PRIVATE_V6 = [
  ['::', 128], // unspecified
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['64:ff9b::', 96], // NAT64
  ['64:ff9b:1::', 48], // NAT64, local use (RFC 8215)
  ['fec0::', 10], // site-local (deprecated, reserved)
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  // Transition forms that carry an IPv4 address (127.0.0.1 as ::7f00:1, or behind a relay):
  ['::', 96], // IPv4-compatible (deprecated)
  ['::ffff:0:0:0', 96], // IPv4-translated (SIIT)
  ['2001::', 32], // Teredo
  ['2002::', 16], // 6to4
] as const;

export interface Cidr {
  net: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `fd00::/8`, or one address; throws a message naming what is wrong. */
export function parseCidr(text: string): Cidr {
  const parts = text.split('/');
  const net = parts[0] ?? '';
  const version = isIP(net);
  if (parts.length > 2 || version === 0)
    throw new Error(`"${text}" is not an IP address or CIDR (10.0.0.0/8, fd00::/8)`);
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  const bits = parts[1];
  if (bits === undefined) return { net, prefix: max, family };
  const prefix = Number(bits);
  if (!/^\d+$/.test(bits) || prefix > max) throw new Error(`"${text}": the prefix length must be 0 – ${max}`);
  return { net, prefix, family };
}

/** `::ffff:7f00:1` as `127.0.0.1`: a mapped address in hex, as the IPv4 address it carries. */
function mappedIpv4(address: string): string | undefined {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (dotted?.[1]) return dotted[1];
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex?.[1] || !hex[2]) return undefined;
  const high = Number.parseInt(hex[1], 16);
  const low = Number.parseInt(hex[2], 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

export class AddressGuard {
  private readonly blocked = new BlockList();
  private readonly allowed = new BlockList();

  constructor(allowNets: readonly string[]) {
    for (const [net, prefix] of PRIVATE_V4) this.blocked.addSubnet(net, prefix, 'ipv4');
    for (const [net, prefix] of PRIVATE_V6) this.blocked.addSubnet(net, prefix, 'ipv6');
    for (const text of allowNets) {
      const { net, prefix, family } = parseCidr(text);
      this.allowed.addSubnet(net, prefix, family);
    }
  }

  /** Why `address` may not be used, or undefined when it may. */
  refusal(address: string): string | undefined {
    const family = isIP(address);
    if (family === 0) return `"${address}" is not an IP address`;
    let check = address;
    let type: 'ipv4' | 'ipv6' = family === 4 ? 'ipv4' : 'ipv6';
    // An IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
    const mapped = family === 6 ? mappedIpv4(address) : undefined;
    if (mapped) {
      check = mapped;
      type = 'ipv4';
    }
    if (this.allowed.check(check, type)) return undefined;
    if (this.blocked.check(check, type)) {
      return `${address} is a private, loopback, link-local or reserved address (allow it with GATEHOUSE_WEBHOOK_ALLOW_NETS)`;
    }
    return undefined;
  }

  /** A `lookup` for http.request that only ever yields permitted addresses. */
  readonly lookup = (
    hostname: string,
    options: object,
    callback: (
      error: NodeJS.ErrnoException | null,
      address: string | { address: string; family: number }[],
      family?: number,
    ) => void,
  ): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const list = Array.isArray(addresses) ? addresses : [];
      for (const entry of list) {
        const reason = this.refusal(entry.address);
        if (reason) {
          const refused = Object.assign(new Error(`refused target ${hostname}: ${reason}`), {
            code: 'ESSRF',
          });
          return callback(refused, []);
        }
      }
      if ((options as { all?: boolean }).all) return callback(null, list);
      const first = list[0];
      if (!first)
        return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}
