// The man page, credential-broker(1), in roff: generated from the command table (index.ts) like
// --help, so the two cannot disagree. The build writes it to dist/share/man/man1/ for packages.
import type { Command, Option } from './command.ts';
import { APPS_NOTE, EXIT_NOTE } from './help.ts';

/**
 * Text as roff reads it literally: backslashes and hyphens escaped, no line taken for a request, and
 * non-ASCII characters (’ —) as glyph names, which groff reads without a -k/preconv pass.
 */
function roff(text: string): string {
  return text
    .replaceAll('\\', '\\e')
    .replaceAll('-', '\\-')
    .replace(/[^ -~\n\t]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`)
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

function optionItem(name: string, o: Option): string {
  const flag = `${o.short ? `\\fB\\-${o.short}\\fR, ` : ''}\\fB\\-\\-${roff(name)}\\fR${o.value ? ` \\fI${roff(o.value)}\\fR` : ''}`;
  return `.TP\n${flag}\n${roff(o.help.replaceAll('\n', ' '))}`;
}

function commandSection(c: Command): string {
  return [
    `.SS ${roff(c.name)}`,
    roff(c.summary),
    '.PP',
    '.nf',
    ...c.usage.map((u) => `\\fBcredential\\-broker\\fR ${roff(u)}`),
    '.fi',
    '.PP',
    // Filled like prose, but the exit codes start a line of their own.
    roff(c.description).replace(/\nExit codes:/, '\n.br\nExit codes:'),
    ...Object.entries(c.options).map(([n, o]) => optionItem(n, o)),
    '.PP',
    'Examples:',
    '.PP',
    '.RS 4',
    '.nf',
    ...c.examples.map(roff),
    '.fi',
    '.RE',
  ].join('\n');
}

export function manPage(commands: readonly Command[], version: string): string {
  return `.\\" credential-broker(1): generated from src/cli/index.ts by scripts/share-files.ts; do not edit
.TH CREDENTIAL\\-BROKER 1 "" "credential\\-broker ${roff(version)}" "User Commands"
.nh
.ad l
.SH NAME
credential\\-broker \\- temporary AWS credentials for applications outside AWS
.SH SYNOPSIS
.nf
${commands.map((c) => `\\fBcredential\\-broker\\fR ${roff(c.usage[0]!)}`).join('\n')}
\\fBcredential\\-broker\\fR help COMMAND | \\-\\-help | \\-\\-version
.fi
.SH DESCRIPTION
The broker authenticates this machine to an identity the organisation already runs (OIDC, SAML,
Kerberos, a Kubernetes service\\-account token, an X.509 certificate through IAM Roles Anywhere),
exchanges the proof at AWS STS, keeps the temporary credentials fresh and serves them on the
container\\-credentials endpoint, so unmodified AWS SDKs and the AWS CLI pick them up.
.PP
.nf
${roff(APPS_NOTE.join('\n'))}
.fi
.SH COMMANDS
${commands.map(commandSection).join('\n')}
.SH EXIT STATUS
${roff(EXIT_NOTE)}
.SH ENVIRONMENT
.TP
.B LOG_LEVEL\\fR, \\fBLOG_FORMAT
override the config's logging.level and logging.format (serve).
.TP
.B NO_COLOR
no colour in pretty logs, even on a terminal.
.SH FILES
.TP
.I /etc/credential\\-broker/config.yaml
the default config file.
.SH SEE ALSO
The README and docs/ of the aws\\-credential\\-broker package: docs/configuration.md, docs/applications.md.
`;
}
