// Host-key pinning for SFTP: the server's key must be listed for its host in an OpenSSH known_hosts text
// (from the storage Secret). An unknown or changed key is an error, never accepted on first use.
// Supported: plain and hashed (|1|salt|hash) host names, [host]:port for other ports, comma-separated
// names, negation (!host) and @revoked. @cert-authority lines are ignored: certificates are not accepted.
import { createHash, createHmac } from 'node:crypto';

export interface KnownHostKey {
  /** Key type as in known_hosts and the SSH wire format, such as ssh-ed25519. */
  type: string;
  /** The key blob, base64, as in known_hosts. */
  key: string;
  revoked: boolean;
}

/** The keys known_hosts lists for host:port. Throws naming the line when a line cannot be read. */
export function knownKeysFor(knownHosts: string, host: string, port: number): KnownHostKey[] {
  const name = port === 22 ? host : `[${host}]:${port}`;
  const keys: KnownHostKey[] = [];
  knownHosts.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    const marker = fields[0]!.startsWith('@') ? fields.shift() : undefined;
    const [patterns, type, key] = fields;
    if (!patterns || !type || !key || !/^[A-Za-z0-9+/]+={0,2}$/.test(key)) throw new Error(`knownHosts line ${index + 1} is not "host key-type base64-key"`);
    if (marker === '@cert-authority') return;
    if (marker && marker !== '@revoked') throw new Error(`knownHosts line ${index + 1}: unknown marker ${marker}`);
    if (matchesHost(patterns, name)) keys.push({ type, key, revoked: marker === '@revoked' });
  });
  return keys;
}

function matchesHost(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|');
    return Boolean(salt && hash) && createHmac('sha1', Buffer.from(salt!, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    if (!globMatch(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function globMatch(pattern: string, name: string): boolean {
  const regex = pattern.toLowerCase().replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${regex}$`).test(name.toLowerCase());
}

/** How OpenSSH prints a key's fingerprint: SHA256:<base64 without padding>. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Whether the presented key (SSH wire format) is pinned for host:port; the reason when it is not.
 * A revoked key is refused even when another line lists it.
 */
export function verifyHostKey(known: KnownHostKey[], presented: Buffer, where: string): { ok: true } | { ok: false; reason: string } {
  const blob = presented.toString('base64');
  const type = presented.subarray(4, 4 + presented.readUInt32BE(0)).toString();
  if (known.some((k) => k.revoked && k.key === blob)) return { ok: false, reason: `the host key of ${where} (${type} ${fingerprint(presented)}) is marked @revoked in knownHosts` };
  if (known.some((k) => !k.revoked && k.key === blob)) return { ok: true };
  const listed = known.filter((k) => !k.revoked);
  return {
    ok: false,
    reason: listed.length === 0
      ? `knownHosts has no key for ${where}; the server presented ${type} ${fingerprint(presented)} (add it with ssh-keyscan after checking it)`
      : `the host key of ${where} (${type} ${fingerprint(presented)}) does not match the key pinned in knownHosts: it changed, or this is not the server`,
  };
}
