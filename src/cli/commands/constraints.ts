import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { applyEdits, editsFromDockerfile, parseEdits, requestedNames, unpinned, writeFileAtomic, type ConstraintEdit } from '../../catalog/index.js';
import { InputError } from '../../util/errors.js';

async function readInput(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    throw new InputError(`${path}: cannot read ${what}`);
  }
}

function describe(e: ConstraintEdit): string {
  switch (e.kind) {
    case 'drop':
      return `drop ${e.name}`;
    case 'pin':
      return `pin ${e.requirement}`;
    default:
      return e.text;
  }
}

export function register(program: Command): void {
  program
    .command('constraints')
    .description("Apply a catalog's edits to an upper-constraints file and report requested packages nothing pins")
    .argument('<upper>', 'upper-constraints.txt to edit')
    .option('--edits <file>', 'edits file ("drop <name>" / "pin <requirement>" lines), or a Dockerfile whose sed/echo lines edit upper-constraints.txt')
    .option('-o, --output <file>', 'write the edited constraints here (default: stdout)')
    .option('--requirements <files...>', 'requirement files whose packages must be pinned')
    .option('--strict', 'exit 1 when a requested package is unpinned, an edit changed nothing, or an edit lowered an upstream pin')
    .addHelpText(
      'after',
      `
Edits read from a Dockerfile are its "sed -i" and "echo >>" commands on upper-constraints.txt,
replayed with sed's exact meaning (a pattern that misses upstream's spelling misses here too).
Edits from an edits file compare names after PEP 503 normalisation. Environment markers are kept.
The report (dropped, pinned, edits that changed nothing, pins lowered below upstream's, unpinned
requests) goes to stderr.
Exit codes: 0 done, 1 problems with --strict, 2 bad input.`,
    )
    .action(async (upper: string, opts: { edits?: string; output?: string; requirements?: string[]; strict?: boolean }) => {
      const text = await readInput(upper, 'constraints');
      let edits: ReturnType<typeof parseEdits> = [];
      if (opts.edits) {
        const e = await readInput(opts.edits, 'edits');
        const name = basename(opts.edits);
        edits = name.startsWith('Dockerfile') || /\.dockerfile$/i.test(name) ? editsFromDockerfile(e, opts.edits) : parseEdits(e, opts.edits);
      }
      const res = applyEdits(text, edits);
      if (opts.output) await writeFileAtomic(opts.output, res.text);
      else process.stdout.write(res.text);
      const log = (s: string): boolean => process.stderr.write(s + '\n');
      if (res.dropped.length) log(`dropped: ${res.dropped.join(' ')}`);
      if (res.pinned.length) log(`pinned: ${res.pinned.join(' ')}`);
      for (const u of res.unmatched) log(`${u.file}:${u.line}: ${describe(u)}: changed nothing in ${upper}`);
      for (const l of res.lowered) log(`${l.edit.file}:${l.edit.line}: ${describe(l.edit)}: lowers ${l.name} from ${l.from} (upstream) to ${l.to}`);
      let missing: string[] = [];
      if (opts.requirements) {
        const names: string[] = [];
        for (const r of opts.requirements) names.push(...requestedNames(await readInput(r, 'requirements')));
        missing = unpinned(res.text, names);
        for (const m of missing) log(`unpinned: ${m}`);
      }
      if (opts.strict && (missing.length > 0 || res.unmatched.length > 0 || res.lowered.length > 0)) process.exitCode = 1;
    });
}
