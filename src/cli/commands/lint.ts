import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { formatFinding, lintPath, LINT_RULES, parseConstraints } from '../../catalog/index.js';
import { InputError } from '../../util/errors.js';
import { run } from '../../util/exec.js';

export function register(program: Command): void {
  program
    .command('lint')
    .description('Check a catalog against the image rules (pinned refs, apt hygiene, no build tools in final stages, ...)')
    .argument('[path]', 'catalog directory or file', 'images')
    .option('--check-images', 'ask registries (skopeo inspect) whether images named by COPY --from exist')
    .option('--constraints <file>', 'an upper-constraints file as the build edits it (stratum constraints --edits ... -o FILE): packages installed with --constraint must be pinned there')
    .addHelpText(
      'after',
      `
Rules:
${Object.entries(LINT_RULES).map(([k, v]) => `  ${k.padEnd(18)} ${v}`).join('\n')}

Each finding prints as "file:line: rule: message". Without --constraints, pip-unpinned trusts
--constraint (and ENV PIP_CONSTRAINT) for the names it does not see pinned. A comment "# stratum: lint-disable=<rule>[,<rule>]"
directly above an instruction disables rules for it; in the header it disables them for the file.
Exit codes: 0 clean, 1 findings, 2 bad input.`,
    )
    .action(async (path: string, opts: { checkImages?: boolean; constraints?: string }) => {
      // A path that is not there would lint nothing and pass.
      if (!existsSync(path)) throw new InputError(`${path || '""'}: no such file or directory`);
      let constraints: Set<string> | undefined;
      if (opts.constraints) {
        let text: string;
        try {
          text = await readFile(opts.constraints, 'utf8');
        } catch {
          throw new InputError(`${opts.constraints}: cannot read the constraints file`);
        }
        constraints = new Set(parseConstraints(text).map((l) => l.name).filter((n): n is string => n !== null));
      }
      const imageExists = opts.checkImages
        ? async (ref: string) => (await run('skopeo', ['inspect', '--raw', `docker://${ref}`], { check: false, timeout: 60_000 })).code === 0
        : undefined;
      const findings = await lintPath(path, { imageExists, constraints });
      for (const f of findings) process.stdout.write(formatFinding(f) + '\n');
      if (findings.length > 0) {
        process.stderr.write(`${findings.length} finding(s)\n`);
        process.exitCode = 1;
      }
    });
}
