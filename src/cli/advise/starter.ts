// What `advise` writes for the chosen mechanism: a starter broker config, the role's trust
// policy, and the AWS CLI commands that create the AWS-side resources. Deterministic (no dates,
// no randomness) so that the output can be reviewed, diffed and tested.
import { stringify } from 'yaml';
import type { MechanismId } from './decide.ts';

export interface StarterParams {
  accountId: string;
  roleName: string;
  region: string;
  /** OIDC issuer (OIDC) or the cluster's service-account issuer (Kubernetes). */
  issuer: string;
  clientId: string;
  namespace: string;
  serviceAccount: string;
  /** SAML IdP-initiated sign-on / ECP URL. */
  idpUrl: string;
  /** A name for the SAML provider / Roles Anywhere trust anchor and profile. */
  name: string;
}

export const DEFAULT_PARAMS: StarterParams = {
  accountId: '123456789012',
  roleName: 'my-app',
  region: 'eu-west-1',
  issuer: 'https://idp.example.com/realms/machines',
  clientId: 'my-app',
  namespace: 'default',
  serviceAccount: 'my-app',
  idpUrl: 'https://adfs.example.com/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:amazon:webservices',
  name: 'my-org',
};

export interface Starter {
  /** broker config (YAML) */
  config: string;
  /** the role's trust policy (JSON) */
  trustPolicy: string;
  /** AWS CLI commands, as a shell script */
  awsSetup: string;
}

export function starterFor(id: MechanismId, p: StarterParams): Starter {
  const roleArn = `arn:aws:iam::${p.accountId}:role/${p.roleName}`;
  const { source, trust, setup } = parts(id, p);
  const config = {
    sts: { region: p.region },
    profiles: { default: { source, role: { arn: roleArn, sessionName: '{hostname}-{profile}' } } },
  };
  const trustPolicy = { Version: '2012-10-17', Statement: [trust] };
  const awsSetup = [
    '#!/bin/sh',
    `# AWS-side setup for ${p.roleName} (review before running; needs IAM permissions)`,
    'set -eu',
    '# the files it names (trust-policy.json, ...) are beside it, wherever it is run from',
    'cd "$(dirname "$0")"',
    ...setup,
    `aws iam create-role --role-name ${p.roleName} --assume-role-policy-document file://trust-policy.json --max-session-duration 3600`,
    `# then grant the app what it needs, e.g.:`,
    `# aws iam attach-role-policy --role-name ${p.roleName} --policy-arn arn:aws:iam::aws:policy/ReadOnlyAccess`,
    '',
  ].join('\n');
  return {
    config: `# starter config written by \`credential-broker advise\`; check it with: credential-broker check --config config.yaml\n${stringify(config)}`,
    trustPolicy: `${JSON.stringify(trustPolicy, null, 2)}\n`,
    awsSetup,
  };
}

function hostPath(issuer: string): string {
  return issuer.replace(/^https?:\/\//, '').replace(/\/$/, '');
}

/** Trust for an IAM OIDC provider: the token's audience must be STS and its subject this app. */
function webIdentityTrust(provider: string, issuer: string, sub: string): object {
  return {
    Effect: 'Allow',
    Principal: { Federated: provider },
    Action: 'sts:AssumeRoleWithWebIdentity',
    Condition: {
      StringEquals: { [`${hostPath(issuer)}:aud`]: 'sts.amazonaws.com', [`${hostPath(issuer)}:sub`]: sub },
    },
  };
}

function parts(id: MechanismId, p: StarterParams): { source: object; trust: object; setup: string[] } {
  const oidcProvider = `arn:aws:iam::${p.accountId}:oidc-provider/${hostPath(p.issuer)}`;
  const samlProvider = `arn:aws:iam::${p.accountId}:saml-provider/${p.name}`;
  const samlTrust = {
    Effect: 'Allow',
    Principal: { Federated: samlProvider },
    Action: ['sts:AssumeRoleWithSAML', 'sts:TagSession'],
    Condition: { StringEquals: { 'SAML:aud': 'https://signin.aws.amazon.com/saml' } },
  };
  const samlSetup = [
    '# metadata.xml: the IdP federation metadata (ADFS: /FederationMetadata/2007-06/FederationMetadata.xml)',
    `aws iam create-saml-provider --name ${p.name} --saml-metadata-document file://metadata.xml`,
  ];
  switch (id) {
    case 'kubernetes':
      return {
        source: { type: 'web-identity-file', tokenFile: '/var/run/secrets/tokens/aws/token' },
        trust: webIdentityTrust(
          oidcProvider,
          p.issuer,
          `system:serviceaccount:${p.namespace}:${p.serviceAccount}`,
        ),
        setup: [
          '# the cluster service-account issuer must serve /.well-known/openid-configuration and its JWKS over https',
          `aws iam create-open-id-connect-provider --url ${p.issuer} --client-id-list sts.amazonaws.com`,
        ],
      };
    case 'oidc':
      return {
        source: {
          type: 'oidc',
          issuer: p.issuer,
          clientId: p.clientId,
          clientAuth: {
            method: 'private_key_jwt',
            privateKey: `file:/etc/credential-broker/secrets/${p.clientId}.pem`,
          },
          audience: 'sts.amazonaws.com',
        },
        trust: webIdentityTrust(oidcProvider, p.issuer, p.clientId),
        setup: [
          `aws iam create-open-id-connect-provider --url ${p.issuer} --client-id-list sts.amazonaws.com`,
        ],
      };
    case 'mtls': {
      const anchor = `arn:aws:rolesanywhere:${p.region}:${p.accountId}:trust-anchor/TRUST_ANCHOR_ID`;
      return {
        source: {
          type: 'x509',
          certificateFile: '/etc/credential-broker/tls/client.crt',
          privateKey: 'file:/etc/credential-broker/tls/client.key',
          trustAnchorArn: anchor,
          profileArn: `arn:aws:rolesanywhere:${p.region}:${p.accountId}:profile/PROFILE_ID`,
          region: p.region,
        },
        trust: {
          Effect: 'Allow',
          Principal: { Service: 'rolesanywhere.amazonaws.com' },
          Action: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
          Condition: {
            ArnEquals: { 'aws:SourceArn': anchor },
            StringEquals: { 'aws:PrincipalTag/x509Subject/CN': p.clientId },
          },
        },
        setup: [
          "# ca.pem: the CA that issues the machines' certificates",
          `aws rolesanywhere create-trust-anchor --region ${p.region} --name ${p.name} --enabled --source "sourceType=CERTIFICATE_BUNDLE,sourceData={x509CertificateData=$(cat ca.pem)}"`,
          `aws rolesanywhere create-profile --region ${p.region} --name ${p.roleName} --enabled --role-arns arn:aws:iam::${p.accountId}:role/${p.roleName}`,
          '# put the trust anchor and profile IDs printed above into config.yaml and trust-policy.json',
        ],
      };
    }
    case 'saml':
      return {
        source: {
          type: 'saml',
          idpUrl: p.idpUrl,
          auth: {
            method: 'form',
            username: `svc-${p.clientId}`,
            password: `file:/etc/credential-broker/secrets/svc-${p.clientId}`,
          },
        },
        trust: samlTrust,
        setup: samlSetup,
      };
    case 'kerberos':
      return {
        source: {
          type: 'saml',
          idpUrl: p.idpUrl,
          auth: {
            method: 'kerberos',
            principal: `svc-${p.clientId}@EXAMPLE.COM`,
            keytab: `/etc/credential-broker/svc-${p.clientId}.keytab`,
          },
        },
        trust: samlTrust,
        setup: [
          ...samlSetup,
          '# not AWS, but the login needs it (docs/kerberos.md): the keytab of the service account above',
          "# (ktpass or ktutil; 0600, owned by the broker's user), the SPN HTTP/<IdP host> on the IdP's",
          '# service account, and Windows Integrated Authentication allowed for it at the AWS relying party',
        ],
      };
    case 'sigv4':
      return {
        source: { type: 'aws', credentialsFile: '/etc/credential-broker/aws-credentials' },
        trust: {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${p.accountId}:user/${p.clientId}` },
          Action: 'sts:AssumeRole',
        },
        setup: [
          `# the IAM user whose keys are in /etc/credential-broker/aws-credentials; give it only sts:AssumeRole on the role`,
          `aws iam put-user-policy --user-name ${p.clientId} --policy-name assume-${p.roleName} --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::${p.accountId}:role/${p.roleName}"}]}'`,
        ],
      };
  }
}
