// `npm run images [-- recorder|operator]`: builds the recorder and operator images without Docker or a
// registry, as OCI image layouts, reproducibly (the same inputs give the same digests) and cached.
//
// Layers, each a gzipped tar with sorted names, owner 0 and fixed times:
//   1. Debian bookworm from Debian's packages (mmdebstrap, minbase, no docs/man/locales), with the image's
//      user in /etc/passwd: what `apt-get install` in the Dockerfiles would add to node:24-bookworm-slim;
//   2. Node 24: the binary of the node@24 npm package the project already runs on, stripped;
//   3. the application: production node_modules (npm ci --omit=dev) and the sources (recorder) or the
//      built JavaScript (scripts/build-js.ts).
// Output: $CACHE/images/oci (one OCI layout holding both images, tagged recorder:<version> and
// operator:<version>) and $CACHE/images/<name>.oci.tar (that image alone, for `ctr images import` or
// `skopeo copy oci-archive:`). The Dockerfiles describe the same images for users with Docker.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const cache = process.env.RECORDING_OPERATOR_CACHE ?? join(homedir(), '.cache', 'recording-operator');
const imagesDir = join(cache, 'images');
const layerDir = join(imagesDir, 'layers');
const layoutDir = join(imagesDir, 'oci');
const version = (JSON.parse(readFileSync(join(root, 'operator', 'package.json'), 'utf8')) as { version: string }).version;
const log = (message: string) => console.error(`[images] ${message}`);
/** Part of every cache key: a change to how layers are made rebuilds them. */
const scriptHash = createHash('sha256').update(readFileSync(import.meta.filename)).digest('hex').slice(0, 8);

interface ImageSpec {
  name: 'recorder' | 'operator';
  /** Debian packages beyond minbase. */
  packages: string[];
  /** Paths of those packages never unpacked (dpkg path-exclude), with why. */
  excludes?: string[];
  user: { name: string; uid: number };
  workspaces: string[];
  /** Fills the application directory (node_modules already there). */
  addApplication(appDir: string): void;
  /** Directories the image must have, owned by the user (mount points). */
  ownedDirs: string[];
  /** Shell commands run on the finished Debian tree ("$1"), after the packages are in. */
  customize?: string[];
  config: { Entrypoint: string[]; Env: string[]; ExposedPorts: Record<string, object> };
}

const images: ImageSpec[] = [
  {
    name: 'recorder',
    packages: ['chromium', 'ffmpeg', 'xvfb', 'pulseaudio', 'pulseaudio-utils', 'util-linux', 'ca-certificates', 'fonts-noto-core', 'fonts-noto-cjk', 'fonts-noto-color-emoji'],
    // Mesa's OpenGL drivers and the LLVM they compile shaders with (160 MB with z3): Xvfb pulls them in
    // for GLX, but Chromium runs with --disable-gpu and draws in software, and nothing else uses GL.
    excludes: ['/usr/lib/x86_64-linux-gnu/dri/*', '/usr/lib/x86_64-linux-gnu/libLLVM-15.so*', '/usr/lib/x86_64-linux-gnu/libz3.so*'],
    user: { name: 'recorder', uid: 10001 },
    workspaces: ['common', 'recorder-image'],
    addApplication(appDir) {
      execFileSync(process.execPath, ['--no-warnings', join(root, 'scripts', 'build-js.ts'), 'recorder-image', join(appDir, 'dist')], { stdio: 'inherit' });
    },
    // /recordings holds capture files until their upload is confirmed (an emptyDir in the Pod).
    ownedDirs: ['recordings'],
    // Fontconfig's cache of the fonts, which Debian's trigger did not leave in the tree: without it every
    // Chromium start scanned all of them (0.3 s of its 0.6 s in a container; the read-only root and a
    // fresh HOME keep nothing from one start to the next). A cache is valid only for its directories'
    // mtimes, and the layer's tar clamps every time to SOURCE_DATE_EPOCH (0): the directories get that
    // mtime before the cache is made, so the cache matches them in the image.
    customize: ['mkdir -p "$1"/usr/local/share/fonts', 'find "$1"/usr/share/fonts "$1"/usr/local/share/fonts -type d -exec touch -h -d @0 {} +', 'chroot "$1" fc-cache --system-only --really-force'],
    config: {
      // A 1 MB young generation: the recorder's Node process allocates little, and PSS drops ~18 MB (bench).
      Entrypoint: ['node', '--max-semi-space-size=1', 'dist/recorder-image/src/main.js'],
      Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'NODE_ENV=production', 'CHROMIUM_PATH=/usr/bin/chromium'],
      ExposedPorts: { '8080/tcp': {} },
    },
  },
  {
    name: 'operator',
    packages: ['ca-certificates'],
    user: { name: 'nonroot', uid: 65532 },
    workspaces: ['common', 'operator'],
    addApplication(appDir) {
      execFileSync(process.execPath, ['--no-warnings', join(root, 'scripts', 'build-js.ts'), 'operator', join(appDir, 'dist')], { stdio: 'inherit' });
    },
    ownedDirs: [],
    config: {
      // The V8 settings measured by `npm run bench operator`: 1,000 Recordings in 144 MB peak RSS.
      Entrypoint: ['node', '--max-semi-space-size=1', '--max-old-space-size=96', '--optimize-for-size', 'dist/operator/src/main.js'],
      Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'NODE_ENV=production'],
      ExposedPorts: { '8081/tcp': {} },
    },
  },
];

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const fileSha256 = (path: string) => execFileSync('sha256sum', [path], { encoding: 'utf8' }).split(' ')[0]!;

interface Layer {
  /** sha256 of the gzipped tar (the blob). */
  digest: string;
  /** sha256 of the tar (the config's diff_id). */
  diffId: string;
  size: number;
  uncompressedSize: number;
  createdBy: string;
}

/**
 * A layer from a directory, cached by `key`: a tar with sorted names, numeric owner 0, mtime 0 and no
 * atime/ctime, gzipped without a name or time, so the same tree always gives the same digest.
 */
function layerFrom(key: string, createdBy: string, fill: (dir: string) => void, tarFrom?: (tarPath: string) => void): Layer {
  const meta = join(layerDir, `${key}.json`);
  // IMAGES_REBUILD=1 builds the Node and application layers again even when cached (the Debian layers,
  // minutes each, stay cached): the test of reproducibility uses it.
  const rebuild = process.env.IMAGES_REBUILD === '1' && !tarFrom;
  if (existsSync(meta) && !rebuild) return JSON.parse(readFileSync(meta, 'utf8')) as Layer;
  mkdirSync(layerDir, { recursive: true });
  const tarPath = join(layerDir, `${key}.tar`);
  if (tarFrom) {
    tarFrom(tarPath);
  } else {
    const dir = join(layerDir, `${key}.tree`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    fill(dir);
    execFileSync('tar', ['--sort=name', '--mtime=@0', '--clamp-mtime', '--owner=0', '--group=0', '--numeric-owner', '--format=pax', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '-C', dir, '-cf', tarPath, '.']);
    rmSync(dir, { recursive: true, force: true });
  }
  const diffId = fileSha256(tarPath);
  const uncompressedSize = statSync(tarPath).size;
  execFileSync('gzip', ['-n', '-6', '-f', tarPath]);
  const digest = fileSha256(`${tarPath}.gz`);
  const blob = join(layoutDir, 'blobs', 'sha256', digest);
  mkdirSync(dirname(blob), { recursive: true });
  renameSync(`${tarPath}.gz`, blob);
  const layer: Layer = { digest, diffId, size: statSync(blob).size, uncompressedSize, createdBy };
  writeFileSync(meta, JSON.stringify(layer));
  return layer;
}

function debianLayer(image: ImageSpec): Layer {
  const sources = readFileSync('/etc/apt/sources.list.d/debian.sources', 'utf8');
  const mmdebstrapVersion = execFileSync('mmdebstrap', ['--version'], { encoding: 'utf8' }).trim();
  const hook = [
    'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*',
    // The user by hand rather than useradd, which stamps today's date into /etc/shadow.
    `echo '${image.user.name}:x:${image.user.uid}:${image.user.uid}::/home/${image.user.name}:/usr/sbin/nologin' >> "$1"/etc/passwd`,
    `echo '${image.user.name}:x:${image.user.uid}:' >> "$1"/etc/group`,
    `mkdir -p "$1"/home/${image.user.name} && chown ${image.user.uid}:${image.user.uid} "$1"/home/${image.user.name}`,
    ...image.ownedDirs.map((dir) => `mkdir -p "$1"/${dir} && chown ${image.user.uid}:${image.user.uid} "$1"/${dir}`),
    ...(image.customize ?? []),
  ];
  const args = [
    '--variant=minbase', `--include=${image.packages.join(',')}`,
    '--dpkgopt=path-exclude=/usr/share/doc/*', '--dpkgopt=path-exclude=/usr/share/man/*', '--dpkgopt=path-exclude=/usr/share/info/*',
    '--dpkgopt=path-exclude=/usr/share/locale/*', '--dpkgopt=path-include=/usr/share/locale/locale.alias',
    ...(image.excludes ?? []).map((path) => `--dpkgopt=path-exclude=${path}`),
    ...hook.map((h) => `--customize-hook=${h}`),
    'bookworm',
  ];
  const key = `debian-${image.name}-${sha256(JSON.stringify([args, sources, mmdebstrapVersion])).slice(0, 16)}`;
  return layerFrom(key, `mmdebstrap ${args.join(' ')}`, () => undefined, (tarPath) => {
    log(`building the Debian layer of ${image.name} with mmdebstrap (a minute or two)`);
    // SOURCE_DATE_EPOCH makes mmdebstrap clamp times and sort its tar: the same packages give the same bytes.
    execFileSync('mmdebstrap', [...args, tarPath, '/etc/apt/sources.list.d/debian.sources'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SOURCE_DATE_EPOCH: '0' } });
  });
}

function nodeLayer(): Layer {
  const node = join(root, 'node_modules', 'node', 'bin', 'node');
  const key = `node-${scriptHash}-${fileSha256(node).slice(0, 16)}`;
  return layerFrom(key, 'node (from the node@24 npm package, stripped)', (dir) => {
    mkdirSync(join(dir, 'usr', 'local', 'bin'), { recursive: true });
    copyFileSync(node, join(dir, 'usr', 'local', 'bin', 'node'));
    execFileSync('strip', [join(dir, 'usr', 'local', 'bin', 'node')]);
  });
}

function applicationLayer(image: ImageSpec): Layer {
  const manifests = ['package.json', 'package-lock.json', 'common/package.json', 'operator/package.json', 'recorder-image/package.json'];
  const sources = execFileSync('git', ['ls-files', '-s', 'common/src', 'operator/src', 'recorder-image/src', 'scripts/build-js.ts'], { cwd: root, encoding: 'utf8' });
  const dirty = execFileSync('git', ['status', '--porcelain', 'common/src', 'operator/src', 'recorder-image/src', ...manifests], { cwd: root, encoding: 'utf8' });
  const key = `app-${image.name}-${scriptHash}-${sha256([...manifests.map((m) => readFileSync(join(root, m), 'utf8')), sources, dirty ? `${dirty}${Date.now()}` : ''].join('\n')).slice(0, 16)}`;
  return layerFrom(key, `npm ci --omit=dev --workspace ${image.workspaces.join(' --workspace ')}; the ${image.name}`, (dir) => {
    log(`building the application layer of ${image.name}`);
    const app = join(dir, 'app');
    for (const m of manifests) {
      mkdirSync(dirname(join(app, m)), { recursive: true });
      copyFileSync(join(root, m), join(app, m));
    }
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', ...image.workspaces.flatMap((w) => ['--workspace', w])], { cwd: app, stdio: ['ignore', 'ignore', 'inherit'] });
    // What only editors and debuggers read: type declarations, source maps, docs.
    execFileSync('find', [join(app, 'node_modules'), '-type', 'f', '(', '-name', '*.d.ts', '-o', '-name', '*.d.mts', '-o', '-name', '*.d.cts', '-o', '-name', '*.map', '-o', '-iname', '*.md', ')', '-delete']);
    image.addApplication(app);
  });
}

function buildImage(image: ImageSpec): { manifestDigest: string; manifestSize: number; size: number; uncompressedSize: number; layers: Layer[] } {
  const layers = [debianLayer(image), nodeLayer(), applicationLayer(image)];
  const epoch = '1970-01-01T00:00:00Z';
  const config = {
    created: epoch,
    architecture: 'amd64',
    os: 'linux',
    config: { User: `${image.user.uid}:${image.user.uid}`, WorkingDir: '/app', ...image.config, Labels: { 'org.opencontainers.image.title': `recording-operator ${image.name}`, 'org.opencontainers.image.version': version } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${l.diffId}`) },
    history: layers.map((l) => ({ created: epoch, created_by: l.createdBy })),
  };
  const configBlob = writeBlob(JSON.stringify(config));
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${configBlob.digest}`, size: configBlob.size },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${l.digest}`, size: l.size })),
  };
  const manifestBlob = writeBlob(JSON.stringify(manifest));
  return { manifestDigest: manifestBlob.digest, manifestSize: manifestBlob.size, size: manifestBlob.size + configBlob.size + layers.reduce((s, l) => s + l.size, 0), uncompressedSize: layers.reduce((s, l) => s + l.uncompressedSize, 0), layers };
}

function writeBlob(content: string): { digest: string; size: number } {
  const digest = sha256(content);
  const path = join(layoutDir, 'blobs', 'sha256', digest);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return { digest, size: Buffer.byteLength(content) };
}

/** The blobs (hex sha256) an image is made of: its manifest, its config and its layers. */
function blobsOf(manifestDigest: string): string[] {
  const manifest = JSON.parse(readFileSync(join(layoutDir, 'blobs', 'sha256', manifestDigest), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  return [manifestDigest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)].map((d) => d.replace(/^sha256:/, ''));
}

/** index.json entry for an image, named as `ctr images import` and skopeo expect. */
const indexEntry = (name: string, manifestDigest: string, size: number) => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${manifestDigest}`,
  size,
  annotations: { 'org.opencontainers.image.ref.name': `${name}:${version}`, 'io.containerd.image.name': `docker.io/recording-operator/${name}:${version}` },
});

const wanted = process.argv[2] ? images.filter((i) => i.name === process.argv[2]) : images;
if (wanted.length === 0) throw new Error(`usage: npm run images [-- recorder|operator]`);
mkdirSync(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
writeFileSync(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
const indexPath = join(layoutDir, 'index.json');
const index = existsSync(indexPath) ? (JSON.parse(readFileSync(indexPath, 'utf8')) as { manifests: ReturnType<typeof indexEntry>[] }) : { manifests: [] };
for (const image of wanted) {
  const built = buildImage(image);
  const entry = indexEntry(image.name, built.manifestDigest, built.manifestSize);
  index.manifests = [...index.manifests.filter((m) => !m.annotations['org.opencontainers.image.ref.name'].startsWith(`${image.name}:`)), entry];
  // The image alone as an OCI archive: its blobs and an index naming it.
  const single = join(imagesDir, `${image.name}.oci`);
  rmSync(single, { recursive: true, force: true });
  mkdirSync(join(single, 'blobs', 'sha256'), { recursive: true });
  for (const digest of blobsOf(built.manifestDigest)) {
    execFileSync('ln', ['-f', join(layoutDir, 'blobs', 'sha256', digest), join(single, 'blobs', 'sha256', digest)]);
  }
  writeFileSync(join(single, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(single, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
  execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=pax', '--pax-option=delete=atime,delete=ctime', '-C', single, '-cf', join(imagesDir, `${image.name}.oci.tar`), '.']);
  rmSync(single, { recursive: true, force: true });
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  console.log(`${image.name}:${version} sha256:${built.manifestDigest} ${mb(built.size)} compressed, ${mb(built.uncompressedSize)} unpacked (${built.layers.map((l) => `${l.createdBy.split(' ')[0]} ${mb(l.uncompressedSize)}`).join(', ')}) → ${join(imagesDir, `${image.name}.oci.tar`)}`);
}
writeFileSync(indexPath, JSON.stringify({ schemaVersion: 2, manifests: index.manifests }));
removeUnreferenced(index.manifests.map((m) => m.digest.slice(7)));

/**
 * Deletes blobs no tagged image uses any more, the cache entries of their layers and the root filesystems
 * unpacked from older images, so rebuilds after edits do not pile up hundreds of MB each.
 */
function removeUnreferenced(manifestDigests: string[]): void {
  const keep = new Set(manifestDigests.flatMap(blobsOf));
  for (const blob of readdirSync(join(layoutDir, 'blobs', 'sha256'))) {
    if (!keep.has(blob)) rmSync(join(layoutDir, 'blobs', 'sha256', blob));
  }
  // Root filesystems the tests unpacked (test/harness/oci-run.ts), named after their manifest.
  for (const dir of readdirSync(imagesDir).filter((f) => f.startsWith('rootfs-sha256-'))) {
    if (!manifestDigests.includes(dir.slice('rootfs-sha256-'.length).replace(/\.partial$/, ''))) rmSync(join(imagesDir, dir), { recursive: true, force: true });
  }
  for (const meta of readdirSync(layerDir).filter((f) => f.endsWith('.json'))) {
    const layer = JSON.parse(readFileSync(join(layerDir, meta), 'utf8')) as Layer;
    if (!keep.has(layer.digest)) rmSync(join(layerDir, meta));
  }
}
