// What went wrong with a store, in one line a user can act on. The SDKs' errors carry whole HTTP
// exchanges (the Azure SDK's include request headers, with the SAS in the URL); only the status, the
// service's error code and its message are kept, so nothing secret reaches a status or a log.
export function storageErrorMessage(err: unknown): string {
  const e = err as { statusCode?: number; code?: string | number; message?: string; details?: { errorCode?: string; message?: string } };
  // The Google client's errors carry the HTTP status as a numeric code.
  const httpStatus = e.statusCode ?? (typeof e.code === 'number' ? e.code : undefined);
  const code = e.details?.errorCode ?? (typeof e.code === 'string' ? e.code : undefined);
  const status = httpStatus ? `HTTP ${httpStatus}` : undefined;
  const message = (e.details?.message ?? e.message ?? String(err)).split('\n')[0]!.replace(/([?&](?:sig|X-Goog-Signature|X-Amz-Signature)=)[^&\s]+/gi, '$1…').slice(0, 300);
  return [status, code, message].filter(Boolean).join(': ');
}
