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

const B64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Why `text` is not a compact JWS that STS could take (three base64url parts, a JSON header with
 * `alg`, a JSON object payload, a signature), said as what was found and how to write the file
 * instead; undefined when it is one. The wrappers CI systems and scripts produce by accident are
 * named: GitHub's ID-token API answer `{"value":"<jwt>"}`, a header value `Bearer <jwt>`, a
 * JSON-quoted string.
 */
export function notACompactJws(text: string): string | undefined {
  if (/^Bearer\s+/i.test(text)) {
    return 'holds an Authorization header value ("Bearer <jwt>"), not the bare JWT; write the token without the "Bearer " prefix';
  }
  if (text.startsWith('"')) {
    return 'holds a JSON-quoted string, not the bare JWT; write it without the quotes (jq -r . or jq -r .value)';
  }
  if (text.startsWith('{')) {
    let fields: string[] = [];
    try {
      fields = Object.keys(JSON.parse(text) as object);
    } catch {
      fields = [];
    }
    const field = fields.find((f) => ['value', 'token', 'id_token', 'access_token'].includes(f));
    return field
      ? `holds a JSON object with the token in its "${field}" field (GitHub Actions' ID-token API answers so), not the bare JWT; write only that field: jq -r .${field}`
      : 'holds JSON, not a JWT; point source.tokenFile at the token itself, not at a JSON wrapper';
  }
  const parts = text.split('.');
  if (parts.length !== 3) {
    return `is not a JWT: ${parts.length} dot-separated part${parts.length === 1 ? '' : 's'} where a signed JWT has 3 (header.payload.signature); point source.tokenFile at the token itself, not at a folder or a wrapper`;
  }
  const names = ['header', 'payload', 'signature'];
  const bad = parts.findIndex((p) => !B64URL.test(p));
  if (bad >= 0) {
    return `is not a JWT: its ${names[bad]} is ${parts[bad] === '' ? 'empty' : 'not base64url'}${bad === 2 && parts[bad] === '' ? ' (an unsigned token: STS takes only signed ones)' : ''}; write the token exactly as issued, on one line`;
  }
  const json = (part: string): unknown => {
    try {
      return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
  };
  const header = json(parts[0]!) as { alg?: unknown } | undefined;
  if (typeof header !== 'object' || header === null || typeof header.alg !== 'string') {
    return 'is not a JWT: its header is not JSON with an "alg"; write the token exactly as issued';
  }
  if (header.alg === 'none') return 'holds an unsigned JWT (alg "none"); STS takes only signed tokens';
  const payload = json(parts[1]!);
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return 'is not a JWT: its payload is not a JSON object (an encrypted or opaque token?); STS takes signed JWTs only';
  }
  return undefined;
}
