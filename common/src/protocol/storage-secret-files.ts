// How a recorder's storage credentials travel: the operator writes them as files of the recorder's
// Secret (recorderSecretFiles), the recorder reads them back. Both directions live here so they cannot
// drift apart.
import { parseServiceAccountKey } from '../storage/gcs-key.ts';
import type { StoreCredentials, StoreEndpoint } from '../storage/object-store.ts';
import { recorderSecretFiles as files } from './recorder-config.ts';

/** The recorder Secret's storage files for these credentials. */
export function storageSecretFiles(credentials: StoreCredentials): Record<string, string> {
  switch (credentials.type) {
    case 's3':
      return {
        [files.storageAccessKeyId]: credentials.accessKey,
        [files.storageSecretAccessKey]: credentials.secretKey,
        ...(credentials.sessionToken ? { [files.storageSessionToken]: credentials.sessionToken } : {}),
      };
    case 'azure':
      if (!('sasToken' in credentials)) throw new Error('a recorder gets a SAS token for azure storage, never the account key');
      return { [files.storageAzureSasToken]: credentials.sasToken };
    case 'gcs':
      return { [files.storageGcsServiceAccountKey]: JSON.stringify({ type: 'service_account', client_email: credentials.clientEmail, private_key: credentials.privateKey, project_id: credentials.projectId }) };
    case 'sftp':
      return {
        [files.storageSftpUsername]: credentials.username,
        [files.storageSftpKnownHosts]: credentials.knownHosts,
        ...(credentials.privateKey ? { [files.storageSftpPrivateKey]: credentials.privateKey } : {}),
        ...(credentials.passphrase ? { [files.storageSftpPassphrase]: credentials.passphrase } : {}),
        ...(credentials.password ? { [files.storageSftpPassword]: credentials.password } : {}),
      };
  }
}

/**
 * The credentials for a storage type from the Secret's files; `read(file, required)` returns a file's
 * content (undefined for a missing optional one) and throws for a missing required one.
 */
export function storageCredentialsFromFiles(type: StoreEndpoint['type'], read: (file: string, required: boolean) => string | undefined): StoreCredentials {
  const required = (file: string) => read(file, true)!;
  switch (type) {
    case 's3':
      return { type, accessKey: required(files.storageAccessKeyId), secretKey: required(files.storageSecretAccessKey), sessionToken: read(files.storageSessionToken, false) };
    case 'azure':
      return { type, sasToken: required(files.storageAzureSasToken) };
    case 'gcs':
      try {
        return parseServiceAccountKey(required(files.storageGcsServiceAccountKey));
      } catch (err) {
        throw new Error(`secret file ${files.storageGcsServiceAccountKey} ${(err as Error).message}`, { cause: err });
      }
    case 'sftp': {
      const privateKey = read(files.storageSftpPrivateKey, false);
      const password = read(files.storageSftpPassword, false);
      if (!privateKey && !password) throw new Error(`neither secret file ${files.storageSftpPrivateKey} nor ${files.storageSftpPassword} is there`);
      return { type, username: required(files.storageSftpUsername), knownHosts: required(files.storageSftpKnownHosts), privateKey, passphrase: read(files.storageSftpPassphrase, false), password };
    }
  }
}
