// `ecp`: the SAML 2.0 ECP profile (PAOS/SOAP), the standard unattended login of Shibboleth and
// Keycloak. AWS is not an ECP service provider, so the broker writes the AuthnRequest AWS would
// send (issuer urn:amazon:webservices, ACS https://signin.aws.amazon.com/saml), posts it in a SOAP
// envelope to the IdP's ECP endpoint with HTTP Basic, and takes the Response out of the SOAP answer.
import { randomBytes } from 'node:crypto';
import { DOMParser, type Element, XMLSerializer } from '@xmldom/xmldom';
import { SourceError } from '../../errors.ts';
import { expectSuccess } from './http.ts';
import { idpSession, type LoginContext, type SamlLogin } from './login.ts';
import { basicAuthorizer, loginRejected } from './login-basic.ts';

const SOAP_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
const PROTOCOL_NS = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const AWS_SP_ENTITY_ID = 'urn:amazon:webservices';
export const AWS_ACS_URL = 'https://signin.aws.amazon.com/saml';

type EcpAuth = { username: string; password: string };

export class EcpLogin implements SamlLogin {
  constructor(
    private readonly ctx: LoginContext,
    private readonly auth: EcpAuth,
  ) {}

  async login(): Promise<string> {
    const { profile, idpUrl } = this.ctx;
    const session = idpSession(this.ctx, basicAuthorizer(this.auth, profile));
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
    if (fault) {
      throw new SourceError('SAML_IDP_ERROR', `the IdP's ECP endpoint answered a SOAP fault: ${fault}`, {
        profile,
        retryable: answer.status >= 500 && !/auth/i.test(fault),
      });
    }
    expectSuccess(answer, profile, 'ECP login');
    return responseOfEnvelope(
      answer.body,
      (why) =>
        new SourceError('SAML_RESPONSE_MALFORMED', `the IdP's ECP answer at ${idpUrl.origin} ${why}`, {
          profile,
        }),
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

function soapFault(xml: string): string | undefined {
  const m = /<(?:\w+:)?faultstring>([^<]{0,200})</.exec(xml);
  return m ? m[1] : undefined;
}
