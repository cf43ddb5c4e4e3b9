// What went wrong with a store, in one line a user can act on. The SDKs' errors carry whole HTTP
// exchanges (the Azure SDK's include request headers, with the SAS in the URL); only the status, the
// service's error code and its message are kept, so nothing secret reaches a status or a log.
export function storageErrorMessage(err: unknown): string {
  const e = err as { statusCode?: number; code?: string; message?: string; details?: { errorCode?: string; message?: string } };
  const code = e.details?.errorCode ?? e.code;
  const status = e.statusCode ? `HTTP ${e.statusCode}` : undefined;
  const message = (e.details?.message ?? e.message ?? String(err)).split('\n')[0]!.replace(/([?&]sig=)[^&\s]+/g, '$1…').slice(0, 300);
  return [status, code, message].filter(Boolean).join(': ');
}
