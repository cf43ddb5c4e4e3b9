// Runs a built OCI image as a real container with runc (Debian's), the way containerd would start a
// Pod's container: the image's layers unpacked as the root filesystem, its config's user, entrypoint,
// environment and working directory, plus what a Pod spec adds (read-only root, no capabilities, no new
// privileges, seccomp, emptyDir and Secret mounts). Used to prove the images work under the exact
// security settings the operator puts on recorder Pods.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, type Supervised } from './processes.ts';
import { makeRunDir } from './run-dir.ts';

export interface ImageConfig {
  User?: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
}

interface Manifest {
  config: { digest: string };
  layers: { digest: string; mediaType: string }[];
}

/** The manifest and config of the image tagged `ref` (name:version) in an OCI layout. */
export function readImage(layoutDir: string, ref: string): { manifestDigest: string; manifest: Manifest; config: { config: ImageConfig; rootfs: { diff_ids: string[] } } } {
  const index = JSON.parse(readFileSync(join(layoutDir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref);
  if (!entry) throw new Error(`no image ${ref} in ${layoutDir}: run npm run images`);
  const blob = (digest: string) => readFileSync(join(layoutDir, 'blobs', ...digest.split(':')), 'utf8');
  const manifest = JSON.parse(blob(entry.digest)) as Manifest;
  return { manifestDigest: entry.digest, manifest, config: JSON.parse(blob(manifest.config.digest)) as { config: ImageConfig; rootfs: { diff_ids: string[] } } };
}

/** The image's layers unpacked in order into a root filesystem, cached by manifest digest. */
export function unpackImage(layoutDir: string, ref: string, cacheDir: string): string {
  const { manifestDigest, manifest } = readImage(layoutDir, ref);
  const rootfs = join(cacheDir, `rootfs-${manifestDigest.replace(':', '-')}`);
  if (existsSync(rootfs)) return rootfs;
  const partial = `${rootfs}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  // Our layers hold no whiteouts (each adds files only), so plain extraction in order is the union.
  for (const layer of manifest.layers) execFileSync('tar', ['-xzf', join(layoutDir, 'blobs', ...layer.digest.split(':')), '-C', partial, '--numeric-owner', '--same-owner', '--same-permissions']);
  renameSync(partial, rootfs);
  return rootfs;
}

export interface ContainerMount {
  destination: string;
  /** A host directory (bind mount), or omitted for a tmpfs (emptyDir with medium Memory). */
  source?: string;
  readOnly?: boolean;
  /** tmpfs size, such as 256m. */
  size?: string;
}

export interface ContainerOptions {
  rootfs: string;
  image: ImageConfig;
  /** Added to the image's environment. */
  env?: Record<string, string>;
  mounts: ContainerMount[];
  /** A seccomp profile in the OCI runtime spec's form, such as containerd's default (RuntimeDefault). */
  seccomp?: unknown;
  /** Share the host's network (loopback servers); a Pod would have its own. */
  hostNetwork: boolean;
}

/**
 * Starts the container under runc. The settings are a recorder Pod's: the image's user (non-root), a
 * read-only root filesystem, every capability dropped, no new privileges, and the given mounts.
 */
export function runContainer(name: string, options: ContainerOptions): Supervised & { bundle: string } {
  const bundle = makeRunDir(`oci-${name}`);
  const [uid, gid] = (options.image.User ?? '0:0').split(':').map(Number) as [number, number | undefined];
  const env = [...(options.image.Env ?? []), ...Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`)];
  const spec = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid, gid: gid ?? uid, additionalGids: [gid ?? uid] },
      args: [...(options.image.Entrypoint ?? []), ...(options.image.Cmd ?? [])],
      env,
      cwd: options.image.WorkingDir ?? '/',
      capabilities: { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] },
      noNewPrivileges: true,
    },
    root: { path: options.rootfs, readonly: true },
    hostname: name,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      // containerd's default /dev/shm for a Pod: 64 MiB.
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      // /etc/hosts and /etc/resolv.conf come from the kubelet in a Pod; the host's here.
      { destination: '/etc/hosts', type: 'bind', source: '/etc/hosts', options: ['rbind', 'ro'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: '/etc/resolv.conf', options: ['rbind', 'ro'] },
      ...options.mounts.map((m) => (m.source
        ? { destination: m.destination, type: 'bind', source: m.source, options: ['rbind', m.readOnly ? 'ro' : 'rw', 'nosuid', 'nodev'] }
        : { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', `mode=1777`, `size=${m.size ?? '256m'}`] })),
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, ...(options.hostNetwork ? [] : [{ type: 'network' }])],
      maskedPaths: ['/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'],
      readonlyPaths: ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
      ...(options.seccomp ? { seccomp: options.seccomp } : {}),
    },
  };
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
  const id = `${name}-${Date.now().toString(36)}`;
  const proc = startProcess(`runc ${name}`, 'runc', ['--root', join(bundle, 'state'), 'run', '--bundle', bundle, id], join(bundle, 'container.log'));
  const stop = proc.stop.bind(proc);
  return {
    ...proc,
    bundle,
    async stop(graceMs?: number) {
      // runc forwards signals to the container's init; make sure nothing outlives the test.
      try {
        execFileSync('runc', ['--root', join(bundle, 'state'), 'kill', id, 'KILL'], { stdio: 'ignore' });
      } catch {
        // already gone
      }
      await stop(graceMs);
    },
  };
}
