// Parameter constraints from the STS API reference, with AWS's validation wording, so a
// client that sends something real STS would reject fails here too.
import type { SessionTag } from './identity.ts';
import { errors, lowerFirst, type Params } from './protocol.ts';

/** Length and pattern check shared by the string parameters. `secret` keeps the value out of messages. */
function checkString(
  name: string,
  value: string,
  min: number,
  max: number,
  pattern?: { re: RegExp; source: string },
  secret = false,
): string {
  const shown = secret ? undefined : value;
  const param = lowerFirst(name);
  if (value.length < min) {
    throw errors.constraint(shown, param, `Member must have length greater than or equal to ${min}`);
  }
  if (value.length > max) {
    throw errors.constraint(shown, param, `Member must have length less than or equal to ${max}`);
  }
  if (pattern && !pattern.re.test(value)) {
    throw errors.constraint(
      shown,
      param,
      `Member must satisfy regular expression pattern: ${pattern.source}`,
    );
  }
  return value;
}

const NAME_PATTERN = { re: /^[\w+=,.@-]*$/, source: '[\\w+=,.@-]*' };
const EXTERNAL_ID_PATTERN = { re: /^[\w+=,.@:/-]*$/, source: '[\\w+=,.@:\\/-]*' };
const TAG_KEY_PATTERN = { re: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u, source: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+' };
const TAG_VALUE_PATTERN = { re: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u, source: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*' };

export function roleSessionName(params: Params): string {
  return checkString('RoleSessionName', params.required('RoleSessionName'), 2, 64, NAME_PATTERN);
}

export function roleArn(params: Params): string {
  return checkString('RoleArn', params.required('RoleArn'), 20, 2048);
}

export function webIdentityToken(params: Params): string {
  return checkString('WebIdentityToken', params.required('WebIdentityToken'), 4, 20000, undefined, true);
}

/** DurationSeconds syntax (900..43200, default 3600); the role's own maximum is checked later. */
export function durationSeconds(params: Params): number {
  const raw = params.get('DurationSeconds');
  if (raw === undefined) return 3600;
  if (!/^-?\d+$/.test(raw)) {
    throw errors.validation(`Invalid value '${raw}' for DurationSeconds: must be an integer`);
  }
  const value = Number(raw);
  if (value < 900) {
    throw errors.constraint(raw, 'durationSeconds', 'Member must have value greater than or equal to 900');
  }
  if (value > 43200) {
    throw errors.constraint(raw, 'durationSeconds', 'Member must have value less than or equal to 43200');
  }
  return value;
}

/** An inline session policy: at most 2048 characters of JSON. */
export function sessionPolicy(params: Params): string | undefined {
  const policy = params.get('Policy');
  if (policy === undefined) return undefined;
  checkString('Policy', policy, 1, 2048);
  let parsed: unknown;
  try {
    parsed = JSON.parse(policy);
  } catch {
    throw errors.malformedPolicy('The policy is not in the valid JSON format.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw errors.malformedPolicy('The policy is not in the valid JSON format.');
  }
  return policy;
}

/** Managed session policies: up to 10 IAM policy ARNs. */
export function policyArns(params: Params): string[] {
  const arns = params.structList('PolicyArns', ['arn']).map((entry) => entry.arn ?? '');
  if (arns.length > 10) {
    throw errors.constraint(null, 'policyArns', 'Member must have length less than or equal to 10');
  }
  for (const arn of arns) {
    checkString('arn', arn, 20, 2048);
    if (!/^arn:aws:iam::(\d{12}|aws):policy\/.+$/.test(arn)) throw errors.validation(`Invalid ARN ${arn}`);
  }
  return arns;
}

export function externalId(params: Params): string | undefined {
  const value = params.get('ExternalId');
  return value === undefined ? undefined : checkString('ExternalId', value, 2, 1224, EXTERNAL_ID_PATTERN);
}

export function sourceIdentity(params: Params): string | undefined {
  const value = params.get('SourceIdentity');
  if (value === undefined) return undefined;
  checkString('SourceIdentity', value, 2, 64, NAME_PATTERN);
  if (value.toLowerCase().startsWith('aws:')) {
    throw errors.validation('SourceIdentity cannot start with aws:');
  }
  return value;
}

/** Session tags (`Tags.member.N.Key/Value`) and which of them are transitive. */
export function sessionTags(params: Params): SessionTag[] {
  const raw = params.structList('Tags', ['Key', 'Value']);
  if (raw.length > 50) {
    throw errors.constraint(null, 'tags', 'Member must have length less than or equal to 50');
  }
  const transitive = params.list('TransitiveTagKeys');
  const seen = new Set<string>();
  const tags = raw.map(({ Key: key = '', Value: value = '' }) => {
    checkString('Key', key, 1, 128, TAG_KEY_PATTERN);
    checkString('Value', value, 0, 256, TAG_VALUE_PATTERN);
    // Tag keys are case-insensitive in IAM.
    if (seen.has(key.toLowerCase())) {
      throw errors.validation('Duplicate tag keys found. Please note that Tag keys are case insensitive.');
    }
    seen.add(key.toLowerCase());
    return { key, value, transitive: transitive.some((t) => t.toLowerCase() === key.toLowerCase()) };
  });
  for (const key of transitive) {
    if (!seen.has(key.toLowerCase())) {
      throw errors.validation(
        `The specified transitive tag key ${key} must be included in the requested tags.`,
      );
    }
  }
  return tags;
}
