import { decodeJwt } from 'jose';

/** Reads the claims a broker may use (exp, sub) without verifying: STS verifies, we only schedule. */
export function peekJwt(
  token: string,
): { expiresAt: number | undefined; subject: string | undefined } | undefined {
  try {
    const claims = decodeJwt(token);
    return {
      expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : undefined,
      subject: typeof claims.sub === 'string' ? claims.sub : undefined,
    };
  } catch {
    return undefined;
  }
}
