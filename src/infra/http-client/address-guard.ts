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
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
] as const;

export class AddressGuard {
  private readonly blocked = new BlockList();
  private readonly allowed = new BlockList();

  constructor(allowNets: readonly string[]) {
    for (const [net, prefix] of PRIVATE_V4) this.blocked.addSubnet(net, prefix, 'ipv4');
    for (const [net, prefix] of PRIVATE_V6) this.blocked.addSubnet(net, prefix, 'ipv6');
    for (const cidr of allowNets) {
      const [net, bits] = cidr.split('/');
      const family = net && isIP(net) === 6 ? 'ipv6' : 'ipv4';
      if (!net || !isIP(net)) throw new Error(`GATEHOUSE_WEBHOOK_ALLOW_NETS: "${cidr}" is not a CIDR`);
      this.allowed.addSubnet(net, Number(bits ?? (family === 'ipv4' ? 32 : 128)), family);
    }
  }

  /** Why `address` may not be used, or undefined when it may. */
  refusal(address: string): string | undefined {
    const family = isIP(address);
    if (family === 0) return `"${address}" is not an IP address`;
    let check = address;
    let type: 'ipv4' | 'ipv6' = family === 4 ? 'ipv4' : 'ipv6';
    // An IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped?.[1]) {
      check = mapped[1];
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
