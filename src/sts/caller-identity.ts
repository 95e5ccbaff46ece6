// STS GetCallerIdentity: who a set of credentials is. `check` calls it to prove an exchange really
// worked, through the same endpoint, FIPS and proxy settings as the exchange.
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { AwsCredentials } from '../model/credentials.ts';
import type { StsClients } from './clients.ts';
import { mapStsError } from './errors.ts';
import { type ResolvedStsSettings, sendOptions } from './settings.ts';

export interface CallerIdentity {
  arn: string;
  account: string;
  userId: string;
}

export async function getCallerIdentity(
  clients: StsClients,
  creds: AwsCredentials,
  sts: ResolvedStsSettings,
  profile: string,
): Promise<CallerIdentity> {
  const client = await clients.get(sts, {
    signer: { slot: `${profile}/caller-identity`, keys: creds },
    maxAttempts: 2,
  });
  try {
    const out = await client.send(new GetCallerIdentityCommand({}), sendOptions(sts));
    return { arn: out.Arn ?? '', account: out.Account ?? '', userId: out.UserId ?? '' };
  } catch (err) {
    throw mapStsError(err, { profile, target: 'GetCallerIdentity' });
  }
}
