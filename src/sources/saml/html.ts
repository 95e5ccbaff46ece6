// Just enough HTML reading for IdP pages: their forms (login form, SAML auto-post form) and the
// text of the page, to tell a wrong password from a locked account or an MFA prompt. IdP pages are
// not XML, so this is a tolerant tag scanner, bounded by the session's response size cap.

export interface FormInput {
  name: string;
  type: string;
  value: string;
}

export interface HtmlForm {
  /** The form's action, resolved against the page URL. */
  action: URL;
  method: 'GET' | 'POST';
  inputs: FormInput[];
}

const FORM = /<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi;
const INPUT = /<input\b([^>]*)>/gi;
const ATTRIBUTE = /([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g;

export function parseForms(html: string, pageUrl: URL): HtmlForm[] {
  const forms: HtmlForm[] = [];
  // Markup inside scripts and comments is not part of the page's forms.
  const markup = html.replace(/<!--[\s\S]*?-->|<script\b[\s\S]*?<\/script\s*>/gi, ' ');
  for (const [, rawAttributes = '', inner = ''] of markup.matchAll(FORM)) {
    const attributes = parseAttributes(rawAttributes);
    const inputs: FormInput[] = [];
    for (const [, rawInput = ''] of inner.matchAll(INPUT)) {
      const a = parseAttributes(rawInput);
      if (a.name) inputs.push({ name: a.name, type: (a.type ?? 'text').toLowerCase(), value: a.value ?? '' });
    }
    let action: URL;
    try {
      action = new URL(attributes.action || pageUrl.href, pageUrl);
    } catch {
      continue;
    }
    forms.push({ action, method: attributes.method?.toUpperCase() === 'GET' ? 'GET' : 'POST', inputs });
  }
  return forms;
}

/** The `SAMLResponse` of an auto-post form (what the IdP would have the browser post to AWS). */
export function samlResponseOf(forms: HtmlForm[]): string | undefined {
  for (const form of forms) {
    const input = form.inputs.find((i) => i.name === 'SAMLResponse');
    if (input?.value) return input.value;
  }
  return undefined;
}

/** The page's visible text, collapsed and cut short: for telling pages apart and quoting an error line. */
export function visibleText(html: string, max = 2000): string {
  return decodeEntities(
    html
      .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' '),
  )
    .trim()
    .slice(0, max);
}

function parseAttributes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [, name = '', dq, sq, bare] of text.matchAll(ATTRIBUTE)) {
    const key = name.toLowerCase();
    if (!(key in out)) out[key] = decodeEntities(dq ?? sq ?? bare ?? '');
  }
  return out;
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code =
        ref[1] === 'x' || ref[1] === 'X' ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1));
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[ref.toLowerCase()] ?? whole;
  });
}
