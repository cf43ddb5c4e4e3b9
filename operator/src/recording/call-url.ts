// The page a Recording opens: its spec.url, the CallType's callUrlTemplate with the call id, or the
// custom layout app, plus the layout name and options in the query string (the page contract). It
// must fall under the CallType's allowedUrls or the template's own origin: nothing else is opened. Pure.
import type { CallType, Recording } from '@recording-operator/common/api/generated/types.ts';
import type { EffectiveSettings } from './effective-settings.ts';
import { SettingsError } from './effective-settings.ts';

function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? encodeURIComponent(values[name]!) : whole));
}

/** Whether url falls under an allowed prefix; a prefix host may start with "*." for any subdomain. */
export function urlAllowed(url: string, allowed: readonly string[]): boolean {
  const target = new URL(url);
  return allowed.some((pattern) => {
    const wildcard = /^(https?:\/\/)\*\.(.*)$/.exec(pattern);
    const prefix = new URL(wildcard ? `${wildcard[1]}x.${wildcard[2]}` : pattern);
    if (prefix.protocol !== target.protocol || prefix.port !== target.port) return false;
    const hostOk = wildcard ? target.hostname.endsWith(`.${prefix.hostname.slice(2)}`) : target.hostname === prefix.hostname;
    return hostOk && target.pathname.startsWith(prefix.pathname === '/' ? '/' : prefix.pathname);
  });
}

export function callUrl(callType: Pick<CallType, 'metadata' | 'spec'>, recording: Pick<Recording, 'spec'>, settings: EffectiveSettings): string {
  const { spec } = recording;
  const layoutName = settings.layout.name;
  const base =
    layoutName === 'custom' && settings.layout.externalAppUrl
      ? settings.layout.externalAppUrl
      : spec.url ?? renderTemplate(callType.spec.callUrlTemplate, { callId: spec.callId ?? '', callType: callType.metadata?.name ?? '', layout: layoutName });
  const templateOrigin = new URL(callType.spec.callUrlTemplate.replace(/\{\w+\}/g, 'x')).origin;
  const allowed = [`${templateOrigin}/`, ...(callType.spec.allowedUrls ?? [])];
  if (!urlAllowed(base, allowed)) {
    throw new SettingsError(`${spec.url ? 'spec.url' : 'the page'} ${new URL(base).origin}${new URL(base).pathname} is not in the CallType's allowedUrls (allowed: ${allowed.join(', ')})`);
  }
  const url = new URL(base);
  if (!url.searchParams.has('layout')) url.searchParams.set('layout', layoutName);
  if (spec.callId && layoutName === 'custom') url.searchParams.set('call_id', spec.callId);
  for (const [key, value] of Object.entries(settings.layout.options)) url.searchParams.set(key, String(value));
  return url.toString();
}
