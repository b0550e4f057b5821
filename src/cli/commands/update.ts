import type { Command } from 'commander';
import { updateRefs } from '../../catalog/index.js';

export function register(program: Command): void {
  program
    .command('update')
    .description('Bump annotated git refs to their branch heads and refresh Rebuild-Time headers')
    .argument('[path]', 'catalog directory or file (Dockerfiles and *.hcl bake files)', 'images')
    .option('--check', 'only report refs that are behind; exit 1 when any is')
    .option('--timeout <seconds>', 'timeout per remote', '60')
    .addHelpText(
      'after',
      `
A ref is an "ARG NAME=<40-hex>" (or a bake variable default) directly below a comment
  # stratum: repo=<git URL> branch=<branch>     (or tag=<tag>)
For each, "git ls-remote" gives the branch head; stale refs are rewritten in place (atomically)
and the "# <Name>-Rebuild-Time:" header of every Dockerfile that changed is set to now (UTC).
Exit codes: 0 up to date / updated, 1 behind (with --check) or a remote failed, 2 bad input.`,
    )
    .action(async (path: string, opts: { check?: boolean; timeout: string }) => {
      const res = await updateRefs(path, { check: opts.check, timeoutMs: Number(opts.timeout) * 1000 });
      for (const s of res.skipped) process.stderr.write(`warning: ${s}\n`);
      const behind = res.refs.filter((r) => r.behind);
      for (const r of behind) {
        const src = r.ref.source.branch ? `branch ${r.ref.source.branch}` : `tag ${r.ref.source.tag}`;
        const verb = opts.check ? 'behind' : 'updated';
        process.stdout.write(`${r.ref.file}:${r.ref.line}: ${r.ref.name} ${verb}: ${r.ref.value.slice(0, 12) || '(none)'} -> ${r.latest.slice(0, 12)} (${r.ref.source.repo} ${src})\n`);
      }
      for (const f of res.bumpedHeaders) process.stdout.write(`${f}: Rebuild-Time bumped\n`);
      process.stdout.write(`${res.refs.length} ref(s) checked, ${behind.length} ${opts.check ? 'behind' : 'updated'}\n`);
      if (opts.check && behind.length > 0) process.exitCode = 1;
    });
}
