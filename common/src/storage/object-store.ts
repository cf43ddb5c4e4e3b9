// One interface over the object stores a recording can go to, used by the recorder (upload and confirm)
// and by the operator (reachability, signed download URLs, deletion). Each backend keeps the same
// guarantees: the sha256 of the local file is stored with the object, and an upload counts only when the
// stored size and sha256 match.

/** Where recordings go: the parts of a storage spec a store needs, endpoint already resolved. */
export type StoreEndpoint =
  | { type: 's3'; endpoint: string; region: string; bucket: string; forcePathStyle: boolean }
  /** endpoint: the blob service URL, https://<account>.blob.core.windows.net (Azurite: http://host:port/<account>). bucket: the container. */
  | { type: 'azure'; endpoint: string; bucket: string }
  /** endpoint: https://storage.googleapis.com, or an emulator's URL (then requests are not signed: emulators take none). */
  | { type: 'gcs'; endpoint: string; bucket: string }
  /** endpoint: sftp://host[:port]. Keys are paths relative to the login directory. */
  | { type: 'sftp'; endpoint: string };

export type StoreCredentials =
  | { type: 's3'; accessKey: string; secretKey: string; sessionToken?: string }
  /** An account key signs requests and can issue SAS tokens; a SAS token only does what it allows. */
  | { type: 'azure'; accountName: string; accountKey: string }
  | { type: 'azure'; sasToken: string }
  /** A service account's JSON key: it gets access tokens and signs V4 download URLs. */
  | { type: 'gcs'; clientEmail: string; privateKey: string; projectId?: string }
  /** knownHosts pins the server's host key (OpenSSH known_hosts format); a privateKey wins over a password. */
  | { type: 'sftp'; username: string; knownHosts: string; privateKey?: string; passphrase?: string; password?: string };

export interface StoredObject {
  size: number;
  /** The sha256 recorded with the object at upload, when there is one. */
  sha256?: string;
}

export interface ObjectStore {
  /** What a location names after its scheme: the bucket, the container, or host[:port] for sftp. */
  readonly bucket: string;
  /** How status.output.location names a key: s3://bucket/key, gcs://bucket/key, azure://container/key, sftp://host:port/key. */
  location(key: string): string;
  /** Uploads a local file, recording its sha256 with it. */
  put(key: string, path: string, contentType: string, sha256: string): Promise<void>;
  stat(key: string): Promise<StoredObject>;
  /** A URL that downloads the object without credentials, for `seconds`; rejects with NoDownloadUrlError where there are none (sftp). */
  signedGetUrl(key: string, seconds: number): Promise<string>;
  /** Removes the object; a missing object is not an error. */
  remove(key: string): Promise<void>;
  /** Resolves when the bucket or container answers to these credentials; rejects with the reason (the caller names the bucket). */
  checkReachable(): Promise<void>;
}

/** A location from status.output: its store type, bucket (container) and key. */
export function parseLocation(location: string): { type: StoreEndpoint['type']; bucket: string; key: string } | undefined {
  const m = /^(s3|gcs|azure|sftp):\/\/([^/]+)\/(.+)$/.exec(location);
  return m ? { type: m[1] as StoreEndpoint['type'], bucket: m[2]!, key: m[3]! } : undefined;
}

/** signedGetUrl of a store that has no download URLs (sftp); status.output says so instead. */
export class NoDownloadUrlError extends Error {}
