// `web-identity-file` source: a JWT that something else keeps fresh in a file (the kubelet's
// projected service-account token, a SPIFFE agent's JWT-SVID, a CI job's OIDC token), presented
// to STS AssumeRoleWithWebIdentity. The file is re-read on every exchange: it rotating underneath
// is the normal case (the kubelet rewrites it at 80% of its lifetime).

import { readFile } from 'node:fs/promises';
import { decodeJwt } from 'jose';
import type { WebIdentityFileSourceConfig } from '../config/schema/index.ts';
import { type ErrorCode, SourceError } from '../errors.ts';
import type { WebIdentityProof } from '../model/proof.ts';
import { describeSource } from './describe.ts';
import { notACompactJws, peekJwt } from './jwt.ts';
import type { Source } from './types.ts';

/** A token this close to expiry is refused: STS would likely see it expired. */
const EXPIRY_MARGIN_MS = 5_000;

export class WebIdentityFileSource implements Source {
  readonly type = 'web-identity-file';
  readonly describe: string;

  constructor(
    private readonly profile: string,
    private readonly cfg: WebIdentityFileSourceConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.describe = describeSource(cfg);
  }

  async getProof(): Promise<WebIdentityProof> {
    const token = (await this.read()).trim();
    const wrong = notACompactJws(token);
    const claims = wrong ? undefined : peekJwt(token);
    if (!claims) {
      throw this.error('WEB_IDENTITY_TOKEN_INVALID', wrong ?? 'is not a JWT');
    }
    if (claims.expiresAt !== undefined && claims.expiresAt <= this.now() + EXPIRY_MARGIN_MS) {
      // Whoever writes the file (kubelet, SPIFFE agent, CI) should have replaced it by now:
      // retrying picks up the rotated token without a restart.
      throw this.error(
        'WEB_IDENTITY_TOKEN_EXPIRED',
        `holds a token that expired at ${new Date(claims.expiresAt).toISOString()}; whatever writes this file has stopped rotating it (kubelet projected volume, SPIFFE agent, CI step)`,
        true,
      );
    }
    if (this.cfg.expectedAudience !== undefined) {
      const audiences = audiencesOf(token);
      if (!audiences.includes(this.cfg.expectedAudience)) {
        throw this.error(
          'WEB_IDENTITY_AUDIENCE_MISMATCH',
          `holds a token for audience ${audiences.length ? audiences.map((a) => `"${a}"`).join(', ') : '(none)'}, not "${this.cfg.expectedAudience}"; request the token with that audience (Kubernetes: serviceAccountToken.audience in the projected volume)`,
        );
      }
    }
    return { kind: 'web-identity', token, ...claims };
  }

  private async read(): Promise<string> {
    try {
      return await readFile(this.cfg.tokenFile, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? 'no such file; is the projected token volume mounted?'
          : code === 'EACCES'
            ? 'permission denied for the broker user'
            : String(code);
      throw this.error('WEB_IDENTITY_TOKEN_UNREADABLE', `cannot be read (${why})`, true, err);
    }
  }

  private error(code: ErrorCode, what: string, retryable = false, cause?: unknown): SourceError {
    return new SourceError(code, `token file ${this.cfg.tokenFile} ${what}`, {
      profile: this.profile,
      retryable,
      cause,
    });
  }
}

function audiencesOf(token: string): string[] {
  const { aud } = decodeJwt(token);
  return aud === undefined ? [] : Array.isArray(aud) ? aud : [aud];
}
