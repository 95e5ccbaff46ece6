// An IAM Roles Anywhere emulator: `POST /sessions` (CreateSession) on 127.0.0.1, REST-JSON like
// the real service. It verifies what Roles Anywhere verifies: the SigV4-X509 signature made with
// the certificate's key (checked with the public key of the certificate sent in X-Amz-X509), the
// Credential serial, the date, that the
// certificate chains (through X-Amz-X509-Chain) to the trust anchor's CA with every certificate
// in its validity period, and that the profile lists the role. The session it issues is minted
// by the STS emulator, so GetCallerIdentity and chained AssumeRole accept it.
import { createHash, randomUUID, verify, X509Certificate } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { listenOnLoopback } from './listen.ts';
import { canonicalRequest } from './sts/sigv4.ts';
import type { StsEmulator } from './sts-emulator.ts';

export interface RolesAnywhereProfile {
  roleArns: string[];
  /** Upper bound for the session (seconds); default 3600. */
  durationSeconds?: number;
  acceptRoleSessionName?: boolean;
  enabled?: boolean;
}

export interface CreateSessionRecord {
  status: number;
  error?: string;
  serial?: string;
  roleArn?: string;
  sessionName?: string;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const denied = (message: string) => new ApiError(403, 'AccessDeniedException', message);
const invalid = (message: string) => new ApiError(400, 'ValidationException', message);
const notFound = (message: string) => new ApiError(404, 'ResourceNotFoundException', message);

const AUTHORIZATION =
  /^(AWS4-X509-RSA-SHA256|AWS4-X509-ECDSA-SHA256) Credential=(\d+)\/(\d{8})\/([a-z0-9-]+)\/rolesanywhere\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]+)$/;
const MAX_SKEW_MS = 5 * 60_000;

export class RolesAnywhereEmulator {
  readonly url: string;
  readonly region: string;
  /** Every CreateSession answered, oldest first. */
  readonly log: CreateSessionRecord[] = [];
  private readonly anchors = new Map<string, X509Certificate[]>();
  private readonly profiles = new Map<string, Required<RolesAnywhereProfile>>();
  private readonly now: () => number;

  static async start(opts: {
    sts: StsEmulator;
    region?: string;
    now?: () => number;
  }): Promise<RolesAnywhereEmulator> {
    const server = http.createServer();
    await listenOnLoopback(server);
    return new RolesAnywhereEmulator(server, opts);
  }

  private constructor(
    private readonly server: http.Server,
    private readonly opts: { sts: StsEmulator; region?: string; now?: () => number },
  ) {
    this.region = opts.region ?? 'us-east-1';
    this.now = opts.now ?? Date.now;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('request', (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        console.error('roles-anywhere-emulator: internal error', err);
        res.destroy();
      });
    });
  }

  /** Like CreateTrustAnchor with a CERTIFICATE_BUNDLE source; returns its ARN. */
  createTrustAnchor(caPems: string | string[]): string {
    const arn = `arn:aws:rolesanywhere:${this.region}:${this.opts.sts.accountId}:trust-anchor/${randomUUID()}`;
    this.anchors.set(
      arn,
      [caPems].flat().map((pem) => new X509Certificate(pem)),
    );
    return arn;
  }

  /** Like CreateProfile; returns its ARN. */
  createProfile(profile: RolesAnywhereProfile): string {
    const arn = `arn:aws:rolesanywhere:${this.region}:${this.opts.sts.accountId}:profile/${randomUUID()}`;
    this.profiles.set(arn, {
      durationSeconds: 3600,
      acceptRoleSessionName: false,
      enabled: true,
      ...profile,
    });
    return arn;
  }

  sessionsIssued(): number {
    return this.log.filter((r) => r.status === 201).length;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const record: CreateSessionRecord = { status: 0 };
    let status = 201;
    let payload: unknown;
    try {
      payload = this.createSession(req, body, record);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      status = err.status;
      payload = { message: err.message };
      record.error = `${err.type}: ${err.message}`;
      res.setHeader('x-amzn-errortype', err.type);
    }
    record.status = status;
    this.log.push(record);
    const text = JSON.stringify(payload);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      date: new Date(this.now()).toUTCString(),
    });
    res.end(text);
  }

  private createSession(req: http.IncomingMessage, body: Buffer, record: CreateSessionRecord): unknown {
    const url = new URL(req.url ?? '/', 'http://emulator');
    if (req.method !== 'POST' || url.pathname !== '/sessions')
      throw notFound(`no route ${req.method} ${url.pathname}`);
    const cert = this.authenticate(req, body, record);

    const profileArn = url.searchParams.get('profileArn');
    const roleArn = url.searchParams.get('roleArn');
    const anchorArn = url.searchParams.get('trustAnchorArn');
    if (!profileArn || !roleArn || !anchorArn)
      throw invalid('profileArn, roleArn and trustAnchorArn are required');
    record.roleArn = roleArn;
    const anchor = this.anchors.get(anchorArn);
    if (!anchor) throw notFound(`Trust anchor ${anchorArn} not found`);
    const profile = this.profiles.get(profileArn);
    if (!profile) throw notFound(`Profile ${profileArn} not found`);
    this.verifyChain(cert, chainOf(req), anchor);
    if (!profile.enabled) throw denied('Profile is disabled');
    if (!profile.roleArns.includes(roleArn))
      throw denied('Unable to assume role: the role is not in the profile');

    const request = parseBody(body);
    if (request.roleSessionName !== undefined && !profile.acceptRoleSessionName) {
      throw denied('The profile does not accept role session names');
    }
    const duration = Math.min(request.durationSeconds ?? 3600, profile.durationSeconds);
    const serialHex = cert.serialNumber.toLowerCase();
    const sessionName = request.roleSessionName ?? serialHex;
    record.sessionName = sessionName;
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
    const session = this.opts.sts.issueRoleSession(roleArn, {
      sessionName,
      duration,
      tags: cn ? [{ key: 'x509Subject/CN', value: cn, transitive: false }] : [],
    });
    return {
      credentialSet: [
        {
          assumedRoleUser: { arn: session.arn, assumedRoleId: session.userId },
          credentials: {
            accessKeyId: session.accessKeyId,
            secretAccessKey: session.secretAccessKey,
            sessionToken: session.sessionToken,
            expiration: new Date(session.expiration!).toISOString().replace(/\.\d{3}Z$/, 'Z'),
          },
          packedPolicySize: 0,
          roleArn,
          sourceIdentity: '',
        },
      ],
      subjectArn: `arn:aws:rolesanywhere:${this.region}:${this.opts.sts.accountId}:subject/${randomUUID()}`,
    };
  }

  /** The SigV4-X509 check; returns the end-entity certificate that signed. */
  private authenticate(
    req: http.IncomingMessage,
    body: Buffer,
    record: CreateSessionRecord,
  ): X509Certificate {
    const m = AUTHORIZATION.exec(String(req.headers.authorization ?? ''));
    if (!m) throw denied('Missing or malformed SigV4-X509 Authorization header');
    const [, algorithm, serial, scopeDate, region, signed, signature] = m as unknown as string[];
    record.serial = serial;
    const b64 = req.headers['x-amz-x509'];
    if (typeof b64 !== 'string') throw denied('Missing X-Amz-X509 header');
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(Buffer.from(b64, 'base64'));
    } catch {
      throw denied('X-Amz-X509 is not a DER certificate');
    }
    if (BigInt(`0x${cert.serialNumber}`).toString(10) !== serial) {
      throw denied('The Credential serial number is not the certificate’s');
    }
    const signedHeaders = signed!.split(';');
    for (const h of [
      'host',
      'x-amz-date',
      'x-amz-x509',
      ...(req.headers['x-amz-x509-chain'] ? ['x-amz-x509-chain'] : []),
    ]) {
      if (!signedHeaders.includes(h)) throw denied(`${h} must be a signed header`);
    }
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    const signedAt = Date.parse(
      amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
    );
    if (!Number.isFinite(signedAt) || Math.abs(signedAt - this.now()) > MAX_SKEW_MS) {
      throw denied(`Signature date ${amzDate} is not within 5 minutes of the service clock`);
    }
    if (scopeDate !== amzDate.slice(0, 8) || region !== this.region)
      throw denied('Credential scope does not match');
    const keyType = cert.publicKey.asymmetricKeyType;
    if ((algorithm === 'AWS4-X509-RSA-SHA256') !== (keyType === 'rsa')) {
      throw denied(`${algorithm} does not match the certificate's ${keyType} key`);
    }
    const canonical = canonicalRequest(
      { method: req.method ?? 'POST', rawUrl: req.url ?? '/', headers: req.headers, body },
      signedHeaders,
    );
    const scope = `${scopeDate}/${region}/rolesanywhere/aws4_request`;
    const toSign = [algorithm, amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join(
      '\n',
    );
    if (!verify('sha256', Buffer.from(toSign), cert.publicKey, Buffer.from(signature!, 'hex'))) {
      throw denied('Invalid signature');
    }
    return cert;
  }

  /** Leaf → intermediates → a trust anchor CA, every signature and validity period checked. */
  private verifyChain(
    leaf: X509Certificate,
    intermediates: X509Certificate[],
    anchors: X509Certificate[],
  ): void {
    const now = this.now();
    const valid = (c: X509Certificate) => Date.parse(c.validFrom) <= now && now < Date.parse(c.validTo);
    let current = leaf;
    for (let depth = 0; depth <= intermediates.length; depth++) {
      if (!valid(current))
        throw denied(`Certificate ${current.subject.replace(/\n/g, ',')} is expired or not yet valid`);
      const anchor = anchors.find((ca) => current.checkIssued(ca) && current.verify(ca.publicKey));
      if (anchor) {
        if (!valid(anchor)) throw denied('The trust anchor certificate is expired');
        return;
      }
      const next = intermediates.find(
        (ca) => ca.ca && current.checkIssued(ca) && current.verify(ca.publicKey),
      );
      if (!next) break;
      current = next;
    }
    throw denied('Untrusted certificate. Insufficient certificate chain to the trust anchor');
  }
}

function chainOf(req: http.IncomingMessage): X509Certificate[] {
  const header = req.headers['x-amz-x509-chain'];
  if (typeof header !== 'string' || header === '') return [];
  try {
    return header.split(',').map((b64) => new X509Certificate(Buffer.from(b64, 'base64')));
  } catch {
    throw denied('X-Amz-X509-Chain is not a list of DER certificates');
  }
}

function parseBody(body: Buffer): { durationSeconds?: number; roleSessionName?: string } {
  try {
    const json = JSON.parse(body.toString('utf8') || '{}') as {
      durationSeconds?: unknown;
      roleSessionName?: unknown;
    };
    const duration = json.durationSeconds;
    if (duration !== undefined && (typeof duration !== 'number' || duration < 900 || duration > 43_200)) {
      throw invalid('durationSeconds must be 900..43200');
    }
    return {
      durationSeconds: duration as number | undefined,
      roleSessionName: typeof json.roleSessionName === 'string' ? json.roleSessionName : undefined,
    };
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw invalid('The request body is not JSON');
  }
}
