// The docs runner itself: it must fail where a documented example is wrong, or the docs tests
// (commands.test.ts, help.test.ts) could pass while running nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  assertOutputContains,
  consoleSteps,
  type DocsWorld,
  extractBlocks,
  normalize,
  norunReason,
  plan,
  runSteps,
  runsBroker,
  shellSteps,
  startDocsWorld,
} from '../harness/docs-runner.ts';

const step = (command: string) => ({ where: 'x.md:1', command });

describe('docs runner: reading markdown', () => {
  const md = [
    '# t',
    '```sh exit=1',
    'credential-broker check \\',
    '  --profile reports   # a comment',
    '# only a comment',
    '',
    'echo "a # not a comment"',
    '```',
    '',
    '```sh norun: needs a systemd host',
    'systemctl restart credential-broker',
    '```',
    '```console',
    '$ credential-broker env --profile reports',
    'export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9911/v1/credentials/reports',
    '```',
  ].join('\n');
  const [sh, norun, console] = extractBlocks(md, 'x.md');

  it('joins continuations, drops comments, keeps # inside quotes, and knows the info string', () => {
    assert.equal(sh!.line, 2);
    assert.equal(sh!.info, 'exit=1');
    assert.deepEqual(shellSteps(sh!), [
      { where: 'x.md:3', command: 'credential-broker check  --profile reports' },
      { where: 'x.md:7', command: 'echo "a # not a comment"' },
    ]);
    assert.equal(norunReason(norun!), 'needs a systemd host');
    assert.equal(norunReason(sh!), undefined);
    assert.deepEqual(consoleSteps(console!), [
      {
        where: 'x.md:14',
        command: 'credential-broker env --profile reports',
        expected: ['export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9911/v1/credentials/reports'],
      },
    ]);
  });

  it('tells a broker command from the name of a user, unit or image', () => {
    assert.ok(runsBroker('eval "$(credential-broker env --profile reports)"'));
    assert.ok(runsBroker('node bin/credential-broker.js serve'));
    assert.ok(runsBroker('/usr/local/bin/credential-broker check'));
    assert.ok(!runsBroker('usermod -aG credential-broker APPUSER'));
    assert.ok(!runsBroker('systemctl enable --now credential-broker'));
    assert.ok(!runsBroker('docker build -t credential-broker .'));
  });
});

describe('docs runner: what may run', () => {
  it('refuses programs that need more than this machine, naming the fix', () => {
    for (const command of [
      'aws iam create-role --role-name x',
      'systemctl daemon-reload && systemctl enable --now credential-broker',
      'kubectl apply -k deploy/overlays/sidecar',
      'curl https://sts.amazonaws.com/',
      'credential-broker env --profile reports | sudo tee /etc/x',
      'npm run bench',
    ]) {
      assert.throws(() => plan(step(command)), /mark the block `sh norun: <reason>`/, command);
    }
  });

  it('skips npm ci but runs what follows it; knows serve, demo and npm test', () => {
    assert.deepEqual(plan(step('npm ci')), {
      kind: 'skip',
      why: 'npm ci: the test runs in the installed tree',
    });
    assert.deepEqual(plan(step('npm ci && npm run demo')), { kind: 'demo', command: 'npm run demo' });
    assert.deepEqual(plan(step('npm test')), { kind: 'ci' });
    assert.equal(plan(step('LOG_LEVEL=debug node bin/credential-broker.js serve')).kind, 'serve');
    assert.equal(plan(step('credential-broker serve --help')).kind, 'run');
    assert.deepEqual(plan(step('credential-broker serve &')), {
      kind: 'serve',
      command: 'credential-broker serve',
    });
    assert.equal(plan(step('curl -s http://127.0.0.1:9911/healthz')).kind, 'run');
  });
});

describe('docs runner: comparing output', () => {
  it('normalizes what varies from run to run, in one place', () => {
    assert.equal(
      normalize(
        'ok   default  12 ms  caller=arn:aws:sts::123456789012:assumed-role/billing-batch/host-7-default  expires=2026-11-25T21:35:33Z ASIAS6JOABCDEFGH http://127.0.0.1:40123',
      ),
      'ok default <duration> caller=arn:aws:sts::123456789012:assumed-role/billing-batch/<session> expires=<time> <key id> http://127.0.0.1:<port>',
    );
  });

  it('wants every expected line, in order', () => {
    assertOutputContains('x', ['a 5 ms', '...', 'c'], 'a 17 ms\nb\nc\n');
    assert.throws(() => assertOutputContains('x', ['c', 'a'], 'a\nc\n'), /expected output line not found/);
    assert.throws(() => assertOutputContains('x', ['d'], 'a\nc\n'), /expected output line not found/);
  });
});

describe('docs runner: running', () => {
  let dw: DocsWorld;
  before(async () => {
    dw = await startDocsWorld();
  });
  after(() => dw.close());

  it('fails a command that exits otherwise than the block says, showing its output as documented', async () => {
    const missing = [step('credential-broker check --profile nope')];
    await assert.rejects(
      runSteps(dw, missing),
      /x\.md:1: `credential-broker check --profile nope` exited 78, expected 0; output:\n.*\/etc\/credential-broker\/config\.yaml: no profile "nope"/,
    );
    assert.equal((await runSteps(dw, missing, { exit: 78 })).executed, 1);
  });

  it('carries exports and cd to later lines, and refuses writes outside its folders', async () => {
    const report = await runSteps(dw, [
      step('export GREETING=hello'),
      step('cd /run/credential-broker'),
      { ...step('echo "$GREETING from $(pwd)"'), expected: ['hello from /run/credential-broker'] },
    ]);
    assert.equal(report.executed, 3);
    await assert.rejects(runSteps(dw, [step('echo x > /etc/x-docs-test')]), /writes to \/etc\/x-docs-test/);
  });

  it('keeps serve running for the later lines of the block, then stops it with SIGTERM', async () => {
    const report = await runSteps(dw, [
      step('credential-broker serve --config /etc/credential-broker/config.yaml &'),
      {
        ...step(
          'curl -s -H "Authorization: $(cat /run/credential-broker/token)" http://127.0.0.1:9911/v1/credentials/reports',
        ),
        expected: ['"RoleArn":"arn:aws:iam::123456789012:role/reports"'],
      },
    ]);
    assert.equal(report.executed, 2);
    await assert.rejects(fetch(`http://127.0.0.1:${dw.port}/healthz`), 'serve still runs after the block');
  });

  it('fails a console block whose output differs', async () => {
    await assert.rejects(
      runSteps(dw, [
        { ...step('credential-broker env --profile reports'), expected: ['export NOT_PRINTED=1'] },
      ]),
      /expected output line not found/,
    );
  });
});
