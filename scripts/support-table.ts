/**
 * Rewrites README's support table (between the support-table markers) from src/frontend/support.ts.
 * `npx tsx scripts/support-table.ts` writes it; `--check` exits 1 when README is out of date.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { supportMarkdown } from '../src/frontend/support.js';

export const START = '<!-- support-table:start -->';
export const END = '<!-- support-table:end -->';

/** README's text with the section between the markers replaced by the generated table. */
export function withSupportTable(readme: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README has no ${START} ... ${END} section`);
  return readme.slice(0, a + START.length) + '\n' + supportMarkdown() + readme.slice(b);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../README.md');
  const text = fs.readFileSync(file, 'utf8');
  const next = withSupportTable(text);
  if (process.argv.includes('--check')) {
    if (next !== text) {
      process.stderr.write('README.md: the support table is out of date; run npx tsx scripts/support-table.ts\n');
      process.exit(1);
    }
  } else if (next !== text) fs.writeFileSync(file, next);
}
