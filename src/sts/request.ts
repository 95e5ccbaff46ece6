// What every exchange is given (the profile, its proof, role, STS settings and clients), and the
// session names it sends. Only src/sts/ talks to STS.
import { hostname } from 'node:os';
import type { RoleConfig } from '../config/schema/index.ts';
import type { Proof } from '../model/proof.ts';
import type { StsClients } from './clients.ts';
import type { ResolvedStsSettings } from './settings.ts';

export interface ExchangeRequest {
  profile: string;
  proof: Proof;
  role: RoleConfig;
  sts: ResolvedStsSettings;
  /** Where the exchange gets its STS client (the broker's: clients.ts). */
  clients: StsClients;
  /** Roles assumed in turn after the first exchange (the profile's `chain:`). */
  chain?: RoleConfig[] | undefined;
  /** Wall clock (ms); injected in tests together with the emulator's. */
  now?: () => number;
}

/** `{profile}`, `{hostname}` and `{sub}` filled in, then made valid for STS (2..64 of [\w+=,.@-]). */
export function renderSessionName(
  template: string,
  vars: { profile: string; sub?: string | undefined },
): string {
  const filled = template
    .replaceAll('{profile}', vars.profile)
    .replaceAll('{hostname}', hostname().split('.')[0] ?? 'host')
    .replaceAll('{sub}', vars.sub ?? 'unknown');
  const clean = filled.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return clean.length >= 2 ? clean : `${clean}--`.slice(0, 2);
}
