// docs/config-reference.md is generated from the zod schema (src/config/schema/), so that the
// reference cannot drift from what the broker accepts: `npm run docs:config` writes it, and
// `tsx scripts/config-reference.ts --check` (like test/unit/config-reference.test.ts) fails when the
// file differs from what the schema gives. The zod schema is walked directly rather than through
// z.toJSONSchema(): JSON Schema loses the defaults of transformed settings (durations) and cannot
// tell a duration or a secret reference from any other string.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { formatDuration } from '../src/config/duration.ts';
import { DEFAULT_CONFIG_PATH } from '../src/config/load.ts';
import {
  ConfigSchema,
  DurationSchema,
  SecretRefSchema,
  ThresholdDurationSchema,
} from '../src/config/schema/index.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REFERENCE_FILE = path.join(ROOT, 'docs/config-reference.md');
const EXAMPLES_DIR = path.join(ROOT, 'config');

/** A profile's name in setting paths, as in `profiles.<name>.role.arn`. */
export const PROFILE_NAME = '<name>';

type Schema = z.core.$ZodType;

/** One row of the reference: a setting, with its path as an operator writes it in YAML. */
export interface Setting {
  /** `server.limits.maxHeaderBytes`, `profiles.<name>.chain[].tags[].key` */
  path: string;
  type: string;
  default: string;
  required: boolean;
  description: string | undefined;
  examples: unknown[];
}

export interface Section {
  level: number;
  title: string;
  anchor: string;
  rows: Setting[];
}

/** Sections below the top level; every top-level key of the schema gets its own section too. */
const PROFILE_SECTIONS: { path: string; title: string }[] = [
  { path: `profiles.${PROFILE_NAME}.role`, title: `Role (\`profiles.${PROFILE_NAME}.role\`)` },
  { path: `profiles.${PROFILE_NAME}.chain`, title: `Chain entries (\`profiles.${PROFILE_NAME}.chain[]\`)` },
  { path: `profiles.${PROFILE_NAME}.source`, title: `Sources (\`profiles.${PROFILE_NAME}.source\`)` },
];

interface Unwrapped {
  base: Schema;
  optional: boolean;
  hasDefault: boolean;
  defaultValue: unknown;
  description: string | undefined;
  defaultText: string | undefined;
  examples: unknown[];
}

/** Peels .optional(), .default() and .prefault() off; metadata set on any layer counts (outermost first). */
function unwrap(schema: Schema): Unwrapped {
  const out: Unwrapped = {
    base: schema,
    optional: false,
    hasDefault: false,
    defaultValue: undefined,
    description: undefined,
    defaultText: undefined,
    examples: [],
  };
  for (let s: Schema | undefined = schema; s; ) {
    const meta = z.globalRegistry.get(s);
    out.description ??= meta?.description;
    if (out.defaultText === undefined && typeof meta?.defaultText === 'string')
      out.defaultText = meta.defaultText;
    if (out.examples.length === 0 && Array.isArray(meta?.examples)) out.examples = meta.examples;
    out.base = s;
    const def: z.core.$ZodTypeDef = s._zod.def;
    if (def.type === 'optional') {
      out.optional = true;
      s = (def as z.core.$ZodOptionalDef).innerType;
    } else if (def.type === 'default' || def.type === 'prefault') {
      if (!out.hasDefault) out.defaultValue = (def as z.core.$ZodDefaultDef).defaultValue;
      out.hasDefault = true;
      s = (def as z.core.$ZodDefaultDef).innerType;
    } else {
      s = undefined;
    }
  }
  return out;
}

const isDuration = (s: Schema) =>
  s._zod.def === DurationSchema._zod.def || s._zod.def === ThresholdDurationSchema._zod.def;
const isSecretRef = (s: Schema) => s._zod.def === SecretRefSchema._zod.def;

function objectShape(s: Schema): Record<string, Schema> | undefined {
  return s._zod.def.type === 'object' ? (s._zod.def as z.core.$ZodObjectDef).shape : undefined;
}

function discriminated(s: Schema): { key: string; options: readonly Schema[] } | undefined {
  const def = s._zod.def as z.core.$ZodDiscriminatedUnionDef;
  return def.type === 'union' && typeof def.discriminator === 'string'
    ? { key: def.discriminator, options: def.options }
    : undefined;
}

function arrayElement(s: Schema): Schema | undefined {
  return s._zod.def.type === 'array' ? unwrap((s._zod.def as z.core.$ZodArrayDef).element).base : undefined;
}

/** The discriminator values a variant stands for (a literal, or an enum of several). */
function variantValues(variant: Schema, key: string): string[] {
  const field = objectShape(variant)?.[key];
  const def = field ? unwrap(field).base._zod.def : undefined;
  if (def?.type === 'literal') return (def as z.core.$ZodLiteralDef<string>).values.map(String);
  if (def?.type === 'enum') return Object.values((def as z.core.$ZodEnumDef).entries).map(String);
  return [];
}

const code = (value: unknown) => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;

/** Values as they would be written in YAML (lists in flow style). */
function yamlValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => yamlValue(v)).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${k}: ${yamlValue(v)}`)
      .join(', ')}}`;
  }
  return String(value);
}

function typeOf(s: Schema, links: Map<Schema, string>): string {
  if (isDuration(s)) return 'duration';
  if (isSecretRef(s)) return 'secret reference';
  const def = s._zod.def;
  switch (def.type) {
    case 'string':
      return (def as z.core.$ZodStringFormatDef).format === 'url' ? 'URL' : 'string';
    case 'number': {
      const n = s as z.ZodNumber;
      const min = n.minValue !== null && n.minValue > Number.MIN_SAFE_INTEGER ? n.minValue : undefined;
      const max = n.maxValue !== null && n.maxValue < Number.MAX_SAFE_INTEGER ? n.maxValue : undefined;
      const range =
        min !== undefined && max !== undefined
          ? `, ${min}–${max}`
          : min !== undefined
            ? `, ≥ ${min}`
            : max !== undefined
              ? `, ≤ ${max}`
              : '';
      return `${n.isInt ? 'integer' : 'number'}${range}`;
    }
    case 'boolean':
      return 'boolean';
    case 'literal':
      return (def as z.core.$ZodLiteralDef<string>).values.map(code).join(' or ');
    case 'enum':
      return Object.values((def as z.core.$ZodEnumDef).entries)
        .map(code)
        .join(', ');
    case 'object':
      return 'object';
    case 'record': {
      const value = (def as z.core.$ZodRecordDef).valueType as Schema;
      return `map of name → ${objectShape(value) ? 'object' : typeOf(value, links)}`;
    }
    case 'array': {
      const element = arrayElement(s)!;
      const max = (def as z.core.$ZodArrayDef).checks
        ?.map((c) => c._zod.def as { check: string; maximum?: number })
        .find((c) => c.check === 'max_length')?.maximum;
      const of = objectShape(element) ? 'objects' : typeOf(element, links);
      return `list of ${of}${max === undefined ? '' : ` (at most ${max})`}`;
    }
    case 'union': {
      const union = discriminated(s);
      if (!union) return (def as z.core.$ZodUnionDef).options.map((o) => typeOf(o, links)).join(' or ');
      return `one of: ${union.options
        .map((o) => {
          const anchor = links.get(o);
          const label = variantValues(o, union.key).map(code).join(', ');
          return anchor ? `[${label}](#${anchor})` : label;
        })
        .join(', ')}`;
    }
    case 'pipe':
      return typeOf((def as z.core.$ZodPipeDef).in, links);
    default:
      return def.type;
  }
}

function defaultOf(u: Unwrapped): string {
  if (u.defaultText !== undefined) return u.defaultText;
  if (!u.hasDefault) return '';
  const value = u.defaultValue;
  if (isDuration(u.base) && typeof value === 'number') return code(formatDuration(value));
  // A whole block's default is the defaults of its settings, shown on their own rows.
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return '';
  return code(yamlValue(value));
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function slugger(): (title: string) => string {
  const seen = new Map<string, number>();
  return (title) => {
    const base = title
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return n === 0 ? base : `${base}-${n}`;
  };
}

/** Navigates to the setting at a reference path (`<name>` steps into a map, `[]` into a list). */
function schemaAt(root: Schema, settingPath: string): Schema | undefined {
  let s: Schema | undefined = root;
  for (const part of settingPath.split('.')) {
    if (!s) return undefined;
    const base: Schema = unwrap(s).base;
    if (part === PROFILE_NAME && base._zod.def.type === 'record') {
      s = (base._zod.def as z.core.$ZodRecordDef).valueType;
    } else {
      s = objectShape(base)?.[part];
    }
  }
  return s;
}

/** The reference as data: sections in document order, each with its rows. */
export function referenceModel(schema: z.ZodObject = ConfigSchema): Section[] {
  const slug = slugger();
  const roots = [
    ...Object.keys(schema.shape).map((key) => ({ path: key, title: `\`${key}\`` })),
    ...PROFILE_SECTIONS,
  ].flatMap((plan) => {
    const at = schemaAt(schema, plan.path);
    return at ? [{ ...plan, schema: at, anchor: slug(plan.title) }] : [];
  });
  const rootByPath = new Map(roots.map((r) => [r.path, r]));
  const rootByDef = new Map(roots.map((r) => [unwrap(r.schema).base._zod.def, r]));
  /** Variant sections' anchors, for the type column of the union's own row. */
  const links = new Map<Schema, string>();
  const sections: Section[] = [];

  interface Variant {
    option: Schema;
    title: string;
    anchor: string;
    path: string;
    level: number;
  }

  for (const root of roots) {
    const rows: Setting[] = [];

    /** Rows for what lies inside `base`; the variants of a union are collected into `variants`. */
    const descend = (base: Schema, settingPath: string, level: number, variants: Variant[]): void => {
      const union = discriminated(base);
      if (union) {
        const label = settingPath.replace(`profiles.${PROFILE_NAME}.`, '');
        for (const option of union.options) {
          const title = `\`${label}.${union.key}: ${variantValues(option, union.key).join(' | ')}\``;
          const anchor = slug(title);
          links.set(option, anchor);
          variants.push({ option, title, anchor, path: settingPath, level: level + 1 });
        }
        return;
      }
      const shape = objectShape(base);
      if (shape) {
        for (const [key, child] of Object.entries(shape))
          visit(child, `${settingPath}.${key}`, level, variants);
        return;
      }
      if (base._zod.def.type === 'record') {
        const value = unwrap((base._zod.def as z.core.$ZodRecordDef).valueType).base;
        descend(value, `${settingPath}.${PROFILE_NAME}`, level, variants);
        return;
      }
      const element = arrayElement(base);
      if (element && (objectShape(element) || discriminated(element))) {
        descend(element, `${settingPath}[]`, level, variants);
      }
    };

    const visit = (child: Schema, settingPath: string, level: number, variants: Variant[]): void => {
      const u = unwrap(child);
      const other = rootByPath.get(settingPath) ?? rootByDef.get(u.base._zod.def);
      const linked = other !== undefined && other.path !== root.path;
      const rowAt = rows.length;
      if (!linked) descend(u.base, settingPath, level, variants);
      // After descending, so that a union's variants have their anchors for the type column.
      const note = linked
        ? ` ${other.path === settingPath ? 'See' : 'Same settings as'} [${other.title}](#${other.anchor}).`
        : '';
      rows.splice(rowAt, 0, {
        path: settingPath,
        type: typeOf(u.base, links),
        default: defaultOf(u),
        required: !u.optional && !u.hasDefault,
        description: u.description === undefined ? undefined : `${u.description}${note}`,
        examples: u.examples,
      });
    };

    /** A union's variants, each followed by the variants of its own unions. */
    const variantSections = (variants: Variant[]): Section[] =>
      variants.flatMap((v) => {
        const before = rows.length;
        const nested: Variant[] = [];
        descend(v.option, v.path, v.level, nested);
        const own = rows.splice(before);
        return [{ level: v.level, title: v.title, anchor: v.anchor, rows: own }, ...variantSections(nested)];
      });

    const variants: Variant[] = [];
    visit(root.schema, root.path, 2, variants);
    sections.push({ level: 2, title: root.title, anchor: root.anchor, rows: [...rows] });
    rows.length = 0;
    sections.push(...variantSections(variants));
  }
  return sections;
}

/** Every row of the reference (a setting shared by several variants of a union has one row in each). */
export function referenceSettings(schema: z.ZodObject = ConfigSchema): Setting[] {
  return referenceModel(schema).flatMap((s) => s.rows);
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

function describe(setting: Setting): string {
  const text = setting.description ?? '';
  if (setting.examples.length === 0) return text;
  const label = setting.examples.length === 1 ? 'Example' : 'Examples';
  return `${text} ${label}: ${setting.examples.map((e) => code(yamlValue(e))).join(', ')}.`;
}

function intro(): string {
  const examples = readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => `[${f}](../config/${f})`)
    .join(', ');
  return `# Configuration reference

<!-- Generated from src/config/schema/ by \`npm run docs:config\`: edit the schema's descriptions, not this file. -->

The broker reads one YAML file, \`--config FILE\` (default \`${DEFAULT_CONFIG_PATH}\`). Every
setting is listed below, generated from the schema the broker validates with, so this page and the
broker agree. Worked examples, with comments: ${examples}.

- **Validation.** The whole file is checked before anything starts. Each problem is reported on its
  own line as \`FILE: path.to.setting: what is wrong\` with the fix, and the process exits with
  status 78 (\`EX_CONFIG\`); it never starts half-way. Unknown settings are errors, so a typo cannot
  silently disable a setting. On \`SIGHUP\` (or with \`reload.watch\`) a config that fails validation
  is logged and the running one stays.
- **Secrets** are never written in the file, so that it can be world-readable, versioned and shown
  in bug reports. A *secret reference* is one of \`file:/path\` (the file's contents, one trailing
  newline dropped), \`env:NAME\` (an environment variable of the broker process) or
  \`credential:NAME\` (\`$CREDENTIALS_DIRECTORY/NAME\`, a systemd \`LoadCredential=\`). References are
  read again on every use, so rotating a secret needs no restart; anything else is refused as an
  inline secret, without echoing it.
- **Durations** are written \`250ms\`, \`90s\`, \`15m\`, \`1h30m\`, \`14d\`, or as a number of seconds; at most \`24d\` (the longest a timer can wait), except \`certExpiryWarning\` (at most \`400d\`: it is compared with a certificate's lifetime, never waited for).
- **Paths** (token files, certificates, keytabs, \`file:\` references) that are relative resolve
  against the config file's folder.
- **Reading the tables:** \`${PROFILE_NAME}\` stands for a profile's name and \`[]\` for each entry
  of a list. *Required* means required whenever the block around it is present. The default is what
  applies when the setting is left out.
`;
}

/** The whole page, deterministic: sections and rows follow the schema's own order. */
export function renderReference(schema: z.ZodObject = ConfigSchema): string {
  const sections = referenceModel(schema);
  const contents = sections
    .filter((s) => s.level === 2)
    .map((s) => `- [${s.title}](#${s.anchor})`)
    .join('\n');
  const body = sections.map((s) => {
    const table = s.rows.map(
      (r) =>
        `| \`${r.path}\` | ${cell(r.type)} | ${cell(r.default) || '–'} | ${r.required ? 'yes' : 'no'} | ${cell(describe(r))} |`,
    );
    return [
      `${'#'.repeat(s.level)} ${s.title}`,
      '',
      '| setting | type | default | required | description |',
      '|---|---|---|---|---|',
      ...table,
    ].join('\n');
  });
  return `${intro()}\n## Contents\n\n${contents}\n\n${body.join('\n\n')}\n`;
}

function main(args: string[]): number {
  const expected = renderReference();
  const relative = path.relative(process.cwd(), REFERENCE_FILE);
  if (args.includes('--check')) {
    let actual: string | undefined;
    try {
      actual = readFileSync(REFERENCE_FILE, 'utf8');
    } catch {
      actual = undefined;
    }
    if (actual === expected) return 0;
    console.error(
      `${relative} ${actual === undefined ? 'is missing' : 'is out of date with src/config/schema/index.ts'}: run npm run docs:config and commit the result`,
    );
    return 1;
  }
  writeFileSync(REFERENCE_FILE, expected);
  console.log(`wrote ${relative}`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
