// Reading a SAML Response that came over the network, before it goes to STS. The broker does not
// hold the IdP's certificate (STS verifies the signature against the IAM SAML provider), so this
// is about refusing early, with a clear reason, what STS would refuse or what could hurt us:
// oversized or non-XML input, DTDs (entity expansion, external entities), schema-invalid XML,
// a failed status, no signature at all, an expired assertion, and missing AWS attributes.
import { createHash } from 'node:crypto';
import { type ErrorCode, SourceError } from '../../errors.ts';
import type { SamlRolePair } from '../../model/proof.ts';
import { SAML_SCHEMAS } from './schemas.ts';

export const ROLE_ATTRIBUTE = 'https://aws.amazon.com/SAML/Attributes/Role';
export const ROLE_SESSION_NAME_ATTRIBUTE = 'https://aws.amazon.com/SAML/Attributes/RoleSessionName';
export const SESSION_DURATION_ATTRIBUTE = 'https://aws.amazon.com/SAML/Attributes/SessionDuration';

export interface ParsedSamlResponse {
  issuer: string | undefined;
  roles: SamlRolePair[];
  roleSessionName: string;
  sessionDuration: number | undefined;
  /** The earliest of the Conditions and SubjectConfirmationData NotOnOrAfter (ms). */
  notOnOrAfter: number | undefined;
}

export interface ParseContext {
  profile: string;
  /** The IdP, for messages. */
  idp: string;
  maxBytes: number;
  now?: number;
}

const PROTOCOL_SCHEMA = 'saml-schema-protocol-2.0.xsd';
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/\S+$/;
const PROVIDER_ARN = /^arn:aws[a-z-]*:iam::\d{12}:saml-provider\/\S+$/;

/** Decodes and checks a base64 SAMLResponse; throws a coded SourceError naming what is wrong. */
export async function parseSamlResponse(base64: string, ctx: ParseContext): Promise<ParsedSamlResponse> {
  const fail = (code: ErrorCode, why: string, retryable = false) =>
    new SourceError(code, `the SAML response from ${ctx.idp} ${why}`, { profile: ctx.profile, retryable });

  const compact = base64.replace(/\s+/g, '');
  if (compact.length > Math.ceil((ctx.maxBytes * 4) / 3) + 4) {
    throw fail('SAML_RESPONSE_TOO_LARGE', `is larger than source.maxResponseBytes (${ctx.maxBytes})`);
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw fail('SAML_RESPONSE_MALFORMED', 'is not base64');
  const xml = Buffer.from(compact, 'base64').toString('utf8');
  // SAML forbids DTDs; refusing them before any parser runs rules out entity expansion
  // ("billion laughs") and external entities (XXE) whatever the parsers would do.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) {
    throw fail(
      'SAML_RESPONSE_HOSTILE',
      'contains a DTD (<!DOCTYPE>/<!ENTITY>), which SAML forbids; refused without parsing (an XXE or entity-expansion attempt, or a broken IdP)',
    );
  }
  await validateSchema(xml, (why) => fail('SAML_RESPONSE_MALFORMED', why));
  // AWS takes exactly one assertion; a second one is how signature-wrapping attacks smuggle theirs in.
  const assertions = xml.match(/<([\w.-]+:)?Assertion[\s>]/g)?.length ?? 0;
  if (assertions > 1) {
    throw fail(
      'SAML_RESPONSE_HOSTILE',
      `contains ${assertions} Assertion elements where AWS accepts one (an XML signature wrapping attempt?); refused`,
    );
  }

  // Loaded on first use: a broker without SAML profiles should not pay for samlify (~15 MB).
  const samlify = await loadSamlify();
  const fields = samlify.Extractor.extract(xml, [
    { key: 'status', localPath: ['Response', 'Status', 'StatusCode'], attributes: ['Value'] },
    {
      key: 'subStatus',
      localPath: ['Response', 'Status', 'StatusCode', 'StatusCode'],
      attributes: ['Value'],
    },
    { key: 'statusMessage', localPath: ['Response', 'Status', 'StatusMessage'], attributes: [] },
    { key: 'assertion', localPath: ['~Response', 'Assertion'], attributes: [], context: true },
    { key: 'responseSignature', localPath: ['Response', 'Signature'], attributes: [], context: true },
  ]) as Record<string, unknown>;
  const status = String(fields.status ?? '');
  if (!status.endsWith(':Success')) {
    const detail = [fields.subStatus, fields.statusMessage]
      .filter((s) => typeof s === 'string' && s)
      .join(', ');
    throw fail(
      'SAML_IDP_STATUS',
      `reports failure (${status || 'no status'}${detail ? `: ${detail}` : ''}); see the IdP's log for this login`,
    );
  }
  const assertion = typeof fields.assertion === 'string' ? fields.assertion : undefined;
  if (!assertion) {
    throw fail(
      'SAML_RESPONSE_MALFORMED',
      'holds no (unencrypted) Assertion; AWS needs one, signed and not encrypted for the broker to read its roles',
    );
  }
  const a = samlify.Extractor.extract(assertion, [
    { key: 'signature', localPath: ['Assertion', 'Signature'], attributes: [], context: true },
    { key: 'issuer', localPath: ['Assertion', 'Issuer'], attributes: [] },
    { key: 'conditions', localPath: ['Assertion', 'Conditions'], attributes: ['NotOnOrAfter'] },
    {
      key: 'confirmation',
      localPath: ['Assertion', 'Subject', 'SubjectConfirmation', 'SubjectConfirmationData'],
      attributes: ['NotOnOrAfter'],
    },
    {
      key: 'attributes',
      localPath: ['Assertion', 'AttributeStatement', 'Attribute'],
      index: ['Name'],
      attributePath: ['AttributeValue'],
      attributes: [],
    },
  ]) as Record<string, unknown>;
  if (!fields.responseSignature && !a.signature) {
    throw fail(
      'SAML_RESPONSE_UNSIGNED',
      'is not signed (neither the Response nor the Assertion carries a Signature), so AWS would refuse it; make the IdP sign the assertion for the AWS relying party',
    );
  }

  // samlify's extractor gives the bare value when one attribute is asked for.
  const notOnOrAfter = earliest(a.conditions, a.confirmation);
  const now = ctx.now ?? Date.now();
  if (notOnOrAfter !== undefined && notOnOrAfter <= now) {
    throw fail(
      'SAML_RESPONSE_EXPIRED',
      `expired at ${new Date(notOnOrAfter).toISOString()} (now ${new Date(now).toISOString()}); check the IdP's and this host's clocks`,
      true,
    );
  }

  const attributes = (a.attributes ?? {}) as Record<string, string | string[]>;
  const roles = values(attributes[ROLE_ATTRIBUTE])
    .map(parseRolePair)
    .filter((r): r is SamlRolePair => r !== undefined);
  if (roles.length === 0) {
    throw fail(
      'SAML_ATTRIBUTE_MISSING',
      `offers no AWS role: it needs the attribute ${ROLE_ATTRIBUTE} with values "ROLE_ARN,SAML_PROVIDER_ARN" (map it at the IdP for this user or group)`,
    );
  }
  const roleSessionName = values(attributes[ROLE_SESSION_NAME_ATTRIBUTE])[0];
  if (!roleSessionName) {
    throw fail(
      'SAML_ATTRIBUTE_MISSING',
      `has no ${ROLE_SESSION_NAME_ATTRIBUTE} attribute, which AWS requires (map it at the IdP, e.g. to the user name)`,
    );
  }
  const duration = Number(values(attributes[SESSION_DURATION_ATTRIBUTE])[0]);
  return {
    issuer: typeof a.issuer === 'string' ? a.issuer : undefined,
    roles,
    roleSessionName,
    sessionDuration: Number.isInteger(duration) && duration > 0 ? duration : undefined,
    notOnOrAfter,
  };
}

/** `role,provider` or `provider,role` (both orders occur in the wild). */
export function parseRolePair(value: string): SamlRolePair | undefined {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length !== 2) return undefined;
  const roleArn = parts.find((p) => ROLE_ARN.test(p));
  const principalArn = parts.find((p) => PROVIDER_ARN.test(p));
  return roleArn && principalArn ? { roleArn, principalArn } : undefined;
}

// Validity is a property of the text alone, and xmllint-wasm costs a worker start per call, so
// digests of documents already found valid are remembered (a few, for a retried exchange).
const validDigests = new Set<string>();
const MAX_REMEMBERED = 32;

/** Schema validation against the SAML 2.0 protocol schema, offline (xmllint compiled to wasm). */
export async function validateSchema(xml: string, fail: (why: string) => Error): Promise<void> {
  const digest = createHash('sha256').update(xml).digest('hex');
  if (validDigests.has(digest)) return;
  const { validateXML } = await import('xmllint-wasm');
  let result: Awaited<ReturnType<typeof validateXML>>;
  try {
    result = await validateXML({
      xml: { fileName: 'response.xml', contents: xml },
      schema: SAML_SCHEMAS.find((s) => s.fileName === PROTOCOL_SCHEMA)!,
      preload: SAML_SCHEMAS.filter((s) => s.fileName !== PROTOCOL_SCHEMA),
      // No network, no DTD loading, no entity substitution: the input is hostile until proven otherwise.
      modifyArguments: (args) => ['--nonet', ...args],
    });
  } catch (err) {
    throw fail(`could not be checked against the SAML schema (${(err as Error).message.slice(0, 200)})`);
  }
  if (!result.valid) {
    const first = result.errors[0]?.message ?? 'invalid';
    throw fail(`is not a valid SAML 2.0 Response (${first.replace(/\s+/g, ' ').slice(0, 240)})`);
  }
  if (validDigests.size >= MAX_REMEMBERED) validDigests.delete(validDigests.values().next().value!);
  validDigests.add(digest);
}

function values(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((s) => typeof s === 'string');
}

function earliest(...times: unknown[]): number | undefined {
  const parsed = times
    .map((t) => (typeof t === 'string' ? Date.parse(t) : Number.NaN))
    .filter((t) => !Number.isNaN(t));
  return parsed.length > 0 ? Math.min(...parsed) : undefined;
}

type Samlify = typeof import('samlify');
let samlifyModule: Promise<Samlify> | undefined;

/** samlify is CommonJS: depending on the loader, its API is the namespace or its `default`. */
function loadSamlify(): Promise<Samlify> {
  samlifyModule ??= import('samlify').then((mod) => {
    const ns = mod as unknown as Samlify & { default?: Samlify };
    return ns.Extractor ? ns : (ns.default as Samlify);
  });
  return samlifyModule;
}
