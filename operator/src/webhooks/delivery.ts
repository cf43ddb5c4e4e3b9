// One delivery attempt of one webhook event: POST the stored body, signed for this attempt, to the
// endpoint, refusing restricted addresses unless the endpoint allows them. Never follows redirects (a
// redirect could lead anywhere); only a 2xx answer counts as delivered.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, fetch } from 'undici';
import type { WebhookSpec } from '@recording-operator/common/api/generated/types.ts';
import { signedHeaders } from '@recording-operator/common/webhooks/signature.ts';
import { restrictedAddressReason } from './address-policy.ts';

export type DeliveryResult = { ok: true; status: number } | { ok: false; error: string };

/** Resolves like the system does, then refuses the connection if any answer is restricted. */
const vettedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 0);
    const refused = addresses.map((a) => restrictedAddressReason(a.address)).find(Boolean);
    if (refused) return callback(Object.assign(new Error(`${hostname} resolves to ${refused}; set allowLinkLocal on the endpoint to allow it`), { code: 'ERESTRICTED' }), '', 0);
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  });
};

const vetted = new Agent({ connect: { lookup: vettedLookup }, keepAliveTimeout: 10_000 });
const unrestricted = new Agent({ keepAliveTimeout: 10_000 });

export const userAgent = 'recording-operator-webhooks/0.1';

export async function deliver(endpoint: Pick<WebhookSpec, 'url' | 'timeoutSeconds' | 'allowLinkLocal'>, key: Buffer, event: { id: string; body: string }): Promise<DeliveryResult> {
  const url = new URL(endpoint.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!endpoint.allowLinkLocal && isIP(host)) {
    const refused = restrictedAddressReason(host);
    if (refused) return { ok: false, error: `${refused}; set allowLinkLocal on the endpoint to allow it` };
  }
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': userAgent, ...signedHeaders(key, event.id, event.body) },
      body: event.body,
      redirect: 'manual',
      dispatcher: endpoint.allowLinkLocal ? unrestricted : vetted,
      signal: AbortSignal.timeout((endpoint.timeoutSeconds ?? 10) * 1000),
    });
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    return { ok: false, error: `HTTP ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}` };
  } catch (err) {
    const e = err as Error & { cause?: Error & { code?: string } };
    if (e.name === 'TimeoutError') return { ok: false, error: `no answer within ${endpoint.timeoutSeconds ?? 10} s` };
    return { ok: false, error: e.cause?.message ?? e.message };
  }
}
