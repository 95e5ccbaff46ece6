// Test part: an HTTP front before the real OpenID Provider (oidc-provider, test/harness/oidc-op.ts)
// that makes it behave like a given real server where that server is stricter or different:
//
// - `strictBasic`: client_secret_basic credentials must be exactly the RFC 6749 §2.3.1 encoding
//   (application/x-www-form-urlencoded of id and secret, then Basic). Servers that compare the
//   Basic user name without decoding it refuse `billing%2Dbatch` for `billing-batch`; this front
//   refuses anything but the one canonical form, as such a server does for every client id, and
//   forwards the request to the OP only then. oidc-provider itself decodes liberally.
// - `errorStyle: 'keycloak'`: the OP's refusal of client credentials (401 invalid_client) is
//   answered as Keycloak answers it: 401 `unauthorized_client`, "Invalid client or Invalid client
//   credentials", without a WWW-Authenticate header.
// - `forbidden`: client ids refused with a bare 403 and an empty body (an IP allow-list or a WAF
//   before the provider, as Okta's network zones and reverse proxies do).
// - `assertionAudience`: the private_key_jwt assertion's `aud` must be exactly the token endpoint
//   URL (Okta, Entra ID, ADFS) or exactly the issuer (Auth0; Keycloak with strict audience
//   checks); oidc-provider accepts either.
// - `certificates`: client id → PEM certificate of a certificate credential (Entra ID): the
//   assertion must name it by `x5t#S256` (or `x5t`), or is refused as Entra refuses it.
// - `errorStyle: 'basic-challenge'`: 401s carry `WWW-Authenticate: Basic realm=...` without the
//   error, which only the JSON body has.
// - `discovery`: edits the discovery document on its way out (endpoints moved elsewhere).
// - `negotiate`: the ADFS way of client_credentials with Windows Integrated Authentication
//   (`use_windows_client_authentication=true` and `Authorization: Negotiate`): the SPNEGO token
//   is verified with the kerberos addon's server API and the service keytab (KRB5_KTNAME), the
//   Kerberos principal is mapped to an OP client, and the request goes on to the OP authenticated
//   as that client; the answer carries the server's mutual-authentication token.
//
// The OP must be started with `issuer: front.url`, then `front.target = op.port`.
import { createHash, X509Certificate } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { importKerberosAddon } from '../../src/sources/kerberos-addon.ts';
import { listenOnLoopback } from './listen.ts';

export interface FrontTokenRequest {
  /** The Authorization header exactly as sent (Basic credentials stay encoded). */
  authorization: string | undefined;
  /** The form body, decoded. */
  params: URLSearchParams;
  /** The Host header: which address the client sent its request (and secret) to. */
  host: string | undefined;
  status: number;
}

export interface NegotiateMapping {
  /** GSS service (`HTTP@localhost`) whose key is in the process's KRB5_KTNAME keytab. */
  service: string;
  /** Kerberos principal (`svc-billing@BROKER.TEST`) → OP client id and its secret. */
  clients: Record<string, { clientId: string; clientSecret: string }>;
}

export class OidcFront {
  readonly url: string;
  readonly port: number;
  /** Port of the OP on 127.0.0.1. */
  target: number | undefined;
  strictBasic = false;
  errorStyle: 'oidc-provider' | 'keycloak' | 'basic-challenge' = 'oidc-provider';
  assertionAudience: 'token_endpoint' | 'issuer' | undefined;
  readonly certificates = new Map<string, string>();
  readonly forbidden = new Set<string>();
  discovery: ((doc: Record<string, unknown>) => void) | undefined;
  negotiate: NegotiateMapping | undefined;
  /** True: the final Negotiate token (mutual authentication) is replaced by garbage, as an impostor's would be. */
  corruptMutualToken = false;
  /** Every token request that reached the front, oldest first. */
  readonly tokenRequests: FrontTokenRequest[] = [];
  /** Why each refused Negotiate attempt was refused (GSS errors, unknown principals). */
  readonly negotiateErrors: string[] = [];

  static async start(): Promise<OidcFront> {
    const server = http.createServer();
    await listenOnLoopback(server);
    return new OidcFront(server);
  }

  private constructor(private readonly server: http.Server) {
    this.port = (server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    server.keepAliveTimeout = 1000;
    server.on('request', (req, res) => {
      this.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`front: ${err.message}`);
      });
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/token' && req.method === 'POST') return this.token(req, body, res);
    const answer = await this.forward(req, body, { ...req.headers });
    if (path === '/.well-known/openid-configuration' && answer.status === 200 && this.discovery) {
      const doc = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
      this.discovery(doc);
      return send(res, 200, { 'content-type': 'application/json' }, JSON.stringify(doc));
    }
    return send(res, answer.status, answer.headers, answer.body);
  }

  private async token(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<void> {
    const params = new URLSearchParams(body.toString('utf8'));
    const record: FrontTokenRequest = {
      authorization: req.headers.authorization,
      params: new URLSearchParams(params),
      host: req.headers.host,
      status: 0,
    };
    this.tokenRequests.push(record);
    const reply = (status: number, headers: http.OutgoingHttpHeaders, text: string | Buffer) => {
      record.status = status;
      send(res, status, headers, text);
    };
    const headers = { ...req.headers };
    let forwardBody = body;
    let mutual: string | undefined;

    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const clientId = basic ? strictBasicUser(basic)?.id : params.get('client_id');
    if (basic && this.strictBasic && !strictBasicUser(basic)?.canonical) {
      return reply(401, JSON_TYPE, oauthError('invalid_client', 'client authentication failed'));
    }
    if (clientId && this.forbidden.has(clientId)) return reply(403, {}, '');
    const assertion = params.get('client_assertion');
    if (assertion) {
      const refusal = this.checkAssertion(assertion, params.get('client_id') ?? '');
      if (refusal) return reply(401, JSON_TYPE, oauthError('invalid_client', refusal));
    }

    const negotiateToken = /^Negotiate\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (this.negotiate && params.get('use_windows_client_authentication') === 'true') {
      if (!negotiateToken) {
        return reply(401, { 'www-authenticate': 'Negotiate', ...JSON_TYPE }, oauthError('invalid_client'));
      }
      const verified = await this.verifyNegotiate(negotiateToken);
      const client = verified && this.negotiate.clients[verified.principal];
      if (!verified || !client) {
        if (verified) this.negotiateErrors.push(`no client for principal ${verified.principal}`);
        return reply(
          401,
          { 'www-authenticate': 'Negotiate', ...JSON_TYPE },
          oauthError('invalid_client', "MSIS9607: The 'client_id' parameter in the request is invalid."),
        );
      }
      mutual = verified.reply;
      params.delete('use_windows_client_authentication');
      params.delete('client_id');
      headers.authorization = `Basic ${Buffer.from(`${form(client.clientId)}:${form(client.clientSecret)}`).toString('base64')}`;
      forwardBody = Buffer.from(params.toString());
    }

    const answer = await this.forward(req, forwardBody, headers);
    const out = { ...answer.headers };
    if (mutual) {
      const token = this.corruptMutualToken
        ? Buffer.from('not a GSS token from this service').toString('base64')
        : mutual;
      out['www-authenticate'] = `Negotiate ${token}`;
    }
    if (this.errorStyle === 'basic-challenge' && answer.status === 401) {
      out['www-authenticate'] = 'Basic realm="machines"';
    }
    if (this.errorStyle === 'keycloak' && answer.status === 401) {
      delete out['www-authenticate'];
      return reply(
        401,
        JSON_TYPE,
        oauthError('unauthorized_client', 'Invalid client or Invalid client credentials'),
      );
    }
    return reply(answer.status, out, answer.body);
  }

  /** What Okta / Entra / Auth0 say when the assertion's aud or certificate thumbprint is wrong. */
  private checkAssertion(assertion: string, clientId: string): string | undefined {
    const [h, p] = assertion.split('.');
    const header = JSON.parse(Buffer.from(h ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString('utf8')) as { aud?: unknown };
    if (this.assertionAudience) {
      const want = this.assertionAudience === 'issuer' ? this.url : `${this.url}/token`;
      if (payload.aud !== want) {
        return `The audience claim for client_assertion must be the endpoint invoked for the request (expected ${want}, got ${JSON.stringify(payload.aud)}).`;
      }
    }
    const pem = this.certificates.get(clientId);
    if (pem) {
      const der = new X509Certificate(pem).raw;
      const s256 = createHash('sha256').update(der).digest('base64url');
      const sha1 = createHash('sha1').update(der).digest('base64url');
      if (header['x5t#S256'] !== s256 && header.x5t !== sha1) {
        return "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: 'none']";
      }
    }
    return undefined;
  }

  private async verifyNegotiate(token: string): Promise<{ principal: string; reply: string } | undefined> {
    const kerberos = await importKerberosAddon();
    try {
      const server = await kerberos.initializeServer(this.negotiate!.service);
      await server.step(token);
      return { principal: server.username, reply: server.response };
    } catch (err) {
      this.negotiateErrors.push((err as Error).message);
      return undefined;
    }
  }

  private forward(
    req: http.IncomingMessage,
    body: Buffer,
    headers: http.IncomingHttpHeaders,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    const { host: _host, 'content-length': _length, ...rest } = headers;
    return new Promise((resolve, reject) => {
      const out = http.request(
        {
          host: '127.0.0.1',
          port: this.target,
          method: req.method,
          path: req.url,
          headers: { ...rest, host: `127.0.0.1:${this.port}`, 'content-length': body.length },
        },
        (answer) => {
          readBody(answer).then((data) => {
            const { 'content-length': _l, 'transfer-encoding': _t, connection: _c, ...h } = answer.headers;
            resolve({ status: answer.statusCode ?? 502, headers: h, body: data });
          }, reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });
  }

  async close(): Promise<void> {
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await done;
  }
}

const JSON_TYPE = { 'content-type': 'application/json' };

function oauthError(error: string, description?: string): string {
  return JSON.stringify(description ? { error, error_description: description } : { error });
}

/** RFC 6749 §2.3.1: application/x-www-form-urlencoded, as the WHATWG serializer writes it. */
function form(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/** The Basic user name decoded, and whether id and secret were sent in the one canonical encoding. */
function strictBasicUser(credentials: string): { id: string; canonical: boolean } | undefined {
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const [rawId, rawSecret] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
  const id = new URLSearchParams(`a=${rawId}`).get('a') ?? '';
  const secret = new URLSearchParams(`a=${rawSecret}`).get('a') ?? '';
  return { id, canonical: form(id) === rawId && form(secret) === rawSecret };
}

function readBody(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function send(
  res: http.ServerResponse,
  status: number,
  headers: http.OutgoingHttpHeaders | http.IncomingHttpHeaders,
  body: string | Buffer,
): void {
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
