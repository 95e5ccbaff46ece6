// The shape of an entry of the code list (src/error-codes/index.ts).

/** How the refresher retries a failure with this code (docs/refresh.md). */
export type Retried =
  /** soon, with growing backoff: a transient failure */
  | 'yes'
  /** every 50-100% of `backoff.max`: permanent until fixed, and a fix needs no restart */
  | 'slow'
  /** like `yes` when the upstream answered 5xx or the network failed, else `slow` */
  | 'if 5xx / network'
  /** like `yes` when the upstream answered 5xx or 429, else `slow` */
  | 'if 5xx / 429'
  /** not a fetch failure: nothing is retried */
  | '–';

/** Pages of docs/ with an error table (code | symptom | cause | fix | retried) for their mechanism. */
export type DocPage =
  | 'oidc'
  | 'kubernetes-web-identity'
  | 'x509-roles-anywhere'
  | 'saml'
  | 'kerberos'
  | 'aws-and-chaining'
  | 'applications';

export interface CodeInfo {
  /** What failed, in one line. */
  readonly meaning: string;
  /** What the operator does about it. */
  readonly fix: string;
  readonly retried: Retried;
  /** Mechanism pages whose error table lists the code (the first is where to read more). */
  readonly docs: readonly DocPage[];
  /** HTTP status of the reply that carries the code, for codes a listener answers with. */
  readonly http?: number;
  /** Process exit code when the failure stops the broker or a command. */
  readonly exit?: number;
}
