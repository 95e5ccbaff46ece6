// AssumeRoleWithSAML as STS does it: the PrincipalArn selects an IAM SAML provider (registered
// with its IdP metadata or signing certificate); the base64 SAMLResponse must be one signed
// Response/Assertion (checked with samlify/xml-crypto against the provider's certificate, wrapping
// refused), meant for AWS (Audience and Recipient), in its validity window, and its Role attribute
// must hold the requested role + provider pair. SessionDuration caps the session.
import { createHash } from 'node:crypto';
import samlify from 'samlify';
import { validateSchema } from '../../../src/sources/saml/assertion.ts';
import {
  type ActionContext,
  assumedRoleUserXml,
  checkRoleMaxDuration,
  credentialsXml,
  issueSession,
} from './actions.ts';
import { errors, type Params, type XmlNode } from './protocol.ts';
import { parseRoleArn } from './trust.ts';
import * as v from './validate.ts';

const ROLE_ATTRIBUTE = 'https://aws.amazon.com/SAML/Attributes/Role';
const SESSION_NAME_ATTRIBUTE = 'https://aws.amazon.com/SAML/Attributes/RoleSessionName';
const SESSION_DURATION_ATTRIBUTE = 'https://aws.amazon.com/SAML/Attributes/SessionDuration';
/** Where AWS sign-in receives SAML: the global endpoint and the regional ones. */
const AWS_SAML_ENDPOINT = /^https:\/\/(([a-z]{2}(-[a-z]+)+-\d)\.)?signin\.aws\.amazon\.com\/saml$/;
const AWS_SP_ENTITY_ID = 'urn:amazon:webservices';
/** Leeway for NotBefore (IdP clock slightly ahead). */
const LEEWAY_MS = 5 * 60_000;
const MAX_ASSERTION_CHARS = 100_000;

export interface SamlProviderRegistration {
  arn: string;
  /** IdP metadata (EntityDescriptor with a signing KeyDescriptor): the Issuer must match its entityID. */
  metadataXml?: string;
  /** Or just the signing certificate (PEM or base64 DER): any issuer. */
  certificate?: string;
}

interface Provider {
  arn: string;
  idp: ReturnType<typeof samlify.IdentityProvider>;
  entityId: string | undefined;
}

export interface VerifiedSaml {
  provider: Provider;
  issuer: string;
  subject: string;
  sessionName: string;
  sessionDuration: number | undefined;
  audience: string;
  /** SubjectConfirmationData Recipient: what the `SAML:aud` condition key holds. */
  recipient: string;
  /** The earliest NotOnOrAfter, ms. */
  notOnOrAfter: number | undefined;
}

/** One call to AssumeRoleWithSAML as the emulator saw it (for tests: what the broker asked for). */
export interface SamlCall {
  roleArn: string;
  principalArn: string;
  durationSeconds: number | undefined;
}

export class SamlVerifier {
  private readonly providers = new Map<string, Provider>();
  readonly calls: SamlCall[] = [];

  /** Like IAM CreateSAMLProvider. */
  register(p: SamlProviderRegistration): string {
    if (!/^arn:aws:iam::\d{12}:saml-provider\/[\w+=,.@-]+$/.test(p.arn))
      throw new Error(`not a SAML provider ARN: ${p.arn}`);
    let idp: Provider['idp'];
    let entityId: string | undefined;
    if (p.metadataXml) {
      idp = samlify.IdentityProvider({ metadata: p.metadataXml });
      entityId = idp.entityMeta.getEntityID();
    } else if (p.certificate) {
      // samlify insists on an SSO endpoint; STS never uses it.
      idp = samlify.IdentityProvider({
        entityID: 'urn:any',
        signingCert: p.certificate,
        singleSignOnService: [
          { Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: 'https://idp.invalid/sso' },
        ],
        singleLogoutService: [
          { Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: 'https://idp.invalid/slo' },
        ],
      });
    } else {
      throw new Error('registerSamlProvider needs metadataXml or certificate');
    }
    this.providers.set(p.arn, { arn: p.arn, idp, entityId });
    return p.arn;
  }

  async verify(base64: string, roleArn: string, principalArn: string, now: number): Promise<VerifiedSaml> {
    const provider = this.providers.get(principalArn);
    if (!provider)
      throw errors.invalidIdentityToken(`No SAML provider found in your account for ${principalArn}`);
    const compact = base64.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact))
      throw errors.invalidIdentityToken('Invalid base64 SAMLResponse');
    const xml = Buffer.from(compact, 'base64').toString('utf8');
    if (/<!DOCTYPE|<!ENTITY/i.test(xml))
      throw errors.invalidIdentityToken('Invalid SAML response: DTDs are not allowed');
    await validateSchema(xml, (why) => errors.invalidIdentityToken(`Invalid SAML response: ${why}`));
    if ((xml.match(/<([\w.-]+:)?Assertion[\s>]/g)?.length ?? 0) !== 1) {
      throw errors.invalidIdentityToken('Invalid SAML response: expected exactly one Assertion');
    }
    let verified: boolean;
    let assertion: string | null;
    try {
      [verified, assertion] = samlify.SamlLib.verifySignature(xml, { metadata: provider.idp.entityMeta }) as [
        boolean,
        string | null,
      ];
    } catch (err) {
      throw errors.invalidIdentityToken(`Response signature invalid (${(err as Error).message})`);
    }
    if (!/<([\w.-]+:)?Signature[\s>]/.test(xml)) throw errors.invalidIdentityToken('Response is not signed');
    if (!verified || !assertion) throw errors.invalidIdentityToken('Response signature invalid');

    // Everything from here is read from the node the signature covers, never from the raw document.
    const fields = samlify.Extractor.extract(assertion, [
      { key: 'issuer', localPath: ['Assertion', 'Issuer'], attributes: [] },
      { key: 'nameId', localPath: ['Assertion', 'Subject', 'NameID'], attributes: [] },
      {
        key: 'audience',
        localPath: ['Assertion', 'Conditions', 'AudienceRestriction', 'Audience'],
        attributes: [],
      },
      {
        key: 'conditions',
        localPath: ['Assertion', 'Conditions'],
        attributes: ['NotBefore', 'NotOnOrAfter'],
      },
      {
        key: 'confirmation',
        localPath: ['Assertion', 'Subject', 'SubjectConfirmation', 'SubjectConfirmationData'],
        attributes: ['NotOnOrAfter', 'Recipient'],
      },
      {
        key: 'attributes',
        localPath: ['Assertion', 'AttributeStatement', 'Attribute'],
        index: ['Name'],
        attributePath: ['AttributeValue'],
        attributes: [],
      },
    ]) as Record<string, unknown>;
    const issuer = String(fields.issuer ?? '');
    if (provider.entityId !== undefined && issuer !== provider.entityId) {
      throw errors.invalidIdentityToken(`Issuer ${issuer} does not match the SAML provider's metadata`);
    }
    const audiences = list(fields.audience);
    const audience = audiences.find((a) => AWS_SAML_ENDPOINT.test(a) || a === AWS_SP_ENTITY_ID);
    if (!audience)
      throw errors.invalidIdentityToken(
        'Audience restriction does not include https://signin.aws.amazon.com/saml',
      );
    const conditions = (fields.conditions ?? {}) as { notBefore?: string; notOnOrAfter?: string };
    const confirmation = (fields.confirmation ?? {}) as { notOnOrAfter?: string; recipient?: string };
    if (!confirmation.recipient || !AWS_SAML_ENDPOINT.test(confirmation.recipient)) {
      throw errors.invalidIdentityToken('Invalid Recipient in SubjectConfirmationData');
    }
    const notBefore = conditions.notBefore ? Date.parse(conditions.notBefore) : undefined;
    if (notBefore !== undefined && notBefore > now + LEEWAY_MS)
      throw errors.invalidIdentityToken('Assertion is not yet valid');
    const ends = [conditions.notOnOrAfter, confirmation.notOnOrAfter]
      .filter((t): t is string => !!t)
      .map(Date.parse);
    const notOnOrAfter = ends.length > 0 ? Math.min(...ends) : undefined;
    if (notOnOrAfter !== undefined && now >= notOnOrAfter)
      throw errors.expiredWebToken('Token expired: the SAML assertion is no longer valid');

    const attributes = (fields.attributes ?? {}) as Record<string, string | string[]>;
    const offered = list(attributes[ROLE_ATTRIBUTE]).some((value) => {
      const parts = value.split(',').map((p) => p.trim());
      return parts.length === 2 && parts.includes(roleArn) && parts.includes(principalArn);
    });
    if (!offered) throw errors.accessDenied('Not authorized to perform sts:AssumeRoleWithSAML');
    const sessionName = list(attributes[SESSION_NAME_ATTRIBUTE])[0];
    if (!sessionName || !/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
      throw errors.invalidIdentityToken('RoleSessionName in the SAML assertion is missing or invalid');
    }
    const duration = Number(list(attributes[SESSION_DURATION_ATTRIBUTE])[0]);
    return {
      provider,
      issuer,
      subject: String(fields.nameId ?? ''),
      sessionName,
      sessionDuration: Number.isInteger(duration) && duration > 0 ? duration : undefined,
      audience,
      recipient: confirmation.recipient,
      notOnOrAfter,
    };
  }
}

export async function assumeRoleWithSaml(ctx: ActionContext, params: Params): Promise<XmlNode> {
  const roleArn = v.roleArn(params);
  const principalArn = params.required('PrincipalArn');
  const assertion = params.required('SAMLAssertion');
  if (assertion.length < 4 || assertion.length > MAX_ASSERTION_CHARS) {
    throw errors.constraint(
      undefined,
      'sAMLAssertion',
      `Member must have length less than or equal to ${MAX_ASSERTION_CHARS}`,
    );
  }
  const requested = params.get('DurationSeconds') === undefined ? undefined : v.durationSeconds(params);
  const policy = v.sessionPolicy(params);
  const policyArns = v.policyArns(params);
  ctx.saml.calls.push({ roleArn, principalArn, durationSeconds: requested });
  const role = parseRoleArn(roleArn);
  const saml = await ctx.saml.verify(assertion, roleArn, principalArn, ctx.now());
  if (!ctx.trust.matchSaml(role.arn, principalArn, saml.recipient)) {
    throw errors.accessDenied('Not authorized to perform sts:AssumeRoleWithSAML');
  }
  const duration = requested ?? 3600;
  checkRoleMaxDuration(ctx, role, duration);
  // The assertion's SessionDuration is an upper bound on the session.
  const granted = saml.sessionDuration === undefined ? duration : Math.min(duration, saml.sessionDuration);
  const session = issueSession(ctx, role, {
    sessionName: saml.sessionName,
    duration: granted,
    via: 'AssumeRoleWithSAML',
    tags: [],
    policy,
    policyArns,
    sourceIdentity: undefined,
  });
  return {
    Credentials: credentialsXml(session),
    AssumedRoleUser: assumedRoleUserXml(session),
    Subject: saml.subject,
    SubjectType: 'persistent',
    Issuer: saml.issuer,
    Audience: saml.audience,
    // As AWS documents it: base64(SHA-1(Issuer + account ID + "/" + provider name)).
    NameQualifier: createHash('sha1')
      .update(`${saml.issuer}${role.account}/${saml.provider.arn.split('/').pop()}`)
      .digest('base64'),
  };
}

function list(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).filter((s): s is string => typeof s === 'string');
}
