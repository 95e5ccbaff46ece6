// What the SAML logins read from IdP pages: their forms (login form, SAML auto-post form) with the
// values a browser would submit, and the page's visible text, to tell a wrong password from a
// locked account or an MFA prompt. parse5 parses as browsers do (HTML Living Standard), so
// unclosed tags, entities and odd markup mean what they mean in a browser; the input is bounded
// by the session's response size cap.

import type { DefaultTreeAdapterMap } from 'parse5';
import { parse } from 'parse5';

type Node = DefaultTreeAdapterMap['node'];
type Element = DefaultTreeAdapterMap['element'];

export interface FormInput {
  name: string;
  /** The input's type (`text`, `password`, `hidden`, `checkbox`...), or `select` / `textarea`. */
  type: string;
  value: string;
}

export interface HtmlForm {
  /** The form's action, resolved against the page URL (and its `<base href>`). */
  action: URL;
  method: 'GET' | 'POST';
  /** The successful controls: what submitting the form as it stands would send, in document order. */
  inputs: FormInput[];
}

/** Buttons are sent only when clicked; these are never part of a form's data. */
const NOT_SUBMITTED = new Set(['submit', 'button', 'image', 'reset', 'file']);

export function parseForms(html: string, pageUrl: URL): HtmlForm[] {
  const document = parse(html);
  const elements = [...walk(document)];
  const base = elements.find((e) => e.tagName === 'base' && attr(e, 'href') !== undefined);
  let baseUrl = pageUrl;
  try {
    if (base) baseUrl = new URL(attr(base, 'href')!, pageUrl);
  } catch {
    // A broken <base href> is ignored, as browsers do.
  }
  const forms: HtmlForm[] = [];
  for (const form of elements.filter((e) => e.tagName === 'form')) {
    let action: URL;
    try {
      action = new URL(attr(form, 'action') || pageUrl.href, attr(form, 'action') ? baseUrl : pageUrl);
    } catch {
      continue;
    }
    const id = attr(form, 'id');
    const controls = elements.filter((e) => {
      if (!['input', 'select', 'textarea'].includes(e.tagName)) return false;
      // The `form` attribute names the owner by id; otherwise the nearest enclosing form owns it.
      const owner = attr(e, 'form');
      return owner !== undefined ? owner === id && id !== undefined : nearestForm(e) === form;
    });
    forms.push({
      action,
      method: attr(form, 'method')?.toUpperCase() === 'GET' ? 'GET' : 'POST',
      inputs: controls.flatMap(submitted),
    });
  }
  return forms;
}

/** The name/value pairs a control contributes when its form is submitted untouched. */
function submitted(control: Element): FormInput[] {
  const name = attr(control, 'name');
  if (!name || attr(control, 'disabled') !== undefined || disabledByFieldset(control)) return [];
  if (control.tagName === 'textarea') {
    // The parser keeps a textarea's content as text (one leading newline dropped, as browsers do).
    return [{ name, type: 'textarea', value: textOf(control) }];
  }
  if (control.tagName === 'select') {
    const options = [...walk(control)].filter((e) => e.tagName === 'option' && !disabledOption(e));
    const selected = options.filter((o) => attr(o, 'selected') !== undefined);
    const multiple = attr(control, 'multiple') !== undefined;
    // A single select with nothing marked selected shows, and sends, its first option.
    const chosen = multiple
      ? selected
      : selected.slice(-1).concat(selected.length ? [] : options.slice(0, 1));
    return chosen.map((o) => ({ name, type: 'select', value: attr(o, 'value') ?? textOf(o).trim() }));
  }
  const type = (attr(control, 'type') ?? 'text').toLowerCase();
  if (NOT_SUBMITTED.has(type)) return [];
  if (type === 'checkbox' || type === 'radio') {
    return attr(control, 'checked') !== undefined
      ? [{ name, type, value: attr(control, 'value') ?? 'on' }]
      : [];
  }
  return [{ name, type, value: attr(control, 'value') ?? '' }];
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
  const parts: string[] = [];
  const visit = (node: Node) => {
    if (node.nodeName === '#text') parts.push((node as DefaultTreeAdapterMap['textNode']).value);
    if (['script', 'style', 'template', 'noscript', 'head'].includes(node.nodeName)) return;
    for (const child of childrenOf(node)) visit(child);
  };
  visit(parse(html));
  return parts.join(' ').replace(/\s+/g, ' ').trim().slice(0, max);
}

/** The page's `<title>`, for naming a page that came where something else was expected. */
export function pageTitle(html: string): string | undefined {
  const title = [...walk(parse(html))].find((e) => e.tagName === 'title');
  const text = title ? textOf(title).replace(/\s+/g, ' ').trim() : '';
  return text ? text.slice(0, 120) : undefined;
}

function* walk(node: Node): Generator<Element> {
  for (const child of childrenOf(node)) {
    if ('tagName' in child) yield child;
    yield* walk(child);
  }
}

function childrenOf(node: Node): Node[] {
  // A <template>'s markup lives in its content fragment and is never part of the page's forms.
  return 'childNodes' in node && node.nodeName !== 'template' ? node.childNodes : [];
}

function attr(element: Element, name: string): string | undefined {
  return element.attrs.find((a) => a.name === name)?.value;
}

function textOf(node: Node): string {
  if (node.nodeName === '#text') return (node as DefaultTreeAdapterMap['textNode']).value;
  return childrenOf(node).map(textOf).join('');
}

function nearestForm(element: Element): Element | undefined {
  for (let node = element.parentNode; node && 'tagName' in node; node = node.parentNode) {
    if (node.tagName === 'form') return node;
  }
  return undefined;
}

function disabledByFieldset(element: Element): boolean {
  for (let node = element.parentNode; node && 'tagName' in node; node = node.parentNode) {
    if (node.tagName === 'fieldset' && attr(node, 'disabled') !== undefined) return true;
  }
  return false;
}

function disabledOption(option: Element): boolean {
  const parent = option.parentNode;
  return (
    attr(option, 'disabled') !== undefined ||
    (parent !== null &&
      'tagName' in parent &&
      parent.tagName === 'optgroup' &&
      attr(parent, 'disabled') !== undefined)
  );
}
