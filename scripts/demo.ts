// `npm run demo`: the whole path on one machine, with real parts and no AWS account.
//   1. a real OpenID Provider (oidc-provider) with a machine client (client_credentials);
//   2. the STS emulator, which verifies the OP's JWTs against its JWKS and SigV4 on later calls;
//   3. the broker (`credential-broker serve`, as a child process) with one `oidc` profile;
//   4. an unmodified AWS SDK program (scripts/demo-app.ts, another process) that finds the broker
//      through AWS_CONTAINER_CREDENTIALS_FULL_URI and calls sts:GetCallerIdentity with what it got.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { wantsColor } from '../src/telemetry/pretty.ts';
import { exitWithParent } from '../test/harness/exit-with-parent.ts';
import { OidcOp } from '../test/harness/oidc-op.ts';
import { StsEmulator } from '../test/harness/sts-emulator.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Bold only for a person at a terminal (not in a pipe, a CI log, or with NO_COLOR set).
const bold = wantsColor();
const say = (text: string) => console.log(bold ? `\x1b[1m==> ${text}\x1b[0m` : `==> ${text}`);
const ROLE_ARN = 'arn:aws:iam::123456789012:role/demo-app';

const dir = await mkdtemp(path.join(tmpdir(), 'credential-broker-demo-'));
const op = await OidcOp.start({ clients: [{ clientId: 'demo-app', clientSecret: 'demo-client-secret' }] });
const sts = await StsEmulator.start();
let broker: ChildProcess | undefined;
let exitCode = 1;
try {
  say(`OpenID Provider on ${op.issuer} (client "demo-app", client_credentials)`);
  say(`STS emulator on ${sts.url}; it trusts ${op.issuer} for ${ROLE_ARN} when sub = demo-app`);
  sts.registerOidcProvider({ issuer: op.issuer, clientIds: ['sts.amazonaws.com'] });
  sts.trustRole({ roleArn: ROLE_ARN, issuer: op.issuer, audience: 'sts.amazonaws.com', subject: 'demo-app' });

  const config = `# written by scripts/demo.ts
server:
  listen: 127.0.0.1:0
  tokenFile: token
sts:
  region: us-east-1
  endpoint: ${sts.url}
profiles:
  default:
    source:
      type: oidc
      issuer: ${op.issuer}
      clientId: demo-app
      clientAuth:
        method: client_secret_basic
        clientSecret: file:client-secret
    role:
      arn: ${ROLE_ARN}
      sessionName: demo-{profile}
`;
  await writeFile(path.join(dir, 'client-secret'), 'demo-client-secret\n', { mode: 0o600 });
  await writeFile(path.join(dir, 'config.yaml'), config);
  say(`broker config (${path.join(dir, 'config.yaml')}):`);
  console.log(config.replace(/^/gm, '    '));

  say('starting: credential-broker serve');
  // Ends with the demo however the demo ends (Ctrl-C, kill -9, a docs test cancelled at its timeout).
  const watch = exitWithParent(['ignore', 'pipe', 'inherit'], process.env);
  broker = spawn(
    process.execPath,
    [
      ...watch.nodeArgs,
      path.join(root, 'bin/credential-broker.js'),
      'serve',
      '--config',
      path.join(dir, 'config.yaml'),
    ],
    watch.options,
  );
  const address = await waitForReady(broker);
  const uri = `${address}/v1/credentials/default`;

  say('running the app with the AWS SDK default credential chain:');
  console.log(`    AWS_CONTAINER_CREDENTIALS_FULL_URI=${uri}`);
  console.log(`    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=${path.join(dir, 'token')}`);
  exitCode = await runApp({
    PATH: process.env.PATH ?? '',
    HOME: dir,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: uri,
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: path.join(dir, 'token'),
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_STS: sts.url,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });
  say(
    exitCode === 0
      ? `done: the app called AWS with temporary credentials (STS calls: ${sts.calls('AssumeRoleWithWebIdentity')} exchange, ${sts.calls('GetCallerIdentity')} GetCallerIdentity verified with SigV4)`
      : 'the app failed',
  );
} finally {
  if (broker && broker.exitCode === null) {
    broker.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => broker?.once('exit', resolve));
    say(`broker stopped (exit ${code})`);
  }
  await Promise.all([op.close(), sts.close()]);
  await rm(dir, { recursive: true, force: true });
}
process.exitCode = exitCode;

/** Echoes the broker's JSON log lines briefly and resolves with its URL once it reports ready. */
function waitForReady(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let address = '';
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      let entry: { msg?: string; address?: string; [k: string]: unknown };
      try {
        entry = JSON.parse(line);
      } catch {
        console.log(`    [broker] ${line}`);
        return;
      }
      const extra = ['profile', 'role', 'outcome', 'expiration'].filter((k) => entry[k] !== undefined);
      console.log(`    [broker] ${entry.msg}${extra.map((k) => ` ${k}=${entry[k]}`).join('')}`);
      if (entry.address) address = entry.address;
      if (entry.msg?.startsWith('ready')) resolve(address);
      if (entry.msg?.startsWith('not ready'))
        reject(new Error('the broker could not get credentials; see its log above'));
    });
    child.once('exit', (code) => reject(new Error(`the broker exited (${code}) before it was ready`)));
  });
}

function runApp(env: Record<string, string>): Promise<number> {
  const watch = exitWithParent(['ignore', 'inherit', 'inherit'], env);
  const app = spawn(
    process.execPath,
    [...watch.nodeArgs, '--import', 'tsx', path.join(root, 'scripts/demo-app.ts')],
    { cwd: root, ...watch.options },
  );
  return new Promise((resolve) => app.once('exit', (code) => resolve(code ?? 1)));
}
