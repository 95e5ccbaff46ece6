// The decision helper of AWS's guidance on connecting external applications, turned into code.
// It compares the mechanisms by complexity and convenience and recommends, in order: what the
// workload platform already issues (a Kubernetes service-account token is OIDC), an OIDC provider,
// certificates when their upkeep already has a process, SAML when a SAML process exists, Kerberos
// only when nothing else fits, and long-lived AWS keys last: the broker exists to avoid them.
// Active Directory on its own is not a machine-to-machine mechanism.
//
// Kerberos reaches AWS only as a login to a SAML IdP that accepts SPNEGO (ADFS Windows Integrated
// Authentication, Keycloak), so it needs the SAML IdP too, and a password login to that same IdP
// is simpler. "Nothing else fits" is therefore the IdP allowing this machine no password account:
// `samlLogin: 'kerberos'` takes SAML-with-a-password out and leaves Kerberos (still below OIDC and
// certificates, which need no IdP login at all).

export type MechanismId = 'kubernetes' | 'oidc' | 'mtls' | 'saml' | 'kerberos' | 'sigv4';

export interface Mechanism {
  id: MechanismId;
  /** As the guidance names it. */
  name: string;
  /** The broker's `source.type` (and SAML auth method) that implements it. */
  source: string;
  complexity: 'low' | 'medium' | 'high' | 'very high';
  convenience: 'low' | 'medium' | 'high' | 'very high';
  /** When the guidance says to choose it. */
  when: string;
  tradeoff: string;
}

export const MECHANISMS: Record<MechanismId, Mechanism> = {
  kubernetes: {
    id: 'kubernetes',
    name: 'OIDC (Kubernetes service-account token)',
    source: 'web-identity-file',
    complexity: 'medium',
    convenience: 'high',
    when: 'the app runs in a Kubernetes cluster whose service-account issuer AWS can reach (discovery + JWKS)',
    tradeoff:
      'no secret to manage at all: the kubelet rotates the token; needs the issuer published where STS can fetch its keys',
  },
  oidc: {
    id: 'oidc',
    name: 'OIDC',
    source: 'oidc',
    complexity: 'medium',
    convenience: 'high',
    when: 'an OIDC provider can issue client-credential tokens: REST-based temporary credentials',
    tradeoff:
      'a client secret or, better, a private key (private_key_jwt) per app to rotate; the provider must be reachable by STS',
  },
  mtls: {
    id: 'mtls',
    name: 'Mutual TLS (X.509 certificates, IAM Roles Anywhere)',
    source: 'x509',
    complexity: 'medium',
    convenience: 'high',
    when: 'certificate upkeep is acceptable and already has a process (issuance, renewal, revocation)',
    tradeoff: 'certificate lifecycle is the main cost: expiry outages if renewal is not automated',
  },
  saml: {
    id: 'saml',
    name: 'SAML',
    source: 'saml',
    complexity: 'high',
    convenience: 'medium',
    when: 'a SAML process exists (ADFS, Keycloak, Shibboleth, Okta, PingFederate)',
    tradeoff:
      'a service account with a password at the IdP, and XML assertions to keep well-formed and signed',
  },
  kerberos: {
    id: 'kerberos',
    name: 'Kerberos',
    source: 'saml (auth.method: kerberos)',
    complexity: 'very high',
    convenience: 'low',
    when: 'a Kerberos process exists and nothing else fits (AWS does not accept Kerberos: the broker logs in to a SAML IdP with SPNEGO)',
    tradeoff:
      'keytabs, SPNs, clock sync and a SAML IdP doing Windows Integrated Authentication all have to line up',
  },
  sigv4: {
    id: 'sigv4',
    name: 'SigV4 (AWS access keys)',
    source: 'aws',
    complexity: 'low',
    convenience: 'very high',
    when: 'you already hold AWS credentials and call AWS APIs directly',
    tradeoff:
      'long-lived keys are the risk this broker exists to remove: keep them only as the first hop of an AssumeRole, rotate them, and plan a move to another mechanism',
  },
};

export interface Facts {
  /** An OIDC provider that can issue client-credential tokens. */
  oidc: boolean;
  saml: boolean;
  /** Kerberos / Active Directory with keytabs for service accounts. */
  kerberos: boolean;
  /** How the SAML IdP may log this machine in: with a service account's password (the default), or
   * only with Windows Integrated Authentication, i.e. Kerberos from a keytab. */
  samlLogin?: 'password' | 'kerberos';
  /** A PKI with a certificate issuance and renewal process. */
  pki: boolean;
  /** Kubernetes clusters with a service-account issuer AWS can reach. */
  kubernetes: boolean;
  awsKeys: boolean;
  /** Where the app runs. */
  runsOn: 'kubernetes' | 'server';
}

export interface Advice {
  recommended: Mechanism | undefined;
  why: string;
  alternatives: Mechanism[];
  /** Things the organisation mentioned that cannot be used, and why. */
  notes: string[];
}

const ORDER: MechanismId[] = ['kubernetes', 'oidc', 'mtls', 'saml', 'kerberos', 'sigv4'];

/** The mechanisms these facts make usable (the "you have it" column, and what decide ranks). */
export function available(f: Facts): Set<MechanismId> {
  const has = new Set<MechanismId>();
  if (f.kubernetes && f.runsOn === 'kubernetes') has.add('kubernetes');
  if (f.oidc) has.add('oidc');
  if (f.pki) has.add('mtls');
  if (f.saml && f.samlLogin !== 'kerberos') has.add('saml');
  if (f.kerberos && f.saml) has.add('kerberos');
  if (f.awsKeys) has.add('sigv4');
  return has;
}

export function decide(f: Facts): Advice {
  const has = available(f);
  const ranked = ORDER.filter((id) => has.has(id)).map((id) => MECHANISMS[id]);
  const notes: string[] = [];
  if (f.kubernetes && f.runsOn !== 'kubernetes') {
    notes.push(
      'Kubernetes service-account tokens only help apps that run in the cluster; this app runs on a server.',
    );
  }
  if (f.kerberos && !f.saml) {
    notes.push(
      'Kerberos alone cannot reach AWS: STS does not accept Kerberos tickets. It works through a SAML IdP that accepts SPNEGO (ADFS Windows Integrated Authentication, Keycloak); Active Directory by itself is not a fit for machine-to-machine access.',
    );
  }
  if (f.saml && f.samlLogin === 'kerberos' && !f.kerberos) {
    notes.push(
      'Your SAML IdP logs machines in only with Windows Integrated Authentication: the broker can do that from a keytab of a service account (Kerberos, auth.method: kerberos), once keytabs for service accounts are issued.',
    );
  }
  const [recommended, ...alternatives] = ranked;
  if (!recommended) {
    return {
      recommended: undefined,
      why: 'Nothing you have today can give this app temporary AWS credentials without a person. The least effort is usually an OIDC provider with a client-credentials client (Keycloak, or the one your organisation already runs), or IAM Roles Anywhere with a private CA if certificates are already managed.',
      alternatives: [],
      notes,
    };
  }
  return { recommended, why: whyFor(recommended.id, f), alternatives, notes };
}

function whyFor(id: MechanismId, f: Facts): string {
  switch (id) {
    case 'kubernetes':
      return 'The app runs in Kubernetes, whose projected service-account token is already an OIDC JWT that STS can verify: no secret to create, store or rotate.';
    case 'oidc':
      return 'You have an OIDC provider that issues client-credential tokens: medium complexity, high convenience, and the token is exchanged for temporary credentials over plain REST.';
    case 'mtls':
      return 'You already run a certificate process, so IAM Roles Anywhere turns a certificate the machine already has into temporary credentials, with no shared secret.';
    case 'saml':
      return 'You have a SAML IdP and no OIDC provider or certificate process: SAML works unattended (ECP or a service account login) at the cost of more moving parts.';
    case 'kerberos':
      return 'Your SAML IdP allows this machine no password account, only Windows Integrated Authentication, and nothing simpler fits: the broker logs in to the IdP with a keytab (Kerberos SPNEGO, auth.method: kerberos) and exchanges the assertion at STS AssumeRoleWithSAML. It is the most complex option; prefer another when one appears.';
    case 'sigv4':
      return f.awsKeys
        ? 'You only have AWS access keys. Keep them as the first hop: the broker assumes a role with them so that apps only ever see short-lived credentials. Replace the keys with another mechanism when you can.'
        : '';
  }
}
