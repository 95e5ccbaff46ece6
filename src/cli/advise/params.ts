// The values of the starter files (starter.ts): from the options, and in interactive mode, when
// the files are written (--out), asked for: only those the recommended mechanism's files use and no
// option gave, each checked as typed, with a default in brackets where one makes sense. The account
// id has none: a placeholder account in written files makes a role no one can use.
import { REGION_PATTERN } from '../../model/region.ts';
import { isHttpsOrLoopback } from '../../net.ts';
import type { MechanismId } from './decide.ts';
import type { Parsed, Prompter } from './prompt.ts';
import { DEFAULT_PARAMS, type StarterParams } from './starter.ts';

type Key = keyof StarterParams;

/** The option that gives each value. */
export const PARAM_OPTIONS: Record<Key, string> = {
  accountId: 'account-id',
  roleName: 'role-name',
  region: 'region',
  issuer: 'issuer',
  clientId: 'client-id',
  namespace: 'namespace',
  serviceAccount: 'service-account',
  idpUrl: 'idp-url',
  name: 'name',
};

/** What each mechanism's files use, in the order asked, with the question as that mechanism
 * means it (the client id is an OIDC client, a certificate's CN or an IAM user). */
const ASKED: Record<MechanismId, [Key, string][]> = {
  kubernetes: [
    ['issuer', "The cluster's service-account issuer URL?"],
    ['namespace', "The app's Kubernetes namespace?"],
    ['serviceAccount', "The app's Kubernetes service account?"],
  ],
  oidc: [
    ['issuer', "The OIDC provider's issuer URL?"],
    ['clientId', "The app's client id at the OIDC provider?"],
  ],
  mtls: [['clientId', "The subject CN of the machine's certificate?"]],
  saml: [
    ['idpUrl', "The SAML IdP's sign-on URL (IdP-initiated, for AWS)?"],
    ['name', 'The name of the IAM SAML provider for that IdP (an existing one, or the one to create)?'],
  ],
  kerberos: [
    ['idpUrl', "The SAML IdP's sign-on URL (IdP-initiated, for AWS)?"],
    ['name', 'The name of the IAM SAML provider for that IdP (an existing one, or the one to create)?'],
  ],
  sigv4: [['clientId', 'The IAM user whose access keys the broker holds?']],
};

const COMMON: [Key, string][] = [
  ['accountId', 'The AWS account id (12 digits) the role is in?'],
  ['roleName', 'The name of the IAM role the app gets?'],
  ['region', 'The AWS region for STS?'],
];

/** An https (or loopback http) URL. The issuer also names the IAM OIDC provider in aws-setup.sh,
 * so it is a plain one: no query or fragment (OIDC issuers have none), nothing a shell reads. */
const url =
  (what: string, plain: boolean) =>
  (a: string): Parsed<string> => {
    const u = URL.canParse(a) ? new URL(a) : undefined;
    if (!u || !isHttpsOrLoopback(u) || /\s/.test(a)) {
      return {
        problem: `${what} must be an https URL (plain http only to 127.0.0.1, ::1 or localhost), not "${a}"`,
      };
    }
    if (plain && (u.search || u.hash || /['"$`\\;&|<>()*?]/.test(a))) {
      return {
        problem: `${what} must be a plain URL: no query, fragment, quotes or shell characters, not "${a}"`,
      };
    }
    return { value: a };
  };

const RULES: Record<
  Key,
  { test: (a: string) => Parsed<string>; fallback?: (p: Partial<StarterParams>) => string | undefined }
> = {
  accountId: {
    test: (a) =>
      /^\d{12}$/.test(a)
        ? { value: a }
        : { problem: `an AWS account id is 12 digits, like 111122223333, not "${a}"` },
  },
  roleName: {
    test: match(/^[\w+=,.@-]{1,64}$/, 'a role name is 1 to 64 letters, digits and + = , . @ _ -'),
    fallback: () => DEFAULT_PARAMS.roleName,
  },
  region: {
    test: match(REGION_PATTERN, 'a region looks like eu-west-1 or us-gov-west-1'),
    fallback: () => process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || DEFAULT_PARAMS.region,
  },
  issuer: { test: url('the issuer', true) },
  clientId: {
    test: match(/^[\w+=,.@:/-]{1,128}$/, 'a name of letters, digits and + = , . @ : / _ -'),
    fallback: (p) => p.roleName,
  },
  namespace: {
    test: match(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a namespace is a DNS label: a-z, 0-9 and -'),
    fallback: () => DEFAULT_PARAMS.namespace,
  },
  serviceAccount: {
    test: match(
      /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/,
      'a service account name is a DNS name: a-z, 0-9, - and .',
    ),
    fallback: (p) => p.roleName,
  },
  idpUrl: { test: url('the sign-on URL', false) },
  name: {
    test: match(/^[\w.-]{1,128}$/, 'a provider name is letters, digits and . _ -'),
    fallback: (p) => (p.idpUrl ? new URL(p.idpUrl).hostname : undefined),
  },
};

function match(re: RegExp, rule: string): (a: string) => Parsed<string> {
  return (a) => (re.test(a) ? { value: a } : { problem: `${rule}, not "${a}"` });
}

/** The values the options give, held to the rules of the answers (most land unquoted in
 * aws-setup.sh), or what is wrong with the first that breaks one. */
export function paramsFrom(
  option: (name: string) => string | undefined,
): { given: Partial<StarterParams> } | { problem: string } {
  const given: Partial<StarterParams> = {};
  for (const [key, name] of Object.entries(PARAM_OPTIONS) as [Key, string][]) {
    const v = option(name);
    if (v === undefined) continue;
    const parsed = RULES[key].test(v);
    if ('problem' in parsed) return { problem: `--${name}: ${parsed.problem}` };
    given[key] = parsed.value;
  }
  return { given };
}

/** Asks for what `id`'s files use and `given` lacks; the values asked for none take their
 * defaults from the answers (the client id and service account from the role name, say). */
export async function askParams(
  id: MechanismId,
  given: Partial<StarterParams>,
  prompt: Prompter,
): Promise<StarterParams> {
  const p = { ...given };
  for (const [key, question] of [...COMMON, ...ASKED[id]]) {
    if (p[key] !== undefined) continue;
    p[key] = await prompt.ask(question, RULES[key].test, offered(key, p));
  }
  for (const key of Object.keys(RULES) as Key[]) p[key] ??= offered(key, p) ?? DEFAULT_PARAMS[key];
  return p as StarterParams;
}

/** A default is offered only when it would itself be accepted. */
function offered(key: Key, p: Partial<StarterParams>): string | undefined {
  const value = RULES[key].fallback?.(p);
  return value !== undefined && 'value' in RULES[key].test(value) ? value : undefined;
}
