// Every error code the broker gives out (CLI line, HTTP body, log line, metric label), in one typed
// list: a code not in it is a type error wherever a BrokerError is made or an error body is sent.
// docs/errors.md is generated from this list (`npm run docs:errors`, scripts/error-reference.ts), and
// test/unit/error-reference.test.ts checks it and each mechanism page's error table against the list.
// Codes are stable, since operators alert and search on them; `meaning` and `fix` say in general
// what the message of one failure says in particular.
import { SAML_CODES } from './saml.ts';
import { SERVING_CODES } from './serving.ts';
import { SOURCE_CODES } from './sources.ts';
import { STS_CODES } from './sts.ts';
import type { CodeInfo } from './types.ts';

export type { CodeInfo, DocPage, Retried } from './types.ts';

/** The list by area, in the order docs/errors.md shows them. */
export const CODE_GROUPS = [
  { title: 'Configuration and identity sources', codes: SOURCE_CODES },
  { title: 'SAML and Kerberos', codes: SAML_CODES },
  { title: 'STS and Roles Anywhere', codes: STS_CODES },
  { title: 'Listeners and commands', codes: SERVING_CODES },
] as const;

export const CODES = { ...SOURCE_CODES, ...SAML_CODES, ...STS_CODES, ...SERVING_CODES } as const;

/** A code of the broker: a string literal not in CODES does not compile. */
export type ErrorCode = keyof typeof CODES;

/** What the list says about a code (for codes only known at run time, e.g. from a peer's reply). */
export function codeInfo(code: string): CodeInfo | undefined {
  return Object.hasOwn(CODES, code) ? (CODES as Record<string, CodeInfo>)[code] : undefined;
}
