/** Time functions: formatdate, formattimestamp, timeadd, timestamp, unixtimestampparse (always UTC, as buildx). */
import { ExprError, toNum, toStr, type Value } from './expr.js';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** A parsed RFC 3339 time: its instant and the offset it was written in, in minutes. */
interface Time {
  ms: number;
  offset: number;
  nanos: string;
}

export function parseTime(s: string): Time {
  const m = RFC3339.exec(s);
  if (!m) throw new ExprError(`not a valid RFC 3339 timestamp: ${JSON.stringify(s)}`);
  const offset = /^[Zz]$/.test(m[8]!) ? 0 : (m[8]![0] === '-' ? -1 : 1) * (Number(m[8]!.slice(1, 3)) * 60 + Number(m[8]!.slice(4, 6)));
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) - offset * 60000;
  if (Number.isNaN(ms)) throw new ExprError(`not a valid RFC 3339 timestamp: ${JSON.stringify(s)}`);
  return { ms, offset, nanos: m[7] ? m[7].slice(1) : '' };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

export function rfc3339(ms: number, offset = 0): string {
  const d = new Date(ms + offset * 60000);
  const z = offset === 0 ? 'Z' : `${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${z}`;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** formatdate(): the spec letters of cty (YYYY, MM, DD, hh, mm, ss, ...); 'quoted' text is literal. */
export function formatDate(spec: string, ts: string): string {
  const t = parseTime(ts);
  const d = new Date(t.ms + t.offset * 60000);
  const off = (sep: string) => `${t.offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(t.offset) / 60))}${sep}${pad(Math.abs(t.offset) % 60)}`;
  const tokens: [string, () => string][] = [
    ['YYYY', () => pad(d.getUTCFullYear(), 4)],
    ['YY', () => pad(d.getUTCFullYear() % 100)],
    ['MMMM', () => MONTHS[d.getUTCMonth()]!],
    ['MMM', () => MONTHS[d.getUTCMonth()]!.slice(0, 3)],
    ['MM', () => pad(d.getUTCMonth() + 1)],
    ['M', () => String(d.getUTCMonth() + 1)],
    ['DD', () => pad(d.getUTCDate())],
    ['D', () => String(d.getUTCDate())],
    ['EEEE', () => DAYS[d.getUTCDay()]!],
    ['EEE', () => DAYS[d.getUTCDay()]!.slice(0, 3)],
    ['hh', () => pad(d.getUTCHours())],
    ['h', () => String(d.getUTCHours())],
    ['HH', () => pad(d.getUTCHours() % 12 || 12)],
    ['H', () => String(d.getUTCHours() % 12 || 12)],
    ['AA', () => (d.getUTCHours() < 12 ? 'AM' : 'PM')],
    ['aa', () => (d.getUTCHours() < 12 ? 'am' : 'pm')],
    ['mm', () => pad(d.getUTCMinutes())],
    ['m', () => String(d.getUTCMinutes())],
    ['ss', () => pad(d.getUTCSeconds())],
    ['s', () => String(d.getUTCSeconds())],
    ['ZZZZZ', () => off(':')],
    ['ZZZZ', () => off('')],
    ['ZZZ', () => (t.offset === 0 ? 'UTC' : off(''))],
    ['Z', () => (t.offset === 0 ? 'Z' : off(':'))],
  ];
  let out = '';
  let i = 0;
  while (i < spec.length) {
    if (spec[i] === "'") {
      const end = spec.indexOf("'", i + 1);
      if (end < 0) throw new ExprError('formatdate(): unterminated quote in format');
      out += end === i + 1 ? "'" : spec.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    const tok = tokens.find(([k]) => spec.startsWith(k, i));
    if (tok) {
      out += tok[1]();
      i += tok[0].length;
    } else if (/[A-Za-z]/.test(spec[i]!)) throw new ExprError(`formatdate(): invalid date format verb ${JSON.stringify(spec[i])}`);
    else out += spec[i++];
  }
  return out;
}

/** Go's time.ParseDuration, in milliseconds. */
function durationMs(s: string): number {
  const m = /^([-+]?)((?:\d*\.?\d+(?:ns|us|µs|ms|s|m|h))+)$/.exec(s);
  if (!m) throw new ExprError(`timeadd(): invalid duration ${JSON.stringify(s)}`);
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  let total = 0;
  for (const p of m[2]!.matchAll(/(\d*\.?\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(p[1]) * unit[p[2]!]!;
  return m[1] === '-' ? -total : total;
}

function unixSeconds(v: Value, fn: string): number {
  const n = toNum(v);
  if (!Number.isInteger(n)) throw new ExprError(`${fn}(): unix timestamp must be an integer`);
  return n;
}

/** ISO 8601 week-numbering year and week of a UTC date. */
function isoWeek(d: Date): [number, number] {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const y = t.getUTCFullYear();
  return [y, Math.ceil(((t.getTime() - Date.UTC(y, 0, 1)) / 86400000 + 1) / 7)];
}

export const timeFunctions: Record<string, (a: Value[]) => Value> = {
  timestamp: (a) => {
    if (a.length) throw new ExprError('timestamp(): takes no arguments');
    return rfc3339(Date.now());
  },
  formatdate: (a) => {
    if (a.length !== 2) throw new ExprError(`formatdate(): expects 2 arguments, got ${a.length}`);
    return formatDate(toStr(a[0]!), toStr(a[1]!));
  },
  formattimestamp: (a) => {
    if (a.length !== 2) throw new ExprError(`formattimestamp(): expects 2 arguments, got ${a.length}`);
    const fmt = toStr(a[0]!);
    const t = a[1]!;
    if (typeof t === 'string') {
      if (fmt === 'X') return String(Math.floor(parseTime(t).ms / 1000));
      return formatDate(fmt, t);
    }
    if (typeof t === 'number') {
      const s = unixSeconds(t, 'formattimestamp');
      return fmt === 'X' ? String(s) : formatDate(fmt, rfc3339(s * 1000));
    }
    throw new ExprError('formattimestamp(): must be a string timestamp or a unix timestamp number');
  },
  timeadd: (a) => {
    if (a.length !== 2) throw new ExprError(`timeadd(): expects 2 arguments, got ${a.length}`);
    const t = parseTime(toStr(a[0]!));
    return rfc3339(t.ms + durationMs(toStr(a[1]!)), t.offset);
  },
  unixtimestampparse: (a) => {
    if (a.length !== 1) throw new ExprError(`unixtimestampparse(): expects 1 argument, got ${a.length}`);
    const s = unixSeconds(a[0]!, 'unixtimestampparse');
    const d = new Date(s * 1000);
    const [isoYear, isoWk] = isoWeek(d);
    const start = Date.UTC(d.getUTCFullYear(), 0, 1);
    return {
      year: d.getUTCFullYear(),
      year_day: Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - start) / 86400000) + 1,
      day: d.getUTCDate(),
      month: d.getUTCMonth() + 1,
      month_name: MONTHS[d.getUTCMonth()]!,
      weekday: d.getUTCDay(),
      weekday_name: DAYS[d.getUTCDay()]!,
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
      rfc3339: rfc3339(s * 1000),
      iso_year: isoYear,
      iso_week: isoWk,
    };
  },
};
