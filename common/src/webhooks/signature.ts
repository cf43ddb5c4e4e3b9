// Standard Webhooks signatures (standardwebhooks.com), used both ways: the operator signs the recording
// events it sends and verifies the call events it receives. The signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", HMAC-SHA256 with the key, sent as "v1,<base64>" in the
// webhook-signature header (several space-separated signatures are allowed, for key rotation).
import { createHmac, timingSafeEqual } from 'node:crypto';

export const signatureHeaders = { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' } as const;

/** How far a webhook-timestamp may be from the receiver's clock before the message counts as a replay. */
export const defaultToleranceSeconds = 300;

/** The key bytes of a Secret value: "whsec_<base64>" (the Standard Webhooks format) or the raw value. */
export function signingKey(secretValue: string | Buffer): Buffer {
  const text = Buffer.isBuffer(secretValue) ? secretValue.toString('utf8') : secretValue;
  if (text.startsWith('whsec_')) return Buffer.from(text.slice('whsec_'.length), 'base64');
  return Buffer.isBuffer(secretValue) ? secretValue : Buffer.from(secretValue, 'utf8');
}

export function sign(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/** The three headers for one delivery attempt. */
export function signedHeaders(key: Buffer, id: string, body: string, now = new Date()): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return { [signatureHeaders.id]: id, [signatureHeaders.timestamp]: String(timestamp), [signatureHeaders.signature]: sign(key, id, timestamp, body) };
}

export type VerifyFailure = { ok: false; reason: string };

/**
 * Checks a received message: all three headers present, the timestamp within the tolerance (an older
 * message is a replay), and one of the v1 signatures made with the key. The reasons name the header.
 */
export function verify(key: Buffer, headers: Record<string, string | string[] | undefined>, body: string, options: { now?: Date; toleranceSeconds?: number } = {}): { ok: true; id: string; timestamp: number } | VerifyFailure {
  const header = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const id = header(signatureHeaders.id);
  const timestampText = header(signatureHeaders.timestamp);
  const signatures = header(signatureHeaders.signature);
  if (!id) return { ok: false, reason: `missing ${signatureHeaders.id} header` };
  if (!timestampText || !/^\d{1,12}$/.test(timestampText)) return { ok: false, reason: `missing or malformed ${signatureHeaders.timestamp} header (Unix seconds)` };
  if (!signatures) return { ok: false, reason: `missing ${signatureHeaders.signature} header` };
  const timestamp = Number(timestampText);
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const tolerance = options.toleranceSeconds ?? defaultToleranceSeconds;
  if (Math.abs(nowSeconds - timestamp) > tolerance) {
    return { ok: false, reason: `${signatureHeaders.timestamp} ${timestamp} is ${nowSeconds - timestamp} s from now, outside the ${tolerance} s tolerance (stale or replayed message)` };
  }
  const expected = Buffer.from(sign(key, id, timestamp, body).slice(3), 'base64');
  for (const candidate of signatures.split(' ')) {
    const [version, value] = candidate.split(',', 2);
    if (version !== 'v1' || !value) continue;
    const given = Buffer.from(value, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true, id, timestamp };
  }
  return { ok: false, reason: `${signatureHeaders.signature} does not match: no v1 signature made with the key over "<id>.<timestamp>.<body>"` };
}
