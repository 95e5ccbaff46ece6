// The test world plus a SAML IdP (test/harness/saml-idp.ts) registered at the STS emulator as an
// IAM SAML provider, with roles whose trust policies name it (SAML:aud = AWS sign-in).

import { SamlIdp, type SamlUser } from './saml-idp.ts';
import { ACCOUNT, ROLE_ARN, startWorld, type World } from './world.ts';

export const PROVIDER_ARN = `arn:aws:iam::${ACCOUNT}:saml-provider/test-idp`;
export const OTHER_PROVIDER_ARN = `arn:aws:iam::${ACCOUNT}:saml-provider/other-idp`;
export const REPORTS_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/reports`;
export const ADMIN_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/admin`;
export const PASSWORD = 'S3cret-passw0rd!';
/** A role that exists but whose trust policy names no SAML provider. */
export const UNTRUSTED_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/untrusted`;

/** Role attribute value in the role,provider order (or provider,role with `reversed`). */
export function rolePair(role: string, provider = PROVIDER_ARN, reversed = false): string {
  return reversed ? `${provider},${role}` : `${role},${provider}`;
}

export const DEFAULT_USERS: SamlUser[] = [
  { username: 'svc-app', password: PASSWORD, roles: [rolePair(ROLE_ARN)], sessionName: 'svc-app' },
  {
    username: 'svc-multi',
    password: PASSWORD,
    roles: [rolePair(ROLE_ARN), rolePair(REPORTS_ROLE_ARN, PROVIDER_ARN, true)],
  },
  { username: 'svc-short', password: PASSWORD, roles: [rolePair(ROLE_ARN)], sessionDuration: 1800 },
  { username: 'svc-locked', password: PASSWORD, roles: [rolePair(ROLE_ARN)], formOutcome: 'locked' },
  { username: 'svc-mfa', password: PASSWORD, roles: [rolePair(ROLE_ARN)], formOutcome: 'mfa' },
  {
    username: 'svc-two-providers',
    password: PASSWORD,
    roles: [rolePair(ROLE_ARN), rolePair(ROLE_ARN, OTHER_PROVIDER_ARN)],
  },
  { username: 'svc-nameless', password: PASSWORD, roles: [rolePair(ROLE_ARN)], sessionName: null },
  { username: 'svc-untrusted', password: PASSWORD, roles: [rolePair(UNTRUSTED_ROLE_ARN)] },
  {
    username: 'svc-regional',
    password: PASSWORD,
    roles: [rolePair(`arn:aws:iam::${ACCOUNT}:role/regional`)],
  },
  {
    username: 'svc-huge',
    password: PASSWORD,
    roles: Array.from({ length: 200 }, (_, i) => rolePair(`arn:aws:iam::${ACCOUNT}:role/r${i}`)),
  },
];

export interface SamlWorld extends World {
  idp: SamlIdp;
  /** file: reference to the users' password. */
  passwordRef: string;
  /** A saml profile for user `username` logging in with `method`. */
  samlProfile(
    method: 'form' | 'basic' | 'ecp',
    username?: string,
    overrides?: Record<string, unknown>,
  ): Record<string, unknown>;
}

export async function startSamlWorld(
  users: SamlUser[] = DEFAULT_USERS,
  negotiateService?: string,
): Promise<SamlWorld> {
  const world = await startWorld();
  const idp = await SamlIdp.start({ users, negotiateService });
  world.sts.registerSamlProvider({ arn: PROVIDER_ARN, metadataXml: idp.metadataXml });
  world.sts.registerSamlProvider({ arn: OTHER_PROVIDER_ARN, certificate: idp.certificate });
  for (const roleArn of [ROLE_ARN, REPORTS_ROLE_ARN, ADMIN_ROLE_ARN]) {
    world.sts.trustRole({ roleArn, samlProvider: PROVIDER_ARN, maxSessionDuration: 43_200 });
    world.sts.trustRole({ roleArn, samlProvider: OTHER_PROVIDER_ARN });
  }
  world.sts.trustRole({ roleArn: UNTRUSTED_ROLE_ARN, principals: ['*'] });
  const passwordRef = `file:${await world.file('saml-password', `${PASSWORD}\n`)}`;
  const close = world.close;
  return Object.assign(world, {
    idp,
    passwordRef,
    samlProfile(
      method: 'form' | 'basic' | 'ecp',
      username = 'svc-app',
      overrides: Record<string, unknown> = {},
    ) {
      const { source, role, ...rest } = overrides as { source?: object; role?: object };
      return {
        source: {
          type: 'saml',
          idpUrl: idp.urls[method],
          auth: { method, username, password: passwordRef },
          timeout: '5s',
          ...source,
        },
        role: { arn: ROLE_ARN, ...role },
        ...rest,
      };
    },
    async close() {
      await idp.close();
      await close();
    },
  });
}
