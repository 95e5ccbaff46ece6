// The Dockerfile, checked without a Docker engine (none on these machines): parsed into its
// instructions, then the properties the design asks for: multi-stage with a dev-free runtime
// stage, base images pinned to a supported Node LTS, nothing pulled but the base image, a build
// that does not need the kerberos addon but tries it and says when it failed, a numeric non-root
// user, a HEALTHCHECK that needs only node, krb5 runtime libraries for the kerberos source, one
// writable folder for a read-only root fs, and a header whose `docker run` matches the docs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { bundle } from '../../scripts/bundle.ts';

const execFileP = promisify(execFile);

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  steps: Instruction[];
}

/** Joins continuation lines, drops comments, splits into FROM-delimited stages. */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') && pending === '') continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full) logical.push(full);
  }
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const [op = '', ...rest] = line.split(/\s+/);
    const instruction = { op: op.toUpperCase(), args: rest.join(' ') };
    if (instruction.op === 'ARG' && stages.length === 0) {
      const [k = '', v = ''] = instruction.args.split('=');
      args.set(k, v);
    } else if (instruction.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      assert.ok(m, `FROM ${instruction.args}`);
      stages.push({ from: m[1]!, name: m[2], steps: [] });
    } else {
      assert.ok(stages.length > 0, `${instruction.op} before any FROM`);
      stages.at(-1)!.steps.push(instruction);
    }
  }
  return { args, stages };
}

let text: string;
let args: Map<string, string>;
let stages: Stage[];
let runtime: Stage;
before(async () => {
  text = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
  ({ args, stages } = parseDockerfile(text));
  runtime = stages.at(-1)!;
});

/** End of life of each Node LTS line (nodejs.org's release schedule). */
const NODE_LTS_END: Record<number, string> = {
  20: '2026-04-30',
  22: '2027-04-30',
  24: '2028-04-30',
  26: '2029-04-30',
};

/** A `docker run` / `docker build` command with its continuation lines joined. */
function dockerCommands(lines: string[], verb: 'run' | 'build'): string[] {
  const joined = lines.join('\n').replace(/\\\n#?\s*/g, ' ');
  return [...joined.matchAll(new RegExp(`docker ${verb} [^\\n]*`, 'g'))].map((m) =>
    m[0].replace(/\s+/g, ' ').trim(),
  );
}

const steps = (stage: Stage, op: string) => stage.steps.filter((s) => s.op === op).map((s) => s.args);
const expand = (image: string) => image.replace(/^\$\{(\w+)\}$/, (_m, name: string) => args.get(name) ?? '');

describe('Dockerfile', () => {
  it('is multi-stage; base images are pinned to a Node LTS line that is still supported', async () => {
    assert.ok(stages.length >= 2, 'a build stage and a runtime stage');
    const engines = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')).engines.node;
    const minimum = Number(/^>=(\d+)/.exec(engines)?.[1]);
    for (const stage of stages) {
      if (stages.some((s) => s.name === stage.from)) continue; // FROM an earlier stage
      const image = expand(stage.from);
      const tag = /^[^:@]+(?::([^@]+))?(@sha256:[0-9a-f]{64})?$/.exec(image);
      assert.ok(tag && (tag[1] || tag[2]), `${image} names a tag or digest`);
      assert.notEqual(tag[1], 'latest', `${image} is not :latest`);
      const major = Number(/^(\d+)\.\d+/.exec(tag[1] ?? '')?.[1]);
      const end = NODE_LTS_END[major];
      assert.ok(end, `${image}: a Node LTS line (even major) pinned to a minor version`);
      assert.ok(major >= minimum, `${image}: at least package.json engines ${engines}`);
      assert.ok(
        new Date() < new Date(end),
        `${image}: Node ${major} reached its end of life on ${end}: move on`,
      );
    }
  });

  it('pulls nothing but its base image: no `# syntax=` frontend (a Docker Hub pull on restricted networks)', () => {
    assert.doesNotMatch(text, /^#\s*syntax\s*=/im);
    // every FROM is an earlier stage or the one pinned ARG
    const bases = new Set(
      stages.filter((s) => !stages.some((t) => t.name === s.from)).map((s) => expand(s.from)),
    );
    assert.deepEqual(bases, new Set([args.get('NODE_IMAGE')]));
  });

  it('builds without the kerberos addon, then tries it with the image’s Node headers and says when it failed', () => {
    const build = stages.find((s) => steps(s, 'RUN').some((r) => /\bnpm run build\b/.test(r)));
    assert.ok(build, 'a stage runs npm run build');
    const install = steps(build, 'RUN').find((r) => /\bnpm ci\b/.test(r)) ?? '';
    assert.match(
      install,
      /--ignore-scripts/,
      'the build stage compiles no addon: the build must not depend on it',
    );
    const addon = stages.find((s) => steps(s, 'RUN').some((r) => /npm rebuild kerberos/.test(r)));
    assert.ok(addon, 'a stage builds the kerberos addon');
    // node-gyp finds the headers in the official image instead of downloading them
    const env = [...stages.slice(0, stages.indexOf(addon) + 1)].flatMap((s) => steps(s, 'ENV')).join(' ');
    assert.match(env, /npm_config_nodedir=\/usr\/local\b/);
    const run = steps(addon, 'RUN').find((r) => /npm rebuild kerberos/.test(r))!;
    assert.match(
      run,
      /if npm rebuild kerberos && node -e "require\('kerberos'\)"; then/,
      'the addon must load, not only "rebuild"',
    );
    assert.match(
      run,
      /then cp -r node_modules\/kerberos \/addons\/.*else .*WARNING: the kerberos addon could not be built.*KERBEROS_UNAVAILABLE/,
      'a built addon goes to /addons; a failure says so and leaves /addons empty',
    );
    // The bundle loads it from a node_modules folder above /app/lib (scripts/bundle.ts).
    assert.ok(steps(runtime, 'COPY').includes(`--from=${addon.name} /addons ./node_modules`));
  });

  it('the header’s docker run is the one docs/operations.md documents, and nothing is EXPOSEd that cannot be reached', async () => {
    const header = text.split('\n').filter((l) => l.startsWith('#'));
    const ops = (await readFile(path.join(ROOT, 'docs/operations.md'), 'utf8')).split('\n');
    const documented = dockerCommands(ops, 'run');
    const inHeader = dockerCommands(
      header.map((l) => l.replace(/^#\s?/, '')),
      'run',
    );
    assert.equal(inHeader.length, 1);
    assert.ok(documented.includes(inHeader[0]!), `docs/operations.md shows ${inHeader[0]}`);
    // credentials are served over plain http on loopback only: the apps share the network namespace
    assert.match(inHeader[0]!, /--network host/);
    assert.match(inHeader[0]!, /--read-only/);
    assert.match(
      inHeader[0]!,
      /--tmpfs \/run\/credential-broker:\S*uid=1000/,
      'the tmpfs belongs to the image’s user',
    );
    assert.deepEqual(steps(runtime, 'EXPOSE'), [], 'the default 127.0.0.1:9911 cannot be published');
    // podman: the two things that differ there
    assert.match(text, /--format docker/);
    assert.match(text, /--tmpfs \/run\/credential-broker:U\b/);
  });

  it('builds the bundle with dev dependencies; the runtime stage gets the bundle and its two packages, no node_modules tree', () => {
    const build = stages.find((s) => steps(s, 'RUN').some((r) => /\bnpm ci\b(?!.*--omit=dev)/.test(r)));
    assert.ok(build, 'a stage runs a full npm ci (TypeScript and esbuild)');
    assert.ok(
      steps(build, 'RUN').some((r) => /\bnpm run bundle\b/.test(r)),
      'the build stage runs npm run bundle',
    );
    const copies = steps(runtime, 'COPY');
    for (const c of copies.filter((c) => c.includes('node_modules')))
      assert.match(
        c,
        /node_modules\/xmllint-wasm |^--from=\S+ \/addons /,
        `${c}: only the bundle's external packages`,
      );
    assert.ok(!steps(runtime, 'RUN').some((r) => /\bnpm (ci|install)\b|g\+\+|build-essential/.test(r)));
    assert.ok(
      copies.some((c) => c.startsWith(`--from=${build.name} /src/dist/bundle `)),
      'the bundle is copied',
    );
  });

  it("the runtime stage's files, put where its COPY lines say, run the broker with its ENTRYPOINT", async () => {
    // What `docker build` would put in /app, from this tree (its bundle built here; no Docker
    // engine on these machines): each COPY --from=build /src/X DEST takes X, the addons stage adds
    // nothing (no addon is built here), a plain COPY takes the file from the build context.
    const app = await mkdtemp(path.join(tmpdir(), 'cb-image-'));
    try {
      const built = path.join(app, '.build');
      await bundle(path.join(built, 'dist/bundle/credential-broker.mjs'), {
        version: '0.0.0-image',
        commit: 'test',
      });
      for (const c of steps(runtime, 'COPY')) {
        const words = c.split(/\s+/);
        const from = /^--from=(\S+)$/.exec(words[0]!)?.[1];
        const [src, dest] = from ? [words[1]!, words[2]!] : [words[0]!, words[1]!];
        const to = path.join(app, dest.replace(/^\.\//, ''));
        if (from === 'addons') continue;
        const source = from
          ? src.startsWith('/src/dist/bundle')
            ? path.join(built, src.slice('/src/'.length))
            : path.join(ROOT, src.slice('/src/'.length))
          : path.join(ROOT, src);
        assert.ok(from === undefined || from === 'build', `COPY --from=${from}: a stage this test knows`);
        await cp(source, to, { recursive: true });
      }
      const entrypoint = JSON.parse(steps(runtime, 'ENTRYPOINT').at(-1)!) as string[];
      const [node, ...nodeArgs] = entrypoint;
      assert.equal(node, 'node');
      const script = nodeArgs.at(-1)!;
      assert.ok(script.startsWith('/app/'), script);
      const argv = [...nodeArgs.slice(0, -1), path.join(app, script.slice('/app/'.length))];
      const run = (...args: string[]) => execFileP(process.execPath, [...argv, ...args], { cwd: app });
      assert.match((await run('--version')).stdout, /0\.0\.0-image/);
      // xmllint-wasm, which the bundle cannot hold, loads from where the image puts it.
      const { stdout } = await execFileP(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          "import('xmllint-wasm').then((m) => console.log(typeof m.validateXML))",
        ],
        { cwd: path.join(app, 'lib') },
      );
      assert.equal(stdout.trim(), 'function');
      assert.match((await run('advise', '--has', 'saml')).stdout, /type: saml/);
    } finally {
      await rm(app, { recursive: true, force: true });
    }
  });

  it('the build stage copies every file `npm run build` reads', async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
    const build = stages.find((s) => steps(s, 'RUN').some((r) => /\bnpm run build\b/.test(r)))!;
    const copied = steps(build, 'COPY').flatMap((c) => c.split(/\s+/).slice(0, -1));
    // the paths named on the build script's command line: tsconfig files, scripts/*.ts
    const named = String(pkg.scripts.build)
      .split(/\s+/)
      .filter((w) => /^[\w.-]+(\/[\w.-]+)*\.(json|ts)$/.test(w));
    assert.ok(named.length >= 2, `the build script names its files: ${pkg.scripts.build}`);
    for (const file of named) {
      const top = file.split('/')[0]!;
      assert.ok(
        copied.some((c) => c === file || c === top || c === `${top}/`),
        `npm run build reads ${file}: COPY it (or ${top}/) before the build runs`,
      );
    }
  });

  it('runs as a numeric non-root user (Kubernetes runAsNonRoot can verify it)', () => {
    const user = steps(runtime, 'USER').at(-1);
    assert.ok(user, 'USER in the runtime stage');
    const [uid = '', gid] = user.split(':');
    assert.match(uid, /^\d+$/);
    assert.notEqual(Number(uid), 0);
    if (gid !== undefined) assert.notEqual(Number(gid), 0);
  });

  it('works with a read-only root filesystem: its one writable path is a volume owned by that user', () => {
    const env = steps(runtime, 'ENV').join(' ');
    const dir = /RUNTIME_DIRECTORY=(\S+)/.exec(env)?.[1];
    assert.equal(dir, '/run/credential-broker');
    assert.ok(steps(runtime, 'VOLUME').some((v) => v.includes(dir)));
    const uid = steps(runtime, 'USER').at(-1)?.split(':')[0];
    assert.ok(steps(runtime, 'RUN').some((r) => r.includes(`chown ${uid}`) && r.includes(dir)));
    assert.match(env, /KRB5CCNAME=FILE:\/run\/credential-broker\//, 'the Kerberos cache goes there too');
  });

  it('has the krb5 runtime libraries, a node-only HEALTHCHECK and the serve entrypoint', () => {
    const runs = steps(runtime, 'RUN').join(' ');
    assert.match(runs, /libkrb5-3/);
    assert.match(runs, /libgssapi-krb5-2/);
    assert.match(runs, /rm -rf \/var\/lib\/apt\/lists/, 'apt lists removed: small image');
    const health = steps(runtime, 'HEALTHCHECK').at(-1) ?? '';
    assert.match(health, /CMD \["node", "-e", "fetch\(process\.env\.HEALTHCHECK_URL\)/);
    assert.match(steps(runtime, 'ENV').join(' '), /HEALTHCHECK_URL=http:\/\/127\.0\.0\.1:9911\/healthz/);
    assert.doesNotMatch(health, /curl|wget/);
    assert.equal(
      steps(runtime, 'ENTRYPOINT').at(-1),
      '["node", "--max-semi-space-size=4", "/app/lib/credential-broker.mjs"]',
    );
    assert.match(steps(runtime, 'CMD').at(-1) ?? '', /"serve"/);
  });

  it('.dockerignore keeps node_modules, dist and tests out of the build context', async () => {
    const ignored = (await readFile(path.join(ROOT, '.dockerignore'), 'utf8')).split('\n');
    for (const entry of ['node_modules', 'dist', 'test', '.git']) assert.ok(ignored.includes(entry), entry);
  });
});
