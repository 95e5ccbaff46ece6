// Turns a source's proof into temporary credentials: one STS (or Roles Anywhere) call per proof
// kind, then the profile's chain. What every call shares lives in ./request.ts.
import {
  AssumeRoleWithWebIdentityCommand,
  GetCallerIdentityCommand,
  type STSClient,
} from '@aws-sdk/client-sts';
import { StsError } from '../errors.ts';
import type { AwsCredentials } from '../model/credentials.ts';
import type { WebIdentityProof, X509Proof } from '../model/proof.ts';
import { routeDigest } from '../outbound.ts';
import { assumeChain, assumeRole } from './chain.ts';
import {
  type ExchangeRequest,
  endpointOf,
  mapStsError,
  newStsClient,
  type ResolvedStsSettings,
  renderSessionName,
  sendOptions,
  serverDateOf,
  toCredentials,
} from './request.ts';
import { createSession } from './roles-anywhere.ts';
import { assumeRoleWithSaml } from './saml.ts';

// One client per distinct STS setting: clients hold connection pools worth reusing. A client is
// replaced when its route changes (a renewed caFile, a rotated proxy password).
const clients = new Map<string, { route: string; client: STSClient }>();

async function stsClient(sts: ResolvedStsSettings): Promise<STSClient> {
  const key = JSON.stringify([sts.region, sts.endpoint, sts.timeout, sts.useFipsEndpoint, sts.network]);
  const route = sts.network ? await routeDigest(endpointOf(sts), sts.network) : '';
  const cached = clients.get(key);
  if (cached?.route === route) return cached.client;
  cached?.client.destroy();
  const client = await newStsClient(sts);
  clients.set(key, { route, client });
  return client;
}

/** Exchanges a proof for credentials: one case per proof kind (each source yields one kind). */
export async function exchange(req: ExchangeRequest): Promise<AwsCredentials> {
  const first = await exchangeProof(req);
  if (!req.chain?.length) return first;
  const sub = 'subject' in req.proof ? req.proof.subject : undefined;
  return assumeChain(first, req, sub);
}

async function exchangeProof(req: ExchangeRequest): Promise<AwsCredentials> {
  switch (req.proof.kind) {
    case 'web-identity':
      return assumeRoleWithWebIdentity(req, req.proof);
    case 'x509':
      return rolesAnywhereSession(req, req.proof);
    case 'saml':
      return assumeRoleWithSaml(req, req.proof);
    case 'aws-credentials':
      return assumeRole(req.proof, req.role, req, {
        sub: undefined,
        durationSeconds: req.role.durationSeconds,
        label: req.role.arn,
      });
  }
}

async function rolesAnywhereSession(req: ExchangeRequest, proof: X509Proof): Promise<AwsCredentials> {
  const { role, profile } = req;
  const now = req.now ?? Date.now;
  const startedAt = now();
  const out = await createSession({
    profile,
    proof,
    roleArn: role.arn,
    durationSeconds: role.durationSeconds,
    sessionName: proof.rolesAnywhere.sendSessionName
      ? renderSessionName(role.sessionName, { profile, sub: proof.subject })
      : undefined,
    network: req.sts.network,
    now,
  });
  return toCredentials(out.credentials, out.assumedRoleArn, role, startedAt, profile, out.serverDate, now());
}

async function assumeRoleWithWebIdentity(
  req: ExchangeRequest,
  proof: WebIdentityProof,
): Promise<AwsCredentials> {
  const { role, profile } = req;
  const sessionName = renderSessionName(role.sessionName, { profile, sub: proof.subject });
  const now = req.now ?? Date.now;
  const startedAt = now();
  try {
    const out = await (await stsClient(req.sts)).send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: role.arn,
        RoleSessionName: sessionName,
        WebIdentityToken: proof.token,
        DurationSeconds: role.durationSeconds,
        Policy: role.policy,
        PolicyArns: role.policyArns?.map((arn) => ({ arn })),
      }),
      sendOptions(req.sts),
    );
    return toCredentials(
      out.Credentials,
      out.AssumedRoleUser?.Arn,
      role,
      startedAt,
      profile,
      serverDateOf(out),
      now(),
    );
  } catch (err) {
    throw err instanceof StsError ? err : mapStsError(err, profile, role.arn);
  }
}

export interface CallerIdentity {
  arn: string;
  account: string;
  userId: string;
}

/** Asks STS who these credentials are: what `check` uses to prove an exchange really worked. */
export async function getCallerIdentity(
  creds: AwsCredentials,
  sts: ResolvedStsSettings,
  profile: string,
): Promise<CallerIdentity> {
  // The same endpoint, FIPS and proxy settings as the exchange: `check` must take the same path.
  const client = await newStsClient(sts, creds, 2);
  try {
    const out = await client.send(new GetCallerIdentityCommand({}), sendOptions(sts));
    return { arn: out.Arn ?? '', account: out.Account ?? '', userId: out.UserId ?? '' };
  } catch (err) {
    throw mapStsError(err, profile, 'GetCallerIdentity');
  } finally {
    client.destroy();
  }
}
