import type { Command } from 'commander';
import { formatFinding, lintPath, LINT_RULES } from '../../catalog/index.js';
import { run } from '../../util/exec.js';

export function register(program: Command): void {
  program
    .command('lint')
    .description('Check a catalog against the image rules (pinned refs, apt hygiene, no build tools in final stages, ...)')
    .argument('[path]', 'catalog directory or file', 'images')
    .option('--check-images', 'ask registries (skopeo inspect) whether images named by COPY --from exist')
    .addHelpText(
      'after',
      `
Rules:
${Object.entries(LINT_RULES).map(([k, v]) => `  ${k.padEnd(18)} ${v}`).join('\n')}

Each finding prints as "file:line: rule: message". A comment "# stratum: lint-disable=<rule>[,<rule>]"
directly above an instruction disables rules for it; in the header it disables them for the file.
Exit codes: 0 clean, 1 findings, 2 bad input.`,
    )
    .action(async (path: string, opts: { checkImages?: boolean }) => {
      const imageExists = opts.checkImages
        ? async (ref: string) => (await run('skopeo', ['inspect', '--raw', `docker://${ref}`], { check: false, timeout: 60_000 })).code === 0
        : undefined;
      const findings = await lintPath(path, { imageExists });
      for (const f of findings) process.stdout.write(formatFinding(f) + '\n');
      if (findings.length > 0) {
        process.stderr.write(`${findings.length} finding(s)\n`);
        process.exitCode = 1;
      }
    });
}
