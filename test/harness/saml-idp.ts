// A SAML 2.0 IdP test server on 127.0.0.1, built on samlify: it signs real AWS-style responses
// (IdP-initiated, audience https://signin.aws.amazon.com/saml, Role/RoleSessionName/SessionDuration
// attributes) with a key and certificate generated at start, and logs users in the ways real IdPs
// do for unattended clients:
//   GET  /adfs/ls/IdpInitiatedSignOn.aspx   form login (ADFS-like; wrong password, locked, MFA pages)
//   GET  /idp/basic                          IdP-initiated behind HTTP Basic
//   POST /idp/profile/SAML2/SOAP/ECP         SAML ECP (PAOS/SOAP) with HTTP Basic (Shibboleth path)
//   GET  /adfs/ls/wia                        SPNEGO (Negotiate), verified with its own service keytab
// `respond` makes the next responses hostile or broken (unsigned, expired, tampered, wrapped, XXE, ...).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { DOMParser } from '@xmldom/xmldom';
import samlify from 'samlify';
import { importKerberosAddon } from '../../src/sources/kerberos-addon.ts';
import { listenOnLoopback } from './listen.ts';

export const AWS_ACS = 'https://signin.aws.amazon.com/saml';
export const AWS_SP_ENTITY_ID = 'urn:amazon:webservices';
export const REGIONAL_ACS = 'https://eu-west-1.signin.aws.amazon.com/saml';
const ROLE_ATTR = 'https://aws.amazon.com/SAML/Attributes/Role';
const POST_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

export interface SamlUser {
  username: string;
  password?: string;
  /** Role attribute values, exactly as sent: "ROLE_ARN,PROVIDER_ARN" (or the other order). */
  roles: string[];
  /** RoleSessionName attribute; default the username. Null leaves the attribute out. */
  sessionName?: string | null;
  /** SessionDuration attribute (seconds). */
  sessionDuration?: number;
  /** Kerberos principal (user@REALM) that logs in as this user over Negotiate. */
  principal?: string;
  /** What the form login shows after a correct password: a locked-account or an MFA page. */
  formOutcome?: 'locked' | 'mfa';
}

/** How the next responses are spoiled (after signing, where that matters). */
export type ResponseMode =
  | 'normal'
  | 'unsigned'
  | 'expired'
  | 'tampered'
  | 'wrapped'
  | 'xxe'
  | 'billion-laughs'
  | 'failed-status'
  | 'wrong-audience'
  /** Audience and Recipient of a regional sign-in endpoint (https://eu-west-1.signin.aws.amazon.com/saml). */
  | 'regional';

export interface SamlIdpOptions {
  users: SamlUser[];
  /** GSS service name of the Negotiate endpoint (HTTP@localhost) and its keytab (process-wide KRB5_KTNAME). */
  negotiateService?: string;
  /** The IdP's clock (ms); default Date.now. Shared with the STS emulator in fake-time tests. */
  now?: () => number;
  /** Serve https with this certificate (for `localhost`); the URLs are then https://localhost:port. */
  tls?: { cert: string; key: string };
}

export interface LoginRecord {
  method: 'form' | 'basic' | 'ecp' | 'negotiate';
  username: string;
}

const FORM_PATH = '/adfs/ls/IdpInitiatedSignOn.aspx';
const BASIC_PATH = '/idp/basic';
const ECP_PATH = '/idp/profile/SAML2/SOAP/ECP';
const WIA_PATH = '/adfs/ls/wia';

export class SamlIdp {
  readonly url: string;
  readonly entityId: string;
  /** PEM of the signing certificate (what an IAM SAML provider's metadata carries). */
  readonly certificate: string;
  /** IdP metadata XML (what `aws iam create-saml-provider --saml-metadata-document` takes). */
  readonly metadataXml: string;
  /** Mode of the responses from now on. */
  respond: ResponseMode = 'normal';
  /** False: the Negotiate endpoint offers only Basic (a site without Windows Integrated Auth). */
  offerNegotiate = true;
  /** Set: the login form's action is on this origin (a page that would send the password elsewhere). */
  formActionOrigin: string | undefined;
  /** Set: the login form's POST is answered with this status and a Location on this origin (307/308 repeat the body). */
  redirectPost: { status: number; origin: string } | undefined;
  /** Set: the basic, ECP and Negotiate endpoints, asked on any other host, redirect to the same URL on
   * this origin with this status (another host of the IdP, or one that would collect the credentials). */
  redirectLogin: { status: number; origin: string } | undefined;
  /** `host scheme` of every request that carried an Authorization header: where credentials went. */
  readonly authorizationsSeen: string[] = [];
  /** True: the ECP endpoint answers 401 (setting a cookie) to a request without that cookie, credentials or not. */
  ecpChallengeFirst = false;
  /** True: the final Negotiate token (mutual authentication) is replaced by garbage, as an impostor's would be. */
  corruptMutualToken = false;
  /** Kerberos principals the Negotiate endpoint saw, and every successful login. */
  readonly logins: LoginRecord[] = [];
  /** Negotiate attempts that failed on the IdP side (the GSS error), for assertions. */
  readonly negotiateErrors: string[] = [];

  private readonly idp: ReturnType<typeof samlify.IdentityProvider>;
  private readonly sp: ReturnType<typeof samlify.ServiceProvider>;
  private readonly sessions = new Map<string, SamlUser>();

  static async start(opts: SamlIdpOptions): Promise<SamlIdp> {
    const { certPem, keyPem } = await signingKeyPair();
    const server: http.Server = opts.tls ? https.createServer(opts.tls) : http.createServer();
    await listenOnLoopback(server);
    return new SamlIdp(server, opts, certPem, keyPem);
  }

  private constructor(
    private readonly server: http.Server,
    private readonly opts: SamlIdpOptions,
    certPem: string,
    keyPem: string,
  ) {
    const { port } = server.address() as AddressInfo;
    this.url = opts.tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`;
    this.entityId = `${this.url}/adfs/services/trust`;
    this.certificate = certPem;
    this.idp = samlify.IdentityProvider({
      entityID: this.entityId,
      privateKey: keyPem,
      signingCert: certPem,
      isAssertionEncrypted: false,
      singleSignOnService: [{ Binding: POST_BINDING, Location: `${this.url}${FORM_PATH}` }],
      singleLogoutService: [{ Binding: POST_BINDING, Location: `${this.url}/adfs/ls/logout` }],
    });
    this.metadataXml = this.idp.getMetadata();
    this.sp = samlify.ServiceProvider({
      entityID: AWS_SP_ENTITY_ID,
      assertionConsumerService: [{ Binding: POST_BINDING, Location: AWS_ACS }],
      wantAssertionsSigned: true,
    });
    server.on('request', (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        console.error('saml-idp: failed to answer', err);
        res.destroy();
      });
    });
  }

  /** The IdP-initiated URLs and the ECP endpoint, as a profile's source.idpUrl. */
  get urls() {
    const rp = `loginToRp=${encodeURIComponent(AWS_SP_ENTITY_ID)}`;
    return {
      form: `${this.url}${FORM_PATH}?${rp}`,
      basic: `${this.url}${BASIC_PATH}?${rp}`,
      ecp: `${this.url}${ECP_PATH}`,
      negotiate: `${this.url}${WIA_PATH}?${rp}`,
    };
  }

  /** A signed, base64 SAMLResponse for a user, spoiled as `mode` says (for tests that skip the login). */
  async responseFor(
    username: string,
    mode: ResponseMode = this.respond,
    inResponseTo?: string,
  ): Promise<string> {
    const user = this.opts.users.find((u) => u.username === username);
    if (!user) throw new Error(`no such user ${username}`);
    return this.samlResponse(user, mode, inResponseTo);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const body = await readBody(req);
    const scheme = /^\S+/.exec(req.headers.authorization ?? '')?.[0];
    if (scheme) this.authorizationsSeen.push(`${req.headers.host} ${scheme}`);
    const elsewhere = this.redirectLogin;
    if (
      elsewhere &&
      [BASIC_PATH, ECP_PATH, WIA_PATH].includes(url.pathname) &&
      req.headers.host !== new URL(elsewhere.origin).host
    ) {
      res.writeHead(elsewhere.status, { location: `${elsewhere.origin}${url.pathname}${url.search}` });
      res.end();
      return;
    }
    if (url.pathname === FORM_PATH) return this.formLogin(req, res, url, body);
    if (url.pathname === BASIC_PATH && req.method === 'GET') return this.basicLogin(req, res);
    if (url.pathname === ECP_PATH && req.method === 'POST') return this.ecpLogin(req, res, body);
    if (url.pathname === WIA_PATH && req.method === 'GET') return this.negotiateLogin(req, res);
    send(res, 404, 'text/plain', 'not found');
  }

  // --- form (ADFS-like): login page → POST → cookie + 303 → auto-post form --------------------
  private async formLogin(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: string) {
    const session = /(?:^|;\s*)MSISAuth=([0-9a-f]+)/.exec(req.headers.cookie ?? '')?.[1];
    const user = session ? this.sessions.get(session) : undefined;
    if (req.method === 'GET' && user) return this.autoPost(res, user, 'form');
    if (req.method === 'GET') return send(res, 200, 'text/html', loginPage(url, '', this.formActionOrigin));
    if (this.redirectPost) {
      res.writeHead(this.redirectPost.status, {
        location: `${this.redirectPost.origin}${FORM_PATH}${url.search}`,
      });
      res.end();
      return;
    }
    const form = new URLSearchParams(body);
    const candidate = this.opts.users.find((u) => u.username === form.get('UserName'));
    if (!candidate || candidate.password === undefined || candidate.password !== form.get('Password')) {
      return send(
        res,
        200,
        'text/html',
        loginPage(
          url,
          'Incorrect user ID or password. Type the correct user ID and password, and try again.',
        ),
      );
    }
    if (candidate.formOutcome === 'locked') {
      return send(
        res,
        200,
        'text/html',
        page('Sign In', '<p id="errorText">Your account has been locked. Contact your administrator.</p>'),
      );
    }
    if (candidate.formOutcome === 'mfa') {
      return send(
        res,
        200,
        'text/html',
        page(
          'Additional verification',
          `<p>Enter the verification code from your authenticator app.</p><form method="post" action="${FORM_PATH}?mfa=1"><input type="text" name="VerificationCode"><input type="hidden" name="Context" value="${randomBytes(8).toString('hex')}"><input type="submit" value="Verify"></form>`,
        ),
      );
    }
    const id = randomBytes(16).toString('hex');
    this.sessions.set(id, candidate);
    res.writeHead(303, {
      location: `${FORM_PATH}${url.search}`,
      'set-cookie': `MSISAuth=${id}; Path=/adfs; HttpOnly`,
    });
    res.end();
  }

  // --- HTTP Basic ----------------------------------------------------------------------------------
  private async basicLogin(req: http.IncomingMessage, res: http.ServerResponse) {
    const user = this.basicUser(req);
    if (!user) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="saml-idp"' });
      res.end();
      return;
    }
    return this.autoPost(res, user, 'basic');
  }

  // --- ECP (PAOS/SOAP) with HTTP Basic --------------------------------------------------------------
  private async ecpLogin(req: http.IncomingMessage, res: http.ServerResponse, body: string) {
    if (this.ecpChallengeFirst && !/(?:^|;\s*)ecp-session=1/.test(req.headers.cookie ?? '')) {
      res.writeHead(401, {
        'www-authenticate': 'Basic realm="saml-idp-ecp"',
        'set-cookie': 'ecp-session=1; Path=/',
      });
      res.end();
      return;
    }
    const user = this.basicUser(req);
    if (!user) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="saml-idp-ecp"' });
      res.end();
      return;
    }
    const doc = new DOMParser().parseFromString(body, 'text/xml');
    const request = doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:protocol', 'AuthnRequest')[0];
    const issuer = request?.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Issuer')[0]
      ?.textContent;
    if (!request || issuer !== AWS_SP_ENTITY_ID) {
      return send(res, 500, 'text/xml', soapFault('no AuthnRequest from a known service provider'));
    }
    this.logins.push({ method: 'ecp', username: user.username });
    const response = Buffer.from(
      await this.samlResponse(user, this.respond, request.getAttribute('ID') ?? undefined),
      'base64',
    )
      .toString('utf8')
      .replace(/^<\?xml[^>]*>/, '')
      // As Shibboleth does: the XML Schema namespaces declared on the envelope, not on the Response
      // (the signature does not cover where they are declared; the consumer must keep them in scope).
      .replace(
        ' xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
        '',
      );
    send(
      res,
      200,
      'text/xml',
      `<soap11:Envelope xmlns:soap11="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap11:Header><ecp:Response xmlns:ecp="urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp" soap11:mustUnderstand="1" soap11:actor="http://schemas.xmlsoap.org/soap/actor/next" AssertionConsumerServiceURL="${AWS_ACS}"/></soap11:Header><soap11:Body>${response}</soap11:Body></soap11:Envelope>`,
    );
  }

  // --- Negotiate (SPNEGO) ------------------------------------------------------------------------
  private async negotiateLogin(req: http.IncomingMessage, res: http.ServerResponse) {
    const challenge = this.offerNegotiate ? 'Negotiate' : 'Basic realm="saml-idp"';
    const token = /^Negotiate\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token || !this.offerNegotiate) {
      res.writeHead(401, { 'www-authenticate': challenge });
      res.end();
      return;
    }
    const kerberos = await importKerberosAddon();
    let principal: string;
    let reply: string | undefined;
    try {
      const server = await kerberos.initializeServer(this.opts.negotiateService ?? 'HTTP@localhost');
      await server.step(token);
      principal = server.username;
      reply = server.response || undefined;
      if (reply && this.corruptMutualToken)
        reply = Buffer.from('not a GSS token from this service').toString('base64');
    } catch (err) {
      this.negotiateErrors.push((err as Error).message);
      res.writeHead(401, { 'www-authenticate': 'Negotiate' });
      res.end();
      return;
    }
    const user = this.opts.users.find((u) => u.principal === principal);
    if (!user) {
      this.negotiateErrors.push(`no user for principal ${principal}`);
      res.writeHead(401, { 'www-authenticate': 'Negotiate' });
      res.end();
      return;
    }
    return this.autoPost(res, user, 'negotiate', reply ? { 'www-authenticate': `Negotiate ${reply}` } : {});
  }

  private basicUser(req: http.IncomingMessage): SamlUser | undefined {
    const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return undefined;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = this.opts.users.find((u) => u.username === decoded.slice(0, colon));
    return user?.password !== undefined && user.password === decoded.slice(colon + 1) ? user : undefined;
  }

  /** The page that would post the SAMLResponse to AWS from a browser. */
  private async autoPost(
    res: http.ServerResponse,
    user: SamlUser,
    method: LoginRecord['method'],
    headers: Record<string, string> = {},
  ) {
    this.logins.push({ method, username: user.username });
    const value = await this.samlResponse(user, this.respond);
    send(
      res,
      200,
      'text/html',
      page(
        'Working...',
        `<form method="POST" name="hiddenform" action="${AWS_ACS}"><input type="hidden" name="SAMLResponse" value="${value}" /><noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit" /></noscript></form><script>document.forms[0].submit()</script>`,
      ),
      headers,
    );
  }

  /** Renders, signs (with samlify) and spoils a Response; base64. */
  private async samlResponse(user: SamlUser, mode: ResponseMode, inResponseTo?: string): Promise<string> {
    const now = (this.opts.now ?? Date.now)();
    const expired = mode === 'expired';
    const notOnOrAfter = iso(expired ? now - 60_000 : now + 5 * 60_000);
    const acs = mode === 'regional' ? REGIONAL_ACS : AWS_ACS;
    const audience = mode === 'wrong-audience' ? 'urn:example:not-aws' : acs;
    const status =
      mode === 'failed-status'
        ? 'urn:oasis:names:tc:SAML:2.0:status:Responder'
        : 'urn:oasis:names:tc:SAML:2.0:status:Success';
    const attributes = [
      attribute(ROLE_ATTR, user.roles),
      user.sessionName === null
        ? ''
        : attribute('https://aws.amazon.com/SAML/Attributes/RoleSessionName', [
            user.sessionName ?? user.username,
          ]),
      user.sessionDuration === undefined
        ? ''
        : attribute('https://aws.amazon.com/SAML/Attributes/SessionDuration', [String(user.sessionDuration)]),
    ].join('');
    const context = (await this.idp.createLoginResponse(
      this.sp,
      { extract: { request: { id: inResponseTo ?? '' } } },
      'post',
      { email: user.username },
      (template: string) => {
        const id = `_${randomBytes(16).toString('hex')}`;
        const assertionId = `_${randomBytes(16).toString('hex')}`;
        const xml = responseTemplate({
          id,
          assertionId,
          issuer: this.entityId,
          issueInstant: iso(expired ? now - 10 * 60_000 : now),
          notBefore: iso(expired ? now - 10 * 60_000 : now - 60_000),
          notOnOrAfter,
          audience,
          recipient: acs,
          status,
          nameId: user.username,
          inResponseTo,
          attributes,
        });
        void template;
        return { id, context: xml };
      },
    )) as { context: string };
    const xml = Buffer.from(context.context, 'base64').toString('utf8');
    return Buffer.from(spoil(xml, mode), 'utf8').toString('base64');
  }
}

/** Attacks and breakage applied after signing, as an attacker or a broken IdP would. */
function spoil(xml: string, mode: ResponseMode): string {
  switch (mode) {
    case 'unsigned':
      // samlify always signs; a response whose signatures were stripped is what an unsigned IdP sends.
      return xml.replace(/<ds:Signature\b[\s\S]*?<\/ds:Signature>/g, '');
    case 'tampered':
      // Change a signed attribute: role "app" becomes role "admin".
      return xml.replace(/:role\/app\b/, ':role/admin');
    case 'wrapped': {
      // XML signature wrapping: an unsigned evil copy of the assertion (other role, other ID) first,
      // the signed original after it, hoping a verifier checks one and the consumer reads the other.
      const m = /<saml:Assertion\b[\s\S]*<\/saml:Assertion>/.exec(xml);
      if (!m) throw new Error('no assertion to wrap');
      const evil = m[0]
        .replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '')
        .replace(/ ID="[^"]+"/, ' ID="_evil"')
        .replace(/:role\/app\b/, ':role/admin');
      return xml.replace(m[0], `${evil}${m[0]}`);
    }
    case 'xxe':
      return xml
        .replace(
          /^(<\?xml[^>]*>)?/,
          '$1<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        )
        .replace(/(RoleSessionName"[^>]*>\s*<saml:AttributeValue[^>]*>)[^<]*/, '$1&xxe;');
    case 'billion-laughs': {
      const entities = ['<!ENTITY lol0 "lol">'];
      for (let i = 1; i <= 9; i++) entities.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
      return xml
        .replace(/^(<\?xml[^>]*>)?/, `$1<!DOCTYPE samlp:Response [${entities.join('')}]>`)
        .replace(/(RoleSessionName"[^>]*>\s*<saml:AttributeValue[^>]*>)[^<]*/, '$1&lol9;');
    }
    default:
      return xml;
  }
}

interface TemplateFields {
  id: string;
  assertionId: string;
  issuer: string;
  issueInstant: string;
  notBefore: string;
  notOnOrAfter: string;
  audience: string;
  recipient: string;
  status: string;
  nameId: string;
  inResponseTo: string | undefined;
  attributes: string;
}

/** An IdP-initiated Response as ADFS sends it to AWS (no InResponseTo unless answering an ECP request). */
function responseTemplate(f: TemplateFields): string {
  const irt = f.inResponseTo ? ` InResponseTo="${f.inResponseTo}"` : '';
  return (
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="${f.id}" Version="2.0" IssueInstant="${f.issueInstant}" Destination="${f.recipient}"${irt}>` +
    `<saml:Issuer>${f.issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="${f.status}"/></samlp:Status>` +
    `<saml:Assertion ID="${f.assertionId}" Version="2.0" IssueInstant="${f.issueInstant}"><saml:Issuer>${f.issuer}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">${escapeXml(f.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${f.notOnOrAfter}" Recipient="${f.recipient}"${irt}/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${f.notBefore}" NotOnOrAfter="${f.notOnOrAfter}"><saml:AudienceRestriction><saml:Audience>${f.audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${f.issueInstant}" SessionIndex="${f.assertionId}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    `<saml:AttributeStatement>${f.attributes}</saml:AttributeStatement></saml:Assertion></samlp:Response>`
  );
}

function attribute(name: string, values: string[]): string {
  return `<saml:Attribute Name="${name}">${values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${escapeXml(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`;
}

function loginPage(url: URL, error: string, actionOrigin = ''): string {
  return page(
    'Sign In',
    `${error ? `<span id="errorText">${error}</span>` : ''}<form method="post" id="loginForm" action="${actionOrigin}${FORM_PATH}${url.search}&amp;client-request-id=${randomBytes(8).toString('hex')}"><input id="userNameInput" name="UserName" type="email" value=""><input id="passwordInput" name="Password" type="password"><input id="kmsiInput" type="checkbox" name="Kmsi" value="true"><input id="optionForms" type="hidden" name="AuthMethod" value="FormsAuthentication"><span id="submitButton" role="button">Sign in</span></form>`,
  );
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html><html><head><title>${title}</title><script>var x = "<form>";</script></head><body>${body}</body></html>`;
}

function soapFault(message: string): string {
  return `<soap11:Envelope xmlns:soap11="http://schemas.xmlsoap.org/soap/envelope/"><soap11:Body><soap11:Fault><faultcode>soap11:Client</faultcode><faultstring>${message}</faultstring></soap11:Fault></soap11:Body></soap11:Envelope>`;
}

function send(
  res: http.ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': `${type}; charset=utf-8`,
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A fresh RSA key and self-signed certificate (openssl, as an IdP admin would make a token-signing cert). */
export function signingKeyPair(): Promise<{ certPem: string; keyPem: string }> {
  const args = [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    '-',
    '-out',
    '-',
    '-subj',
    '/CN=saml-idp.test',
    '-days',
    '2',
  ];
  return new Promise((resolve, reject) => {
    execFile('openssl', args, (err, stdout) => {
      if (err) return reject(err);
      const keyPem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(stdout)?.[0];
      const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(stdout)?.[0];
      if (!keyPem || !certPem) return reject(new Error('openssl did not print a key and a certificate'));
      resolve({ certPem, keyPem });
    });
  });
}
