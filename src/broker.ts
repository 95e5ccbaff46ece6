// The broker owns the validated config and one Refresher per profile. The server sees it only
// through the narrow interface it declares (server/broker-port.ts), which this class satisfies.
import { isDeepStrictEqual } from 'node:util';
import { type CredentialsFiles, type CredentialsFileTarget, targetOf } from './cache/credentials-file.ts';
import { type Clock, type RefreshEvent, Refresher, systemClock } from './cache/refresher.ts';
import type { Config, Profile } from './config/schema/index.ts';
import { describeError, rethrowFor } from './errors.ts';
import type { AwsCredentials } from './model/credentials.ts';
import type { Proof } from './model/proof.ts';
import type { Readiness } from './model/status.ts';
import { refuseDisabledTlsVerification, resolveNetwork } from './outbound.ts';
import { createSource } from './sources/index.ts';
import type { Source } from './sources/types.ts';
import { noteCertificate } from './sources/x509.ts';
import { type CallerIdentity, getCallerIdentity } from './sts/caller-identity.ts';
import { chainWarnings } from './sts/chain.ts';
import { StsClients } from './sts/clients.ts';
import { exchange } from './sts/exchange.ts';
import { type ResolvedStsSettings, resolveStsSettings } from './sts/settings.ts';
import type { Logger } from './telemetry/logger.ts';
import type { Metrics } from './telemetry/metrics.ts';

export interface BrokerDeps {
  logger: Logger;
  metrics: Metrics;
  /** Injected in tests to drive refresh timing deterministically. */
  clock?: Clock;
  random?: () => number;
  /** Keeps the profiles' `credentialsFile`s (serve only: check and exec must not write them). */
  credentialsFiles?: CredentialsFiles;
}

interface ProfileRuntime {
  name: string;
  config: Profile;
  source: Source;
  sts: ResolvedStsSettings;
  refresher: Refresher;
  credentialsFile: CredentialsFileTarget | undefined;
  /** Stopped (shutdown, or replaced on reload): a fetch still in flight writes no file. */
  retired: boolean;
}

export interface ReloadSummary {
  added: string[];
  changed: string[];
  removed: string[];
  kept: string[];
}

/** Top-level sections that do not shape a profile's fetches (listeners, logging, reloading). */
const NOT_INHERITED = new Set(['profiles', 'server', 'imds', 'logging', 'metrics', 'reload']);

/** Unchanged = the profile's settings and every top-level default it may inherit (sts, network,
 * and any section added later, to be safe) are deep-equal. */
function sameProfile(a: Config, b: Config, name: string): boolean {
  const inherited = (c: Config) => Object.entries(c).filter(([k]) => !NOT_INHERITED.has(k));
  return (
    isDeepStrictEqual(a.profiles[name], b.profiles[name]) && isDeepStrictEqual(inherited(a), inherited(b))
  );
}

export class Broker {
  private readonly runtimes = new Map<string, ProfileRuntime>();
  /** Every STS client the profiles use: kept across fetches, pruned on reload, destroyed on stop. */
  private readonly stsClients = new StsClients();

  constructor(
    public config: Config,
    private readonly deps: BrokerDeps,
  ) {
    refuseDisabledTlsVerification(); // serve and check both start here
    for (const [name, profile] of Object.entries(config.profiles)) {
      this.runtimes.set(name, this.createRuntime(name, profile));
    }
  }

  /** First fetch for every non-lazy profile, in parallel; failures are logged and retried, not thrown. */
  async start(): Promise<void> {
    await Promise.all(
      [...this.runtimes.values()].filter((r) => !r.config.lazy).map((r) => r.refresher.start()),
    );
  }

  /** Stops refreshing; resolves once each profile's credentialsFile is removed (onStop: remove).
   * Never rejects: a file that cannot be changed is logged. Destroys the STS clients. */
  async stop(): Promise<void> {
    await Promise.all([...this.runtimes.values()].map((r) => this.retire(r)));
    this.stsClients.destroy();
  }

  /**
   * Applies a new, already validated config (SIGHUP). A profile whose settings (and the top-level
   * defaults it inherits) are deep-equal keeps its Refresher: cached credentials and timers. A
   * changed or added profile gets a new Refresher, started here; a removed one is stopped and
   * answers 404 from now on. Sources are prepared before anything is swapped, so a failure
   * leaves the running config untouched. Server settings (client tokens included), logging and
   * metrics are the caller's (cli/service.ts).
   */
  async reload(next: Config): Promise<ReloadSummary> {
    const previous = this.config;
    const summary: ReloadSummary = { added: [], changed: [], removed: [], kept: [] };
    const fresh = new Map<string, ProfileRuntime>();
    this.config = next; // createRuntime() resolves STS settings against this.config
    try {
      for (const [name, profile] of Object.entries(next.profiles)) {
        const old = this.runtimes.get(name);
        if (old && sameProfile(previous, next, name)) {
          summary.kept.push(name);
          continue;
        }
        (old ? summary.changed : summary.added).push(name);
        fresh.set(name, this.createRuntime(name, profile));
      }
    } catch (err) {
      this.config = previous;
      throw err;
    }
    for (const name of this.runtimes.keys()) if (!(name in next.profiles)) summary.removed.push(name);
    const retiring: Promise<void>[] = [];
    for (const name of [...summary.removed, ...summary.changed]) {
      const old = this.runtimes.get(name);
      // A changed profile that keeps the same section rewrites it on its first fetch: removing it
      // first would only leave the tools reading it without credentials meanwhile.
      const same =
        old?.credentialsFile && isDeepStrictEqual(old.credentialsFile, fresh.get(name)?.credentialsFile);
      if (old) retiring.push(this.retire(old, !same));
      this.runtimes.delete(name);
      this.deps.metrics.forgetProfile(name);
    }
    await Promise.all(retiring);
    for (const [name, runtime] of fresh) this.runtimes.set(name, runtime);
    this.stsClients.retain([...this.runtimes.values()].map((r) => r.sts));
    await Promise.all([...fresh.values()].filter((r) => !r.config.lazy).map((r) => r.refresher.start()));
    return summary;
  }

  /** Resolves when no profile has a fetch in flight. */
  async settled(): Promise<void> {
    await Promise.all([...this.runtimes.values()].map((r) => r.refresher.settled()));
  }

  has(profile: string): boolean {
    return this.runtimes.has(profile);
  }

  profileNames(): string[] {
    return [...this.runtimes.keys()];
  }

  /** Credentials to serve for a profile (throws UnavailableError when none are valid). */
  credentials(profile: string, minRemaining?: number): Promise<AwsCredentials> {
    return this.runtime(profile).refresher.get(minRemaining);
  }

  /** What credentials() would serve at once, without a promise; undefined: await credentials(). */
  cached(profile: string, minRemaining?: number): AwsCredentials | undefined {
    return this.runtime(profile).refresher.cached(minRemaining);
  }

  /** The profile's role (role.arn; a chain's hops are not consulted). */
  roleArn(profile: string): string {
    return this.runtime(profile).config.role.arn;
  }

  /** Refresh a profile now (shared with any refresh in flight), e.g. after an operator fixed its IdP. */
  async refreshNow(profile: string): Promise<void> {
    await this.runtime(profile).refresher.refresh();
  }

  /** One fetch straight from the source and STS, bypassing the cache: what `check` does. */
  fetchOnce(profile: string): Promise<AwsCredentials> {
    return this.fetch(this.runtime(profile));
  }

  /** Who these credentials of the profile are (STS GetCallerIdentity, the profile's STS settings). */
  callerIdentity(profile: string, creds: AwsCredentials): Promise<CallerIdentity> {
    return getCallerIdentity(this.stsClients, creds, this.runtime(profile).sts, profile);
  }

  /** The two halves of a fetch, one at a time, so that `check` can time and blame each step. */
  stepsOf(profile: string): { prove(): Promise<Proof>; exchange(proof: Proof): Promise<AwsCredentials> } {
    const r = this.runtime(profile);
    return { prove: () => this.proveIdentity(r), exchange: (proof) => this.exchangeProof(r, proof) };
  }

  describe(profile: string): {
    source: string;
    sourceType: string;
    roleArn: string;
    sts: ResolvedStsSettings;
  } {
    const r = this.runtime(profile);
    return { source: r.source.describe, sourceType: r.source.type, roleArn: r.config.role.arn, sts: r.sts };
  }

  /** Ready when every non-lazy profile (and every lazy one already fetched) holds valid credentials. */
  readiness(): Readiness {
    const profiles: Readiness['profiles'] = {};
    let ready = true;
    for (const r of this.runtimes.values()) {
      const status = r.refresher.status();
      profiles[r.name] = { ...status, lazy: r.config.lazy };
      const counts = !r.config.lazy || status.failures > 0 || status.expiration !== undefined;
      if (counts && status.state === 'empty') ready = false;
    }
    return { ready, profiles };
  }

  private runtime(profile: string): ProfileRuntime {
    const r = this.runtimes.get(profile);
    if (!r) throw new Error(`unknown profile ${profile}`);
    return r;
  }

  private createRuntime(name: string, profile: Profile): ProfileRuntime {
    for (const warning of chainWarnings(profile.chain)) this.deps.logger.warn({ profile: name }, warning);
    // One set of proxy / CA rules for the profile's IdP requests and its STS requests.
    const network = resolveNetwork([this.config.network, profile.network]);
    const runtime: ProfileRuntime = {
      name,
      config: profile,
      credentialsFile: profile.credentialsFile && targetOf(name, profile.credentialsFile),
      retired: false,
      source: createSource(name, profile.source, network),
      sts: { ...resolveStsSettings(this.config.sts, profile.sts), network },
      // The callbacks run only after construction, when `runtime` is complete.
      refresher: new Refresher({
        profile: name,
        fetch: () => this.fetch(runtime),
        timings: profile.refresh,
        backoff: profile.refresh.backoff,
        clock: this.deps.clock,
        random: this.deps.random,
        onEvent: (event) => {
          this.record(runtime, event);
          if (event.type === 'refreshed') this.writeCredentialsFile(runtime, event.credentials);
        },
      }),
    };
    return runtime;
  }

  /** Keeps the refreshed credentials in the profile's credentialsFile; a failure is logged (the
   * endpoint still serves them) and retried at the next refresh. */
  private writeCredentialsFile(r: ProfileRuntime, credentials: AwsCredentials): void {
    const files = this.deps.credentialsFiles;
    if (!files || !r.credentialsFile || r.retired) return;
    const target = r.credentialsFile;
    const count = (outcome: string) =>
      this.deps.metrics.credentialsFileWrites.inc({ profile: r.name, outcome });
    files.write(r.name, target, credentials).then(
      () => {
        count('success');
        this.deps.logger.debug({ profile: r.name, credentialsFile: target.path }, 'credentials file written');
      },
      (err) => {
        count((err as { code?: string }).code ?? 'CREDENTIALS_FILE_FAILED');
        this.logCredentialsFileError(r.name, target, err, 'the next refresh tries again');
      },
    );
  }

  private async retire(r: ProfileRuntime, removeFile = true): Promise<void> {
    r.retired = true;
    r.refresher.stop();
    const files = this.deps.credentialsFiles;
    if (!files || !r.credentialsFile || !removeFile) return;
    await files
      .stop(r.name, r.credentialsFile)
      .catch((err) => this.logCredentialsFileError(r.name, r.credentialsFile!, err, 'its section stays'));
  }

  private logCredentialsFileError(
    profile: string,
    target: CredentialsFileTarget,
    err: unknown,
    then: string,
  ) {
    this.deps.logger.error(
      { profile, credentialsFile: target.path, code: (err as { code?: string }).code },
      `${describeError(err)}; ${then}`,
    );
  }

  private readonly now = () => (this.deps.clock ?? systemClock).now();

  private async fetch(r: ProfileRuntime): Promise<AwsCredentials> {
    return this.exchangeProof(r, await this.proveIdentity(r));
  }

  // Both halves file their failures under the profile: sources and exchanges need not know it, and
  // every edge (log, HTTP body, CLI) renders it from the field.
  private async proveIdentity(r: ProfileRuntime): Promise<Proof> {
    const proof = await r.source.getProof().catch(rethrowFor(r.name));
    if (proof.kind === 'x509' && r.config.source.type === 'x509') {
      noteCertificate(r.name, proof, r.config.source, this.deps);
    }
    return proof;
  }

  private exchangeProof(r: ProfileRuntime, proof: Proof): Promise<AwsCredentials> {
    return exchange({
      profile: r.name,
      proof,
      role: r.config.role,
      chain: r.config.chain,
      sts: r.sts,
      clients: this.stsClients,
      now: this.now,
    }).catch(rethrowFor(r.name));
  }

  /** One log line and the metrics for every exchange, whatever its outcome. */
  private record(r: ProfileRuntime, event: RefreshEvent): void {
    const { logger, metrics } = this.deps;
    const labels = { profile: r.name, source: r.source.type };
    metrics.exchangeSeconds.observe(labels, event.durationMs / 1000);
    const base = {
      profile: r.name,
      source: r.source.type,
      // With a chain, the role that was served is the last hop's.
      role: r.config.chain?.at(-1)?.arn ?? r.config.role.arn,
      durationMs: event.durationMs,
    };
    if (event.type === 'refreshed') {
      metrics.exchanges.inc({ ...labels, outcome: 'success' });
      const skew = event.credentials.clockSkewMs ?? 0;
      metrics.clockSkew.set({ profile: r.name }, Math.round(skew / 1000));
      if (Math.abs(skew) > r.sts.clockSkewTolerance) {
        logger.warn(
          { profile: r.name, clockSkewSeconds: Math.round(skew / 1000) },
          "this host's clock differs from STS's by more than sts.clockSkewTolerance: fix time sync (NTP); expirations are corrected meanwhile",
        );
      }
      metrics.consecutiveFailures.set({ profile: r.name }, 0);
      logger.info(
        {
          ...base,
          outcome: 'success',
          expiration: event.credentials.expiration.toISOString(),
          nextRefreshAt: new Date(event.nextRefreshAt).toISOString(),
        },
        'credentials refreshed',
      );
    } else {
      metrics.exchanges.inc({ ...labels, outcome: event.error.code });
      metrics.countFailure(labels, event.error);
      metrics.consecutiveFailures.set({ profile: r.name }, event.failures);
      logger.warn(
        {
          ...base,
          outcome: event.error.code,
          retryable: event.error.retryable,
          failures: event.failures,
          retryAt: new Date(event.retryAt).toISOString(),
          servingStale: event.servingStale,
        },
        event.error.message,
      );
    }
  }
}
