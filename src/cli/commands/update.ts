import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { InputError } from '../../util/errors.js';
import { needsUpdate, updateRefs, type RefStatus } from '../../catalog/index.js';

/** Exit code when some ref could not be checked (its remote failed) and none was found stale. */
export const EXIT_UNCHECKED = 4;

function describe(s: RefStatus, check: boolean): string {
  const r = s.ref;
  const where = `${r.file}:${r.line}: ${r.name}`;
  const src = r.source.branch ? `branch ${r.source.branch}` : `tag ${r.source.tag}`;
  const from = r.value.slice(0, 12) || '(none)';
  const to = s.latest?.slice(0, 12);
  const fix = check ? '' : ` -> updated to ${to}`;
  switch (s.state) {
    case 'behind':
      return `${where} behind ${src} by ${s.commits ?? '?'} commit(s): ${from} (head ${to}, ${r.source.repo})${fix}`;
    case 'not-on-branch': {
      const on = s.branches?.length ? `; it is on ${s.branches.slice(0, 5).join(', ')}${s.branches.length > 5 ? ', ...' : ''}` : '';
      return `${where} is not on ${src}: ${from} is not an ancestor of ${to} (${r.source.repo}${on})${fix}`;
    }
    case 'unknown-commit':
      return `${where} unknown commit: ${r.source.repo} has no commit ${r.value || '(none)'}${fix}`;
    case 'unchecked':
      return `${where} could not be checked: ${s.error}`;
    default:
      return `${where} current`;
  }
}

export function register(program: Command): void {
  program
    .command('update')
    .description('Bump annotated git refs to their branch heads and refresh Rebuild-Time headers')
    .argument('[path]', 'catalog directory or file (Dockerfiles and *.hcl bake files)', 'images')
    .option('--check', 'only report refs that are not their branch head; write nothing')
    .option('--timeout <seconds>', 'timeout per remote', '60')
    .addHelpText(
      'after',
      `
A ref is an "ARG NAME=<40-hex>" (or a bake variable default) directly below a comment
  # stratum: repo=<git URL> branch=<branch>     (or tag=<tag>)
"git ls-remote" gives the branch head; a ref that differs is placed in the repository's history
(fetched without file contents) as behind the head, not on the branch (the commit exists
elsewhere), or an unknown commit. Every ref is reported, also when some remote fails. Without
--check, each ref that is not the head is rewritten in place (atomically) and the
"# <Name>-Rebuild-Time:" header of every Dockerfile that changed is set to now (UTC).
Exit codes: 0 every ref current (or updated); 1 with --check, a ref is behind, not on its branch or
unknown; 2 bad input (a ref without a valid annotation); ${EXIT_UNCHECKED} some remote could not be asked (and
nothing above applies). The first that applies in that order wins.`,
    )
    .action(async (path: string, opts: { check?: boolean; timeout: string }) => {
      const check = !!opts.check;
      const seconds = Number(opts.timeout);
      if (opts.timeout.trim() === '' || !Number.isFinite(seconds) || seconds <= 0) throw new InputError(`--timeout ${opts.timeout}: expected a positive number of seconds`);
      // A path that is not there would check nothing and pass.
      if (!existsSync(path)) throw new InputError(`${path || '""'}: no such file or directory`);
      const res = await updateRefs(path, { check, timeoutMs: seconds * 1000 });
      for (const s of res.skipped) process.stderr.write(`${s}\n`);
      const stale = res.refs.filter(needsUpdate);
      const unchecked = res.refs.filter((r) => r.state === 'unchecked');
      for (const s of [...stale, ...unchecked]) (s.state === 'unchecked' ? process.stderr : process.stdout).write(describe(s, check) + '\n');
      for (const f of res.bumpedHeaders) process.stdout.write(`${f}: Rebuild-Time bumped\n`);
      const counts = (['current', 'behind', 'not-on-branch', 'unknown-commit', 'unchecked'] as const)
        .map((k) => [k, res.refs.filter((r) => r.state === k).length] as const)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${n} ${k}`);
      process.stdout.write(`${res.refs.length} ref(s) checked${counts.length ? `: ${counts.join(', ')}` : ''}${check || stale.length === 0 ? '' : `; ${stale.length} updated`}\n`);
      if (check && stale.length > 0) process.exitCode = 1;
      else if (res.skipped.length > 0) process.exitCode = 2;
      else if (unchecked.length > 0) process.exitCode = EXIT_UNCHECKED;
    });
}
