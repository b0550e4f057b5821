/**
 * `bake --list targets|variables`: what buildx v0.38 prints, as a table (Go's tabwriter with tab
 * padding) or as JSON. It reads the files as evaluated, before any target is resolved: --set and
 * the targets named do not change it, --var and the environment do.
 */
import { csvFields } from './csv.js';
import { formatNumber, type Value } from './expr.js';
import { InputError } from '../util/errors.js';
import type { Config, Variable } from './config.js';
import type { VarType } from './vartype.js';

export interface ListSpec {
  type: 'targets' | 'variables';
  format: 'table' | 'json';
}

/** `targets`, or `type=targets,format=json`, with buildx's messages for what it refuses. */
export function parseList(input: string): ListSpec {
  let fields: string[];
  try {
    fields = csvFields(input);
  } catch (e) {
    throw new InputError(`--list ${input}: ${(e as Error).message}`);
  }
  let type = '';
  let format = '';
  if (fields.length === 1 && fields[0] === input && !input.startsWith('type=')) type = input;
  else {
    for (const f of fields) {
      const eq = f.indexOf('=');
      if (eq < 0) throw new InputError(`--list: invalid value ${f}`);
      const key = f.slice(0, eq).trim().toLowerCase();
      if (key === 'type') type = f.slice(eq + 1);
      else if (key === 'format') format = f.slice(eq + 1);
      else throw new InputError(`--list: unexpected key '${key}' in '${f}'`);
    }
  }
  if (type !== 'targets' && type !== 'variables') throw new InputError(`--list: invalid list type ${JSON.stringify(type)} (targets or variables)`);
  format ||= 'table';
  if (format !== 'table' && format !== 'json') throw new InputError(`--list: invalid list format ${JSON.stringify(format)} (table or json)`);
  return { type, format };
}

/**
 * Go's text/tabwriter as buildx sets it up (minwidth 1, tabwidth 8, padding 1, padchar '\t'):
 * every line has the same cells here, so each column is one block; the last cell is not padded.
 */
export function tabwrite(rows: string[][]): string {
  const width = (s: string) => [...s].length;
  const cols = Math.max(0, ...rows.map((r) => r.length - 1));
  const widths: number[] = [];
  for (let c = 0; c < cols; c++) widths[c] = Math.max(1, ...rows.map((r) => width(r[c] ?? '') + 1));
  return rows
    .map((r) =>
      r
        .map((cell, c) => {
          if (c === r.length - 1) return cell;
          const cellw = Math.ceil(widths[c]! / 8) * 8;
          return cell + '\t'.repeat(Math.ceil((cellw - width(cell)) / 8));
        })
        .join(''),
    )
    .join('\n') + '\n';
}

/** Go's encoding/json escapes these in strings (HTML safety); buildx's JSON has them so. */
const goString = (s: string) => JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const goJson = (v: unknown) => JSON.stringify(v, null, 2).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '\n';

/** cty's JSON name of a value's inferred type (what a value of type `any` is marshalled with). */
function typeJson(v: Value): string {
  if (typeof v === 'string') return '"string"';
  if (typeof v === 'number') return '"number"';
  if (typeof v === 'boolean') return '"bool"';
  if (v === null) return '"dynamic"';
  if (Array.isArray(v)) return `["tuple",[${v.map(typeJson).join(',')}]]`;
  const keys = Object.keys(v).sort();
  return `["object",{${keys.map((k) => `${goString(k)}:${typeJson(v[k]!)}`).join(',')}}]`;
}

/** cty's JSON of a value under a type constraint: `any` wraps the value with its type. */
function ctyJson(v: Value, t: VarType | undefined): string {
  if (t?.k === 'any') return `{"value":${ctyJson(v, undefined)},"type":${typeJson(v)}}`;
  if (v === null) return 'null';
  if (typeof v === 'string') return goString(v);
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    const of = (i: number) => (t?.k === 'list' || t?.k === 'set' ? t.of : t?.k === 'tuple' ? t.of[i] : undefined);
    return `[${v.map((x, i) => ctyJson(x, of(i))).join(',')}]`;
  }
  const of = (k: string) => (t?.k === 'map' ? t.of : t?.k === 'object' ? t.attrs[k] : undefined);
  return `{${Object.keys(v)
    .sort()
    .map((k) => `${goString(k)}:${ctyJson(v[k]!, of(k))}`)
    .join(',')}}`;
}

/** A variable's value as buildx shows it; undefined for null (`<null>` in the table). */
export function variableText(v: Variable): string | undefined {
  if (v.value === null || v.value === undefined) return undefined;
  if (v.type) {
    const s = ctyJson(v.value, v.type);
    // buildx trims the quotes of a typed string's JSON (all of them, as Go's strings.Trim does)
    return v.type.k === 'string' ? s.replace(/^"+|"+$/g, '') : s;
  }
  if (typeof v.value === 'object') return ctyJson(v.value, undefined);
  return typeof v.value === 'number' ? formatNumber(v.value) : String(v.value);
}

/** cty's FriendlyNameForConstraint. */
export function typeName(t: VarType): string {
  switch (t.k) {
    case 'any':
      return 'any type';
    case 'list':
    case 'set':
    case 'map':
      return t.of.k === 'any' ? `${t.k} of any single type` : `${t.k} of ${typeName(t.of)}`;
    default:
      return t.k;
  }
}

export function listVariables(cfg: Config, format: ListSpec['format']): string {
  const vars = [...cfg.variables].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (format === 'json') {
    return goJson(
      vars.map((v) => {
        const value = variableText(v);
        return { name: v.name, ...(v.description ? { description: v.description } : {}), ...(v.type ? { type: typeName(v.type) } : {}), ...(value !== undefined ? { value } : {}) };
      }),
    );
  }
  return tabwrite([['VARIABLE', 'TYPE', 'VALUE', 'DESCRIPTION'], ...vars.map((v) => [v.name, v.type ? typeName(v.type) : '', variableText(v) ?? '<null>', v.description])]);
}

/** Targets and groups by name; a name starting with `_` is private and left out. */
export function listTargets(cfg: Config, format: ListSpec['format']): string {
  const entries: { name: string; description: string; group?: true }[] = [];
  for (const t of cfg.targets) entries.push({ name: t.name, description: t.description ?? '' });
  for (const g of cfg.groups) {
    const names = [...g.targets].sort().join(', ');
    const description = names ? (g.description ? `${g.description} (${names})` : names) : g.description;
    entries.push({ name: g.name, description, group: true });
  }
  const shown = entries.filter((e) => !e.name.startsWith('_')).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // Go encodes buildx's empty (nil) list as null
  if (format === 'json') return shown.length ? goJson(shown.map((e) => ({ name: e.name, ...(e.description ? { description: e.description } : {}), ...(e.group ? { group: true } : {}) }))) : 'null\n';
  return tabwrite([['TARGET', 'DESCRIPTION'], ...shown.map((e) => [e.name, e.description])]);
}
