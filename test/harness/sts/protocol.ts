// The STS wire format: Query-protocol parameters in, XML out.
// Shapes follow the real service so the real @aws-sdk/client-sts parses them:
// the SDK takes `Error.Code` as the error's `name`, so codes must be exact.

export const STS_VERSION = '2011-06-15';
export const STS_XMLNS = `https://sts.amazonaws.com/doc/${STS_VERSION}/`;

/** An error that is answered to the client as an AWS `<ErrorResponse>`. */
export class StsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** `Sender` = caller's fault, `Receiver` = service's fault (5xx). */
    readonly type: 'Sender' | 'Receiver' = status >= 500 ? 'Receiver' : 'Sender',
  ) {
    super(message);
    this.name = code;
  }
}

// Constructors for the errors real STS returns, with its status codes and wording.
// Status codes checked against recorded real responses: AccessDenied and ExpiredToken are 403,
// the AssumeRoleWith* token errors are 400.
export const errors = {
  validation: (message: string) => new StsError(400, 'ValidationError', message),
  /**
   * The AWS "1 validation error detected" wording for a constraint on one parameter.
   * `value` undefined leaves a secret (a token) out of the message.
   */
  constraint: (value: string | null | undefined, param: string, constraint: string) => {
    const shown = value === undefined ? '' : value === null ? ' null' : ` '${value}'`;
    return new StsError(
      400,
      'ValidationError',
      `1 validation error detected: Value${shown} at '${param}' failed to satisfy constraint: ${constraint}`,
    );
  },
  invalidAction: (action: string, version: string) =>
    new StsError(400, 'InvalidAction', `Could not find operation ${action} for version ${version}`),
  invalidIdentityToken: (message: string) => new StsError(400, 'InvalidIdentityToken', message),
  expiredWebToken: (message: string) => new StsError(400, 'ExpiredTokenException', message),
  idpCommunication: (message: string) => new StsError(400, 'IDPCommunicationError', message),
  malformedPolicy: (message: string) => new StsError(400, 'MalformedPolicyDocument', message),
  accessDenied: (message: string) => new StsError(403, 'AccessDenied', message),
  missingAuth: () =>
    new StsError(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token'),
  incompleteSignature: (message: string) => new StsError(400, 'IncompleteSignature', message),
  invalidClientTokenId: () =>
    new StsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.'),
  expiredToken: () =>
    new StsError(403, 'ExpiredToken', 'The security token included in the request is expired'),
  signatureDoesNotMatch: (message?: string) =>
    new StsError(
      403,
      'SignatureDoesNotMatch',
      message ??
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    ),
  throttling: () => new StsError(400, 'Throttling', 'Rate exceeded'),
  serverFault: (status: number) =>
    status === 503
      ? new StsError(503, 'ServiceUnavailable', 'Service is unavailable. Please try again later.')
      : new StsError(status, 'InternalFailure', 'An internal error has occurred. Please try again later.'),
  tooLarge: () => new StsError(413, 'RequestEntityTooLarge', 'Request body is larger than 64 KiB.'),
};

/** Escapes text for an XML element body. */
export function xmlEscape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** An XML element tree: a string is text, an object is child elements in insertion order. */
export type XmlNode = string | number | { [element: string]: XmlNode | undefined };

function renderNode(node: XmlNode, indent: string): string {
  if (typeof node === 'string' || typeof node === 'number') return xmlEscape(String(node));
  const inner = `${indent}  `;
  const children = Object.entries(node)
    .filter((entry): entry is [string, XmlNode] => entry[1] !== undefined)
    .map(([name, child]) => {
      const body = renderNode(child, inner);
      const multiline = typeof child === 'object';
      return `${inner}<${name}>${multiline ? `\n${body}\n${inner}` : body}</${name}>`;
    });
  return children.join('\n');
}

/** `<{Action}Response><{Action}Result>…</…Result><ResponseMetadata>…` as STS sends it. */
export function renderResult(action: string, result: XmlNode, requestId: string): string {
  const body = renderNode({ [`${action}Result`]: result, ResponseMetadata: { RequestId: requestId } }, '');
  return `<${action}Response xmlns="${STS_XMLNS}">\n${body}\n</${action}Response>\n`;
}

export function renderError(err: StsError, requestId: string): string {
  const body = renderNode(
    { Error: { Type: err.type, Code: err.code, Message: err.message }, RequestId: requestId },
    '',
  );
  return `<ErrorResponse xmlns="${STS_XMLNS}">\n${body}\n</ErrorResponse>\n`;
}

/** Query parameters as received (first value wins for a repeated name). */
export class Params {
  private readonly values = new Map<string, string>();

  constructor(sources: URLSearchParams[]) {
    for (const source of sources) {
      for (const [key, value] of source) if (!this.values.has(key)) this.values.set(key, value);
    }
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  /** A required parameter; missing → the AWS "Member must not be null" error. */
  required(name: string): string {
    const value = this.values.get(name);
    if (value === undefined) throw errors.constraint(null, lowerFirst(name), 'Member must not be null');
    return value;
  }

  /** `Prefix.member.1…N` lists (N contiguous from 1, as the SDK serializes them). */
  list(prefix: string): string[] {
    const out: string[] = [];
    for (let i = 1; this.values.has(`${prefix}.member.${i}`); i++)
      out.push(this.values.get(`${prefix}.member.${i}`)!);
    return out;
  }

  /** `Prefix.member.N.Field` lists of structures. */
  structList(prefix: string, fields: string[]): Array<Record<string, string | undefined>> {
    const out: Array<Record<string, string | undefined>> = [];
    for (let i = 1; fields.some((f) => this.values.has(`${prefix}.member.${i}.${f}`)); i++) {
      out.push(Object.fromEntries(fields.map((f) => [f, this.values.get(`${prefix}.member.${i}.${f}`)])));
    }
    return out;
  }
}

/** AWS validation messages name parameters in lowerCamelCase (`roleSessionName`). */
export function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** STS timestamps: ISO-8601 UTC, whole seconds (`2019-11-09T13:34:41Z`). */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
