// `credential-broker credential-process --profile P`: for `credential_process` in ~/.aws/config.
// Fetches from the RUNNING broker (never from the IdP or STS itself, so every app shares the
// broker's cache) and prints the Version 1 JSON. stdout carries that JSON only; any failure is one
// line on stderr and a non-zero exit, which the SDKs show to the user (contract §7).
import { readFileSync } from 'node:fs';
import { describeError, EXIT } from '../errors.ts';
import { networkErrorCode } from '../net.ts';
import { type Endpoint, endpointFor } from './endpoint.ts';
import { endpointConfig } from './endpoint-cache.ts';
import type { Io } from './io.ts';

/** SDKs wait for the process without a timeout of their own: bound the whole run. */
const ATTEMPT_TIMEOUT_MS = 3000;
const ATTEMPTS = 3;
/** Waits longer than this (a broker still starting, in an outage) are not worth blocking an app. */
const MAX_WAIT_MS = 2000;

class FetchFailure extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }
}

export async function credentialProcessCommand(
  opts: {
    configPath: string;
    profile: string | undefined;
    url: string | undefined;
    tokenFile: string | undefined;
  },
  io: Io,
): Promise<number> {
  if (!opts.profile && !opts.url) {
    io.stderr('credential-broker credential-process: pass --profile NAME (or --url URL --token-file FILE)\n');
    return EXIT.USAGE;
  }
  let endpoint: Endpoint;
  if (opts.url && opts.tokenFile) {
    endpoint = { url: opts.url, tokenFile: opts.tokenFile };
  } else {
    // The config's parser and schema (yaml, zod) load only when the file changed since the last call
    // (endpoint-cache.ts).
    // With no config file, the IRSA variables describe the one profile, as they do for `serve`.
    const { config, file } = await endpointConfig(opts.configPath, async () =>
      (await import('../config/from-env.ts')).loadConfigOrEnvironment(opts.configPath),
    );
    const fromConfig = endpointFor(config, file, opts.profile ?? 'default');
    endpoint = { url: opts.url ?? fromConfig.url, tokenFile: opts.tokenFile ?? fromConfig.tokenFile };
  }
  const who = opts.profile ? `profile "${opts.profile}"` : endpoint.url;
  let token: string;
  try {
    // As the SDKs send AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: verbatim but for the leading and
    // trailing whitespace a header value cannot hold (fetch strips it too; `echo` adds a newline).
    token = readFileSync(endpoint.tokenFile, 'utf8').replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    io.stderr(
      `credential-broker credential-process: ${who}: cannot read the token file ${endpoint.tokenFile} (${code ?? describeError(err)}); this user needs read access to it\n`,
    );
    return EXIT.FAILURE;
  }
  for (let attempt = 1; ; attempt++) {
    try {
      const body = await fetchOnce(endpoint.url, token);
      io.stdout(`${JSON.stringify(body)}\n`);
      return EXIT.OK;
    } catch (err) {
      const wait = err instanceof FetchFailure ? err.retryAfterMs : undefined;
      if (attempt >= ATTEMPTS || wait === undefined || wait > MAX_WAIT_MS) {
        io.stderr(`credential-broker credential-process: ${who}: ${describeError(err)}\n`);
        return EXIT.FAILURE;
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** One GET, read whole. node:http rather than fetch: fetch loads Node's bundled undici, which costs
 * a call to this command more time and memory than the rest of it (docs/performance.md). */
async function get(
  url: string,
  token: string,
): Promise<{ status: number; retryAfter: string; text: string }> {
  const target = new URL(url);
  const { request } = target.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(target, { headers: { authorization: token, accept: 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, retryAfter: String(res.headers['retry-after'] ?? ''), text });
      });
    });
    const timer = setTimeout(
      () => req.destroy(Object.assign(new Error('timed out'), { name: 'TimeoutError' })),
      ATTEMPT_TIMEOUT_MS,
    );
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}

async function fetchOnce(url: string, token: string): Promise<Record<string, unknown>> {
  let res: Awaited<ReturnType<typeof get>>;
  try {
    res = await get(url, token);
  } catch (err) {
    const why = networkErrorCode(err) ?? describeError(err);
    // Refused: the broker may be restarting; anything else (TLS, DNS) will not fix itself.
    throw new FetchFailure(
      `cannot reach the broker at ${url} (${why}); is credential-broker serve running?`,
      why === 'ECONNREFUSED' ? 500 : undefined,
    );
  }
  const { text } = res;
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  if (res.status !== 200) {
    const detail =
      json && typeof json.code === 'string' ? `${json.code}: ${json.message}` : text.slice(0, 200);
    const retryAfter = Number(res.retryAfter);
    throw new FetchFailure(
      `the broker answered ${res.status} (${detail})`,
      res.status === 503 ? (Number.isFinite(retryAfter) ? retryAfter * 1000 : 1000) : undefined,
    );
  }
  const fields = ['AccessKeyId', 'SecretAccessKey', 'Token', 'Expiration'] as const;
  if (!json || fields.some((f) => typeof json[f] !== 'string')) {
    throw new FetchFailure(
      `the broker at ${url} did not answer with credentials; is the URL right?`,
      undefined,
    );
  }
  return {
    Version: 1,
    AccessKeyId: json.AccessKeyId,
    SecretAccessKey: json.SecretAccessKey,
    SessionToken: json.Token,
    Expiration: json.Expiration,
    ...(typeof json.AccountId === 'string' ? { AccountId: json.AccountId } : {}),
  };
}
