// The one place STS clients are made, kept and destroyed. A client owns a connection pool (its own
// undici dispatcher, through the profile's proxy and CAs: outbound.ts), so it is kept and reused:
// one per distinct STS setting for the unsigned exchanges (web identity, SAML), and one per signing
// slot (a profile's AssumeRole hop, its GetCallerIdentity) for signed calls, replaced when the slot's
// keys change. A client is also replaced when its route changes (a renewed caFile, a rotated proxy
// password). The broker owns one StsClients: on reload it keeps only the clients the profiles still
// use (retain), on shutdown it destroys them all.
import { createHash } from 'node:crypto';
import { STSClient } from '@aws-sdk/client-sts';
import { UndiciHttpHandler } from '@smithy/undici-http-handler';
import { DIRECT, dispatcherFor, routeDigest } from '../outbound.ts';
import { endpointOf, type ResolvedStsSettings } from './settings.ts';

/** Keys to sign a call with (AssumeRole, GetCallerIdentity). The secret parts are secrets. */
export interface SigningKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/** Who signs a call: `slot` names the caller (`PROFILE/chain[0]`), so one slot holds one client. */
export interface Signer {
  slot: string;
  keys: SigningKeys;
}

export interface ClientOptions {
  signer?: Signer | undefined;
  /** SDK attempts; 1 for exchanges, since the Refresher owns retries (with backoff and jitter). */
  maxAttempts?: number;
}

interface Held {
  /** What the client was built from: settings, route, keys. A different one replaces the client. */
  fingerprint: string;
  settingsKey: string;
  /** A promise, held from the first call on, so that concurrent first calls share one client. */
  client: Promise<STSClient>;
}

/** The settings a client depends on, as a map key. */
export function settingsKey(sts: ResolvedStsSettings): string {
  return JSON.stringify([sts.region, sts.endpoint, sts.timeout, sts.useFipsEndpoint, sts.network]);
}

export class StsClients {
  private readonly held = new Map<string, Held>();
  private destroyed = false;

  /** The client for these settings (and signer), made on first use and reused after. */
  async get(sts: ResolvedStsSettings, opts: ClientOptions = {}): Promise<STSClient> {
    const key = settingsKey(sts);
    const slot = opts.signer ? `signed:${opts.signer.slot}` : `unsigned:${key}`;
    const route = sts.network ? await routeDigest(endpointOf(sts), sts.network) : '';
    const keys = opts.signer?.keys;
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([key, route, opts.maxAttempts ?? 1, keys?.accessKeyId, keys?.sessionToken]))
      .digest('hex');
    if (this.destroyed) throw new Error('the STS clients were shut down');
    // From here to set() nothing awaits: a concurrent call sees either the old entry or this one.
    const cached = this.held.get(slot);
    if (cached?.fingerprint === fingerprint) return cached.client;
    const client = createClient(sts, opts);
    this.held.set(slot, { fingerprint, settingsKey: key, client });
    client.catch(() => {
      // A client that could not be made (an unreadable caFile) is not kept: the next call tries again.
      if (this.held.get(slot)?.client === client) this.held.delete(slot);
    });
    if (cached) destroyLater(cached);
    return client;
  }

  /** Keeps the clients of these settings and destroys every other (after a reload). */
  retain(inUse: Iterable<ResolvedStsSettings>): void {
    const keep = new Set([...inUse].map(settingsKey));
    for (const [slot, held] of this.held) {
      if (keep.has(held.settingsKey)) continue;
      destroyLater(held);
      this.held.delete(slot);
    }
  }

  /** Destroys every client (shutdown); later calls fail. */
  destroy(): void {
    this.destroyed = true;
    for (const held of this.held.values()) destroyLater(held);
    this.held.clear();
  }

  /** How many clients are held: for tests. */
  get size(): number {
    return this.held.size;
  }
}

function destroyLater(held: Held): void {
  held.client.then(
    (c) => c.destroy(),
    () => undefined,
  );
}

/** A new STS client speaking through undici (outbound.ts dispatcherFor), as every other outbound
 * request does, with the middleware that captures STS's Date header (serverDateOf). */
async function createClient(sts: ResolvedStsSettings, opts: ClientOptions): Promise<STSClient> {
  const limits = { connectTimeout: Math.min(sts.timeout, 5000), ioTimeout: sts.timeout };
  const dispatcher = await dispatcherFor(endpointOf(sts), sts.network ?? DIRECT, limits);
  const keys = opts.signer?.keys;
  const client = new STSClient({
    region: sts.region,
    endpoint: sts.endpoint,
    useFipsEndpoint: sts.useFipsEndpoint ?? false,
    credentials: keys && {
      accessKeyId: keys.accessKeyId,
      secretAccessKey: keys.secretAccessKey,
      sessionToken: keys.sessionToken,
    },
    maxAttempts: opts.maxAttempts ?? 1,
    requestHandler: new UndiciHttpHandler({ dispatcher }),
  });
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const date = (result.response as { headers?: Record<string, string> }).headers?.date;
      if (date) (result.output as { $serverDate?: number }).$serverDate = Date.parse(date);
      return result;
    },
    { step: 'finalizeRequest', name: 'brokerServerDate' },
  );
  return client;
}

/** The STS response's Date header (ms), captured by the client's `brokerServerDate` middleware. */
export function serverDateOf(output: object): number | undefined {
  const date = (output as { $serverDate?: number }).$serverDate;
  return Number.isFinite(date) ? date : undefined;
}
