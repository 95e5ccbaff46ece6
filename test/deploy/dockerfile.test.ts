// The Dockerfile, checked without a Docker engine (none on these machines): parsed into its
// instructions, then the properties the design asks for: multi-stage with a dev-free runtime
// stage, pinned base images, a numeric non-root user, a HEALTHCHECK that needs only node, krb5
// runtime libraries for the kerberos source, and one writable folder for a read-only root fs.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

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

let args: Map<string, string>;
let stages: Stage[];
let runtime: Stage;
before(async () => {
  ({ args, stages } = parseDockerfile(await readFile(path.join(ROOT, 'Dockerfile'), 'utf8')));
  runtime = stages.at(-1)!;
});

const steps = (stage: Stage, op: string) => stage.steps.filter((s) => s.op === op).map((s) => s.args);
const expand = (image: string) => image.replace(/^\$\{(\w+)\}$/, (_m, name: string) => args.get(name) ?? '');

describe('Dockerfile', () => {
  it('is multi-stage; base images are pinned to a version, never latest', () => {
    assert.ok(stages.length >= 2, 'a build stage and a runtime stage');
    for (const stage of stages) {
      if (stages.some((s) => s.name === stage.from)) continue; // FROM an earlier stage
      const image = expand(stage.from);
      const tag = /^[^:@]+(?::([^@]+))?(@sha256:[0-9a-f]{64})?$/.exec(image);
      assert.ok(tag && (tag[1] || tag[2]), `${image} names a tag or digest`);
      assert.notEqual(tag[1], 'latest', `${image} is not :latest`);
      assert.match(tag[1] ?? '', /^20\.\d+/, `${image}: Node 20, as package.json engines`);
    }
  });

  it('builds with dev dependencies, ships production dependencies only', () => {
    const build = stages.find((s) => steps(s, 'RUN').some((r) => /\bnpm ci\b(?!.*--omit=dev)/.test(r)));
    assert.ok(build, 'a stage runs a full npm ci (TypeScript, to build dist/)');
    const prod = stages.find((s) => steps(s, 'RUN').some((r) => /\bnpm ci\b.*--omit=dev/.test(r)));
    assert.ok(prod, 'a stage runs npm ci --omit=dev');
    const copies = steps(runtime, 'COPY');
    assert.ok(
      copies.some((c) => c.startsWith(`--from=${prod.name} `) && c.includes('node_modules')),
      'the runtime stage takes node_modules from the --omit=dev stage',
    );
    assert.ok(!copies.some((c) => c.startsWith(`--from=${build.name} `) && c.includes('node_modules')));
    assert.ok(!steps(runtime, 'RUN').some((r) => /\bnpm (ci|install)\b|g\+\+|build-essential/.test(r)));
    assert.ok(
      copies.some((c) => /dist/.test(c)),
      'the compiled dist/ is copied',
    );
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
    assert.equal(steps(runtime, 'ENTRYPOINT').at(-1), '["node", "/app/bin/credential-broker.js"]');
    assert.match(steps(runtime, 'CMD').at(-1) ?? '', /"serve"/);
  });

  it('.dockerignore keeps node_modules, dist and tests out of the build context', async () => {
    const ignored = (await readFile(path.join(ROOT, '.dockerignore'), 'utf8')).split('\n');
    for (const entry of ['node_modules', 'dist', 'test', '.git']) assert.ok(ignored.includes(entry), entry);
  });
});
