// An AWS STS emulator for integration tests and the demo: a real HTTP server on 127.0.0.1
// that speaks the STS Query/XML protocol, so the real @aws-sdk/client-sts talks to it.
// It verifies what STS verifies (web identity JWTs against the issuer's JWKS, SigV4 on signed
// actions), issues credentials its own GetCallerIdentity accepts, and has fault knobs and
// per-action call counters for testing retry and caching behaviour.
//
// The pieces live in ./sts/: protocol (XML, errors), sigv4, oidc, trust, validate, actions.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { listenOnLoopback } from './listen.ts';
import { ACTIONS, issueSession, type SessionRequest, UNIMPLEMENTED_ACTIONS } from './sts/actions.ts';
import {
  newAccessKeyId,
  newSecretAccessKey,
  type Principal,
  PrincipalStore,
  uniqueId,
} from './sts/identity.ts';
import { OidcVerifier } from './sts/oidc.ts';
import { errors, Params, renderError, renderResult, STS_VERSION, StsError } from './sts/protocol.ts';
import { type SamlCall, type SamlProviderRegistration, SamlVerifier } from './sts/saml.ts';
import { parseRoleArn, type TrustedRole, TrustTable } from './sts/trust.ts';

export type { Principal, SessionTag } from './sts/identity.ts';
export { StsError } from './sts/protocol.ts';
export type { TrustedRole } from './sts/trust.ts';

export interface StsEmulatorOptions {
  /** Default '123456789012'. */
  accountId?: string;
  /** ms epoch; default Date.now. Drives token/credential expiry, SigV4 skew and the Date header. */
  now?: () => number;
  /** Default true: test issuers are http://127.0.0.1. False requires https issuers, as IAM does. */
  allowInsecureIssuer?: boolean;
  /** CA certificate(s) to trust when fetching discovery/JWKS from https test issuers. */
  issuerCa?: string | Buffer | Array<string | Buffer>;
  /** Timeout for each request to an issuer; default 5000 ms. */
  idpTimeoutMs?: number;
}

export interface StsFaults {
  /** The next n requests get 400 `Throttling` "Rate exceeded". */
  throttleNext(n: number): void;
  /** The next n requests get `InternalFailure` (status 500, or other 5xx) / `ServiceUnavailable` (503). */
  failNext(n: number, status?: number): void;
  /** Every response (success or error) is held back this long. */
  delayMs: number;
  /** While true, connections are reset without a response (the service is unreachable). */
  down: boolean;
  /** Clears queued faults, delay and down. */
  reset(): void;
}

/** Long-term keys of an IAM user created with createUser(). */
export interface UserKeys {
  accessKeyId: string;
  secretAccessKey: string;
  arn: string;
}

const MAX_BODY_BYTES = 64 * 1024;

/** Queued faults are served in the order they were requested. */
class FaultKnobs implements StsFaults {
  delayMs = 0;
  down = false;
  private queue: Array<() => StsError> = [];

  throttleNext(n: number): void {
    for (let i = 0; i < n; i++) this.queue.push(errors.throttling);
  }

  failNext(n: number, status = 500): void {
    if (!Number.isInteger(status) || status < 500 || status > 599) {
      throw new RangeError(`not a 5xx status: ${status}`);
    }
    for (let i = 0; i < n; i++) this.queue.push(() => errors.serverFault(status));
  }

  reset(): void {
    this.queue = [];
    this.delayMs = 0;
    this.down = false;
  }

  /** The fault for the current request, if one is queued. */
  take(): StsError | undefined {
    return this.queue.shift()?.();
  }
}

export class StsEmulator {
  /** The endpoint to give @aws-sdk/client-sts, e.g. http://127.0.0.1:PORT */
  readonly url: string;
  readonly accountId: string;
  readonly faults: StsFaults;

  private readonly knobs = new FaultKnobs();
  private readonly now: () => number;
  private readonly principals = new PrincipalStore();
  private readonly trust = new TrustTable();
  private readonly oidc: OidcVerifier;
  private readonly saml = new SamlVerifier();
  private readonly counters = new Map<string, number>();

  /** Starts listening on 127.0.0.1 on an ephemeral port. */
  static async start(opts: StsEmulatorOptions = {}): Promise<StsEmulator> {
    const server = http.createServer();
    await listenOnLoopback(server);
    return new StsEmulator(server, opts);
  }

  private constructor(
    private readonly server: http.Server,
    opts: StsEmulatorOptions,
  ) {
    this.accountId = opts.accountId ?? '123456789012';
    if (!/^\d{12}$/.test(this.accountId)) throw new Error(`accountId must be 12 digits: ${this.accountId}`);
    this.now = opts.now ?? Date.now;
    this.faults = this.knobs;
    this.oidc = new OidcVerifier({
      accountId: this.accountId,
      now: this.now,
      allowInsecureIssuer: opts.allowInsecureIssuer ?? true,
      issuerCa: opts.issuerCa,
      timeoutMs: opts.idpTimeoutMs ?? 5000,
    });
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    server.on('connection', (socket) => {
      if (this.knobs.down) resetSocket(socket);
    });
    server.on('request', (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        console.error('sts-emulator: failed to answer a request', err);
        res.destroy();
      });
    });
  }

  /** Like IAM CreateOpenIDConnectProvider; returns the provider ARN (STS's `Provider` value). */
  registerOidcProvider(p: { issuer: string; clientIds: string[] }): string {
    return this.oidc.register(p);
  }

  /** Like IAM CreateSAMLProvider, from the IdP's metadata or just its signing certificate; returns the ARN. */
  registerSamlProvider(p: SamlProviderRegistration): string {
    return this.saml.register(p);
  }

  /** Every AssumeRoleWithSAML request received (role, provider, DurationSeconds asked for). */
  samlCalls(): readonly SamlCall[] {
    return [...this.saml.calls];
  }

  /** Adds a trust statement for a role (creating the role). See TrustedRole for the matching rules. */
  trustRole(r: TrustedRole): void {
    this.trust.add(r);
  }

  /** Creates an IAM user with long-term keys (AKIA…) that can sign AssumeRole/GetCallerIdentity. */
  createUser(name: string): UserKeys {
    const arn = `arn:aws:iam::${this.accountId}:user/${name}`;
    const principal = this.principals.add({
      kind: 'user',
      accessKeyId: newAccessKeyId('AKIA'),
      secretAccessKey: newSecretAccessKey(),
      arn,
      userId: uniqueId('AIDA', arn),
      account: this.accountId,
      tags: [],
      policyArns: [],
      via: 'CreateAccessKey',
    });
    return { accessKeyId: principal.accessKeyId, secretAccessKey: principal.secretAccessKey, arn };
  }

  /**
   * Mints a role session as another AWS service would (IAM Roles Anywhere CreateSession): the
   * credentials then work for GetCallerIdentity and, as a chain's first hop, for AssumeRole.
   */
  issueRoleSession(
    roleArn: string,
    request: Partial<SessionRequest> & { sessionName: string; duration: number },
  ): Principal {
    const session = issueSession({ now: this.now, principals: this.principals }, parseRoleArn(roleArn), {
      via: 'CreateSession',
      tags: [],
      policy: undefined,
      policyArns: [],
      sourceIdentity: undefined,
      ...request,
    });
    return structuredClone(session);
  }

  /** What the emulator recorded for credentials it issued (role, tags, policy, expiry, …). */
  session(accessKeyId: string): Readonly<Principal> | undefined {
    const p = this.principals.get(accessKeyId);
    return p && structuredClone(p);
  }

  /** Forgets cached issuer keys, so the next token fetches discovery + JWKS again. */
  clearKeyCache(): void {
    this.oidc.clearKeyCache();
  }

  /** Requests received for one Action, or in total. Faulted and rejected requests count too. */
  calls(action?: string): number {
    if (action !== undefined) return this.counters.get(action) ?? 0;
    let total = 0;
    for (const n of this.counters.values()) total += n;
    return total;
  }

  resetCounters(): void {
    this.counters.clear();
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.knobs.down) return resetSocket(req.socket);
    const requestId = randomUUID();
    let status: number;
    let xml: string;
    try {
      const body = await readBody(req);
      const params = new Params(requestParams(req, body));
      const action = params.get('Action');
      this.count(action ?? '(none)');
      const fault = this.knobs.take();
      if (fault) throw fault;
      const result = await this.dispatch(action, params, req, body);
      [status, xml] = [200, renderResult(action!, result, requestId)];
    } catch (err) {
      const stsError = err instanceof StsError ? err : internalError(err);
      if (stsError.status === 413) {
        this.count('(none)');
        res.setHeader('connection', 'close'); // do not read the rest of an oversized body
      }
      [status, xml] = [stsError.status, renderError(stsError, requestId)];
    }
    await sleep(this.knobs.delayMs);
    if (this.knobs.down) return resetSocket(req.socket);
    res.writeHead(status, {
      'content-type': 'text/xml',
      'content-length': Buffer.byteLength(xml),
      'x-amzn-requestid': requestId,
      // Real STS sends Date; the SDK corrects its clock skew from it.
      date: new Date(this.now()).toUTCString(),
    });
    res.end(xml);
  }

  private dispatch(action: string | undefined, params: Params, req: http.IncomingMessage, body: Buffer) {
    if (action === undefined) throw new StsError(400, 'MissingAction', 'Missing Action');
    const version = params.get('Version');
    if (version === undefined) {
      throw new StsError(400, 'MissingParameter', 'The request must contain the parameter Version');
    }
    const handler = ACTIONS[action];
    if (version !== STS_VERSION || !handler) {
      if (version === STS_VERSION && UNIMPLEMENTED_ACTIONS.includes(action)) {
        throw errors.invalidAction(`${action} (not implemented by the STS emulator)`, version);
      }
      throw errors.invalidAction(action, version);
    }
    const ctx = {
      now: this.now,
      principals: this.principals,
      trust: this.trust,
      oidc: this.oidc,
      saml: this.saml,
    };
    return handler(ctx, params, {
      method: req.method ?? 'GET',
      rawUrl: req.url ?? '/',
      headers: req.headers,
      body,
    });
  }

  private count(action: string): void {
    this.counters.set(action, (this.counters.get(action) ?? 0) + 1);
  }
}

/** Collects the body, refusing more than 64 KiB. */
function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES && !tooLarge) {
        tooLarge = true;
        reject(errors.tooLarge());
      }
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Query-protocol parameters: the URL query (GET) and the form-encoded body (POST). */
function requestParams(req: http.IncomingMessage, body: Buffer): URLSearchParams[] {
  const sources = [new URL(req.url ?? '/', 'http://emulator').searchParams];
  const type = req.headers['content-type'] ?? '';
  if (req.method === 'POST' && (type === '' || type.startsWith('application/x-www-form-urlencoded'))) {
    sources.push(new URLSearchParams(body.toString('utf8')));
  }
  return sources;
}

/** A bug in the emulator: answered as InternalFailure and printed, so it is not mistaken for a client error. */
function internalError(err: unknown): StsError {
  console.error('sts-emulator: internal error', err);
  return errors.serverFault(500);
}

/** Sends a TCP RST (not a clean FIN), like an unreachable or crashed service. */
function resetSocket(socket: Socket): void {
  socket.resetAndDestroy();
}

/** A timer that does not keep the process alive (a test may end while a delayed response waits). */
function sleep(ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
