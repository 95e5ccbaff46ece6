// `ecp`: the SAML 2.0 ECP profile (PAOS/SOAP), the standard unattended login of Shibboleth and
// Keycloak. AWS is not an ECP service provider, so the broker writes the AuthnRequest AWS would
// send (issuer urn:amazon:webservices, ACS https://signin.aws.amazon.com/saml), posts it in a SOAP
// envelope to the IdP's ECP endpoint with HTTP Basic, and takes the Response out of the SOAP answer.
import { randomBytes } from 'node:crypto';
import { DOMParser, type Element, XMLSerializer } from '@xmldom/xmldom';
import { SourceError } from '../../errors.ts';
import { pageTitle } from './html.ts';
import { expectSuccess, type HttpAnswer } from './http.ts';
import { idpSession, type LoginContext, type SamlLogin } from './login.ts';
import { basicAuthorizer, loginRejected } from './login-basic.ts';

const SOAP_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
const PROTOCOL_NS = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const AWS_SP_ENTITY_ID = 'urn:amazon:webservices';
export const AWS_ACS_URL = 'https://signin.aws.amazon.com/saml';

type EcpAuth = { username: string; password: string };

/** What IdPs say for a wrong or unknown password: SimpleSAMLphp's error code, SAML's AuthnFailed. */
const WRONG_CREDENTIALS =
  /WRONGUSERPASS|status:AuthnFailed|invalid (user|credentials|password)|authentication failed/i;

export class EcpLogin implements SamlLogin {
  constructor(
    private readonly ctx: LoginContext,
    private readonly auth: EcpAuth,
  ) {}

  async login(): Promise<string> {
    const { profile, idpUrl } = this.ctx;
    // ECP has no challenge step of its own: SimpleSAMLphp (like Office 365) reads Basic credentials
    // from the AuthnRequest's POST and never sends a 401; Shibboleth challenges. Send them up front.
    const session = idpSession(this.ctx, basicAuthorizer(this.auth, true));
    const answer = await session.request(idpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'text/xml; charset=utf-8',
        accept: 'text/xml, application/vnd.paos+xml',
        paos: 'ver="urn:liberty:paos:2003-08";"urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp"',
        soapaction: 'http://www.oasis-open.org/committees/security',
      },
      body: authnRequestEnvelope(),
    });
    if (answer.status === 401) throw loginRejected(answer, this.auth.username, profile, 'ECP (HTTP Basic)');
    const fault = answer.status >= 400 ? soapFault(answer.body) : undefined;
    if (fault && WRONG_CREDENTIALS.test(fault)) throw this.rejected(answer, fault);
    if (fault) {
      throw new SourceError('SAML_IDP_ERROR', `the IdP's ECP endpoint answered a SOAP fault: ${fault}`, {
        profile,
        retryable: answer.status >= 500 && !/auth/i.test(fault),
      });
    }
    if (isHtml(answer)) throw this.notEcp(answer);
    expectSuccess(answer, profile, 'ECP login');
    const fail = (why: string) =>
      new SourceError('SAML_RESPONSE_MALFORMED', `the IdP's ECP answer at ${idpUrl.origin} ${why}`, {
        profile,
      });
    const response = responseElementOf(answer.body, fail);
    // A refused password comes back as a SAML Response with an error status (SimpleSAMLphp:
    // Responder, "WRONGUSERPASS"; Shibboleth: AuthnFailed), not as an HTTP error.
    const status = statusOf(response);
    if (status && WRONG_CREDENTIALS.test(status)) throw this.rejected(answer, status);
    return serializeResponse(response);
  }

  private rejected(answer: HttpAnswer, said: string): SourceError {
    return new SourceError(
      'SAML_LOGIN_REJECTED',
      `the IdP at ${answer.url.origin} refused ECP login for "${this.auth.username}" (it says: ${said.slice(0, 160)}); check auth.username and the password secret, and that the account is enabled`,
      { profile: this.ctx.profile },
    );
  }

  /** An HTML page where a SOAP envelope belongs: the IdP took the request for a browser's. */
  private notEcp(answer: HttpAnswer): SourceError {
    const title = pageTitle(answer.body);
    return new SourceError(
      'SAML_IDP_ERROR',
      `the IdP at ${answer.url.origin}${answer.url.pathname} answered the ECP request with an HTML page${title ? ` ("${title}")` : ''} instead of a SOAP envelope: it did not take the request as ECP. Most often the relying party urn:amazon:webservices has no AssertionConsumerService with the PAOS binding (urn:oasis:names:tc:SAML:2.0:bindings:PAOS, Location ${AWS_ACS_URL}) — AWS's published metadata has none, so add it at the IdP — or ECP is not enabled there, or source.idpUrl is not the ECP endpoint`,
      { profile: this.ctx.profile, retryable: answer.status >= 500 },
    );
  }
}

function authnRequestEnvelope(): string {
  const id = `_${randomBytes(16).toString('hex')}`;
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  return (
    `<S:Envelope xmlns:S="${SOAP_NS}"><S:Body>` +
    `<samlp:AuthnRequest xmlns:samlp="${PROTOCOL_NS}" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` +
    ` ID="${id}" Version="2.0" IssueInstant="${now}" AssertionConsumerServiceURL="${AWS_ACS_URL}"` +
    ` ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:PAOS">` +
    `<saml:Issuer>${AWS_SP_ENTITY_ID}</saml:Issuer><samlp:NameIDPolicy AllowCreate="true"/>` +
    `</samlp:AuthnRequest></S:Body></S:Envelope>`
  );
}

/** The samlp:Response in the SOAP Body, serialized on its own (in-scope namespaces carried along), base64. */
export function responseOfEnvelope(xml: string, fail: (why: string) => Error): string {
  return serializeResponse(responseElementOf(xml, fail));
}

function responseElementOf(xml: string, fail: (why: string) => Error): Element {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw fail('contains a DTD, which SOAP and SAML forbid; refused');
  let response: Element | undefined;
  try {
    const doc = new DOMParser({
      errorHandler: (level: string, message: string) => {
        if (level !== 'warning') throw new Error(message);
      },
    }).parseFromString(xml, 'text/xml');
    const body = doc.getElementsByTagNameNS(SOAP_NS, 'Body')[0];
    response = body ? (body.getElementsByTagNameNS(PROTOCOL_NS, 'Response')[0] ?? undefined) : undefined;
  } catch (err) {
    throw fail(`is not XML (${(err as Error).message.slice(0, 160)})`);
  }
  if (!response)
    throw fail('has no SOAP Body with a SAML Response; check that source.idpUrl is the ECP endpoint');
  return response;
}

function serializeResponse(response: Element): string {
  // Namespaces declared on the envelope stay in scope for the Response: a prefix used only inside
  // attribute values (xsi:type="xs:string") and named in the signature's InclusiveNamespaces must
  // still be declared, or STS's canonical form (and so the signature) would differ.
  for (let node = response.parentNode; node && node.nodeType === node.ELEMENT_NODE; node = node.parentNode) {
    const attributes = (node as Element).attributes;
    for (let i = 0; i < attributes.length; i++) {
      const a = attributes.item(i)!;
      if ((a.name === 'xmlns' || a.name.startsWith('xmlns:')) && !response.hasAttribute(a.name)) {
        response.setAttributeNS('http://www.w3.org/2000/xmlns/', a.name, a.value);
      }
    }
  }
  return Buffer.from(new XMLSerializer().serializeToString(response), 'utf8').toString('base64');
}

/** A non-success Response's status codes and message, joined; undefined for Success. */
function statusOf(response: Element): string | undefined {
  const status = response.getElementsByTagNameNS(PROTOCOL_NS, 'Status')[0];
  if (!status) return undefined;
  const codes = Array.from(status.getElementsByTagNameNS(PROTOCOL_NS, 'StatusCode')).map(
    (c) => c.getAttribute('Value') ?? '',
  );
  if (codes[0] === 'urn:oasis:names:tc:SAML:2.0:status:Success') return undefined;
  const message = status.getElementsByTagNameNS(PROTOCOL_NS, 'StatusMessage')[0]?.textContent ?? '';
  return [...codes, message].filter(Boolean).join(' ');
}

function isHtml(answer: HttpAnswer): boolean {
  return (
    /^text\/html\b/i.test(answer.headers.get('content-type') ?? '') ||
    /^\s*(<!doctype html|<html\b)/i.test(answer.body)
  );
}

function soapFault(xml: string): string | undefined {
  const m = /<(?:\w+:)?faultstring>([^<]{0,200})</.exec(xml);
  return m ? m[1] : undefined;
}
