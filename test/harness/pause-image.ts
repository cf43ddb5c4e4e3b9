// The Pod sandbox image for the test node. containerd starts one "pause" container per Pod to hold its
// namespaces, normally pulled from registry.k8s.io; no registry is reachable here, so this builds the same
// thing from test/tools/pause (a static Go binary): an OCI archive with one layer holding /pause, named
// as containerd's sandbox_image, ready for `ctr images import`. Cached by the binary's hash.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pauseBinary } from './assets.ts';
import { cacheDir } from './paths.ts';

export const pauseImageName = 'registry.k8s.io/pause:3.10';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export function pauseImageArchive(): string {
  const binary = readFileSync(pauseBinary());
  const archive = join(cacheDir, 'images', `pause-${sha256(binary).slice(0, 16)}.oci.tar`);
  if (existsSync(archive)) return archive;
  const work = `${archive}.build`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'rootfs'), { recursive: true });
  mkdirSync(join(work, 'oci', 'blobs', 'sha256'), { recursive: true });
  copyFileSync(pauseBinary(), join(work, 'rootfs', 'pause'));
  execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', join(work, 'rootfs'), '-cf', join(work, 'layer.tar'), '.']);
  const blob = (content: Buffer | string) => {
    const digest = sha256(content);
    writeFileSync(join(work, 'oci', 'blobs', 'sha256', digest), content);
    return { digest: `sha256:${digest}`, size: Buffer.byteLength(content) };
  };
  const layerBytes = readFileSync(join(work, 'layer.tar'));
  const layer = blob(layerBytes);
  const config = blob(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Entrypoint: ['/pause'], User: '65535:65535' }, rootfs: { type: 'layers', diff_ids: [layer.digest] } }));
  const manifest = blob(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  }));
  writeFileSync(join(work, 'oci', 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(work, 'oci', 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'io.containerd.image.name': pauseImageName, 'org.opencontainers.image.ref.name': '3.10' } }] }));
  execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', join(work, 'oci'), '-cf', `${archive}.partial`, '.']);
  renameSync(`${archive}.partial`, archive);
  rmSync(work, { recursive: true, force: true });
  return archive;
}
