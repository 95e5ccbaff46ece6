// SimpleSAMLphp (the Debian package, 1.19) as a second, independently written SAML IdP: PHP's
// built-in server on 127.0.0.1 runs the package's www/ with a throwaway config dir
// (SIMPLESAMLPHP_CONFIG_DIR). AWS is configured as a remote SP the way an IdP admin would
// (entityID urn:amazon:webservices, ACS https://signin.aws.amazon.com/saml, the Role and
// RoleSessionName attributes). One server, three authentication sources chosen by a path prefix:
//   /form/  exampleauth:UserPass — the stock login form, and ECP (SOAP, Basic credentials up front)
//   /org/   the stock UserPassOrgBase login form, with its <select name="organization">
//   /basic/ HTTP Basic, as Apache's `AuthType Basic` in front of SimpleSAMLphp answers (401 challenge)
// Only the two small source classes in SOURCES_PHP are ours; pages, sessions, the AuthnRequest
// handling, ECP and the signed assertions are SimpleSAMLphp's.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './listen.ts';
import { signingKeyPair } from './saml-idp.ts';

const SSP_DIR = '/usr/share/simplesamlphp';
export const SSP_ENTITY_ID = 'https://simplesamlphp.test/idp';
const ROLE = 'https://aws.amazon.com/SAML/Attributes/Role';
const SESSION_NAME = 'https://aws.amazon.com/SAML/Attributes/RoleSessionName';

export interface SspUser {
  username: string;
  password: string;
  /** role,provider pairs. */
  roles: string[];
  /** For the /org/ form: the organization the account belongs to. */
  organization?: string;
}

/** Why the SimpleSAMLphp tests cannot run here, or undefined when they can. */
export function simpleSamlPhpMissing(): string | undefined {
  if (!existsSync(`${SSP_DIR}/www/saml2/idp/SSOService.php`))
    return 'SimpleSAMLphp is not installed (Debian: apt-get install simplesamlphp php-xml php-cli; scripts/test.sh does it as root)';
  let modules: string;
  try {
    modules = execFileSync('php', ['-m'], { stdio: 'pipe' }).toString();
  } catch {
    return 'php is not installed (Debian: apt-get install php-cli php-xml)';
  }
  return /^dom$/m.test(modules) ? undefined : 'php has no DOM extension (Debian: apt-get install php-xml)';
}

export class SimpleSamlPhp {
  private constructor(
    private readonly dir: string,
    private readonly child: ChildProcess,
    readonly base: string,
    /** PEM of the signing certificate (what the IAM SAML provider is registered with). */
    readonly certificate: string,
    private readonly output: () => string,
  ) {}

  /** IdP-initiated sign-on for AWS (what the broker's form/basic `idpUrl` is). */
  signOnUrl(mode: 'form' | 'org' | 'basic'): string {
    return `${this.base}/${mode}/saml2/idp/SSOService.php?spentityid=urn:amazon:webservices`;
  }

  /** The SAML 2.0 ECP (SOAP) endpoint. */
  get ecpUrl(): string {
    return `${this.base}/form/saml2/idp/SSOService.php`;
  }

  /** The IdP metadata (EntityDescriptor with the signing certificate), as SimpleSAMLphp publishes it. */
  async metadataXml(): Promise<string> {
    const res = await fetch(`${this.base}/form/saml2/idp/metadata.php`);
    if (!res.ok) throw new Error(`SimpleSAMLphp metadata: HTTP ${res.status}`);
    return res.text();
  }

  /** Whether AWS's SP metadata has a PAOS AssertionConsumerService (without it, ECP is refused). */
  async setPaosAcs(enabled: boolean): Promise<void> {
    const flag = path.join(this.dir, 'config', 'no-paos');
    if (enabled) await unlink(flag).catch(() => {});
    else await writeFile(flag, '');
  }

  /** What the php server printed (its request log and PHP errors), for failure messages. */
  log(): string {
    return this.output();
  }

  static async start(users: SspUser[], organizations: Record<string, string>): Promise<SimpleSamlPhp> {
    const missing = simpleSamlPhpMissing();
    if (missing) throw new Error(missing);
    const dir = await mkdtemp(path.join(tmpdir(), 'simplesamlphp-'));
    const config = path.join(dir, 'config');
    await mkdir(path.join(config, 'metadata'), { recursive: true });
    await mkdir(path.join(dir, 'sessions'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const { certPem, keyPem } = await signingKeyPair();
    await writeFile(path.join(config, 'idp.crt'), certPem);
    await writeFile(path.join(config, 'idp.key'), keyPem, { mode: 0o600 });
    await writeFile(path.join(config, 'config.php'), configPhp(base, dir));
    await writeFile(path.join(config, 'authsources.php'), authsourcesPhp(users, organizations));
    await writeFile(path.join(config, 'harness-sources.php'), SOURCES_PHP);
    await writeFile(path.join(config, 'metadata', 'saml20-idp-hosted.php'), IDP_HOSTED_PHP);
    await writeFile(path.join(config, 'metadata', 'saml20-sp-remote.php'), SP_REMOTE_PHP);
    await writeFile(path.join(dir, 'router.php'), ROUTER_PHP);
    const child = spawn(
      'php',
      ['-S', `127.0.0.1:${port}`, '-t', `${SSP_DIR}/www`, path.join(dir, 'router.php')],
      {
        env: { ...process.env, SIMPLESAMLPHP_CONFIG_DIR: config },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const ssp = new SimpleSamlPhp(dir, child, base, certPem, () => output);
    try {
      await waitUntilServing(`${base}/form/saml2/idp/metadata.php`, child, () => output);
    } catch (err) {
      await ssp.close();
      throw err;
    }
    return ssp;
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function waitUntilServing(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`php -S exited (${child.exitCode}): ${output()}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
      if (Date.now() > deadline)
        throw new Error(`SimpleSAMLphp answers HTTP ${res.status}: ${await res.text()}`);
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function php(value: unknown): string {
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(php).join(', ')}]`;
  if (value && typeof value === 'object')
    return `[${Object.entries(value)
      .map(([k, v]) => `${php(k)} => ${php(v)}`)
      .join(', ')}]`;
  return 'null';
}

function attributesOf(user: SspUser) {
  return { uid: [user.username], [ROLE]: user.roles, [SESSION_NAME]: [user.username] };
}

function configPhp(base: string, dir: string): string {
  return `<?php
$config = ${php({
    // The path prefix (/form/, /org/, /basic/) picks the authentication source: see router.php.
    tempdir: path.join(dir, 'tmp'),
    certdir: path.join(dir, 'config'),
    metadatadir: path.join(dir, 'config', 'metadata'),
    loggingdir: dir,
    datadir: path.join(dir, 'data'),
    'logging.handler': 'file',
    'logging.logfile': 'simplesamlphp.log',
    technicalcontact_name: 'Test',
    technicalcontact_email: 'test@example.org',
    secretsalt: `salt-${Math.random().toString(36).slice(2)}`,
    'auth.adminpassword': `admin-${Math.random().toString(36).slice(2)}`,
    'enable.saml20-idp': true,
    'module.enable': { exampleauth: true, core: true, saml: true },
    'store.type': 'phpsession',
    'session.phpsession.savepath': path.join(dir, 'sessions'),
    // Plain http on loopback: a Secure cookie would never come back.
    'session.cookie.secure': false,
    'language.cookie.secure': false,
    showerrors: true,
    production: true,
  })};
$config['baseurlpath'] = '${base}/' . $GLOBALS['harness_mode'] . '/';
$config['logging.level'] = SimpleSAML\\Logger::DEBUG;
`;
}

function authsourcesPhp(users: SspUser[], organizations: Record<string, string>): string {
  const userPass = Object.fromEntries(users.map((u) => [`${u.username}:${u.password}`, attributesOf(u)]));
  const orgUsers = Object.fromEntries(
    users
      .filter((u) => u.organization)
      .map((u) => [`${u.organization}/${u.username}:${u.password}`, attributesOf(u)]),
  );
  return `<?php
if (!class_exists('HarnessBasicAuth', false)) require __DIR__ . '/harness-sources.php';
$config = ${php({
    // [0 => class, option => value, ...]; exampleauth:UserPass takes 'user:password' => attributes.
    'aws-userpass': { 0: 'exampleauth:UserPass', ...userPass },
    'aws-org': { 0: 'HarnessUserPassOrg', users: orgUsers, organizations },
    'aws-basic': { 0: 'HarnessBasicAuth', users: userPass },
  })};
`;
}

/** The two sources SimpleSAMLphp 1.19 has no stock configuration for (the org form needs a subclass). */
const SOURCES_PHP = `<?php
// The stock organization login form (core/loginuserpassorg.php) over a fixed user list.
class HarnessUserPassOrg extends \\SimpleSAML\\Module\\core\\Auth\\UserPassOrgBase
{
    private $users;
    private $organizations;
    public function __construct($info, &$config)
    {
        parent::__construct($info, $config);
        $this->users = $config['users'];
        $this->organizations = $config['organizations'];
    }
    protected function login($username, $password, $organization)
    {
        $key = $organization . '/' . $username . ':' . $password;
        if (!isset($this->users[$key])) throw new \\SimpleSAML\\Error\\Error('WRONGUSERPASS');
        return $this->users[$key];
    }
    protected function getOrganizations()
    {
        return $this->organizations;
    }
}

// What Apache's AuthType Basic in front of SimpleSAMLphp does: a 401 challenge until the
// credentials match.
class HarnessBasicAuth extends \\SimpleSAML\\Auth\\Source
{
    private $users;
    public function __construct($info, &$config)
    {
        parent::__construct($info, $config);
        $this->users = $config['users'];
    }
    public function authenticate(&$state)
    {
        $key = ($_SERVER['PHP_AUTH_USER'] ?? '') . ':' . ($_SERVER['PHP_AUTH_PW'] ?? '');
        if (!isset($_SERVER['PHP_AUTH_USER']) || !isset($this->users[$key])) {
            header('WWW-Authenticate: Basic realm="SimpleSAMLphp"', true, 401);
            echo 'Authorization required';
            exit;
        }
        $state['Attributes'] = $this->users[$key];
    }
}
`;

const IDP_HOSTED_PHP = `<?php
$metadata['${SSP_ENTITY_ID}'] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.crt',
    'auth' => ['form' => 'aws-userpass', 'org' => 'aws-org', 'basic' => 'aws-basic'][$GLOBALS['harness_mode']],
    'saml20.ecp' => true,
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri',
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
];
`;

/** AWS as a remote SP, as AWS's own saml-metadata.xml describes it, plus (unless switched off) the PAOS ACS ECP needs. */
const SP_REMOTE_PHP = `<?php
$acs = [['Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', 'Location' => 'https://signin.aws.amazon.com/saml', 'index' => 1]];
if (!file_exists(dirname(__DIR__) . '/no-paos')) {
    $acs[] = ['Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:PAOS', 'Location' => 'https://signin.aws.amazon.com/saml', 'index' => 2];
}
$metadata['urn:amazon:webservices'] = [
    'AssertionConsumerService' => $acs,
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri',
    'attributes' => ['${ROLE}', '${SESSION_NAME}'],
];
`;

/** php -S router: /MODE/x.php/path/info runs www/x.php with PATH_INFO, as Apache's Alias would. */
const ROUTER_PHP = `<?php
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if (!preg_match('#^/(form|org|basic)(/[^?]*?\\.php)(/.*)?$#', $path, $m)) {
    http_response_code(404);
    echo 'not found';
    return true;
}
$GLOBALS['harness_mode'] = $m[1];
$file = '${SSP_DIR}/www' . $m[2];
if (!is_file($file)) {
    http_response_code(404);
    echo 'not found';
    return true;
}
$_SERVER['SCRIPT_FILENAME'] = $file;
$_SERVER['SCRIPT_NAME'] = '/' . $m[1] . $m[2];
$_SERVER['PHP_SELF'] = $_SERVER['SCRIPT_NAME'] . ($m[3] ?? '');
if (isset($m[3])) $_SERVER['PATH_INFO'] = $m[3]; else unset($_SERVER['PATH_INFO']);
chdir(dirname($file));
require $file;
`;
