// Addresses a webhook may not reach unless its endpoint says allowLinkLocal: link-local ranges (the
// node's own services) and the cloud metadata addresses (instance credentials). Checked on every
// address the host resolves to, at connect time, so a DNS answer cannot swap in such an address after
// a check (DNS rebinding).
import { BlockList, isIPv4, isIPv6 } from 'node:net';

const restricted = new BlockList();
restricted.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, with AWS/GCP/Azure metadata at 169.254.169.254
restricted.addSubnet('fe80::', 10, 'ipv6'); // link-local
restricted.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6
restricted.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata

/** Why an address is refused, or undefined when it may be used. */
export function restrictedAddressReason(address: string): string | undefined {
  // IPv4-mapped IPv6 (::ffff:169.254.169.254) reaches the IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  const family = isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : undefined;
  if (!family) return `${address} is not an IP address`;
  if (restricted.check(ip, family)) return `${address} is a link-local or cloud metadata address`;
  return undefined;
}
