import type { SourceConfig } from '../config/schema/index.ts';
import type { Proof } from '../model/proof.ts';

/** An identity source: authenticates the machine somewhere and returns a proof. Never talks to clients or STS. */
export interface Source {
  readonly type: SourceConfig['type'];
  /** Where it authenticates (issuer URL, file path): for logs and `check`; never secret. */
  readonly describe: string;
  getProof(): Promise<Proof>;
}
