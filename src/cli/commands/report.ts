import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { rootOf } from '../root.js';
import { bakeStateDir, loadRun, renderReport } from '../../bake/index.js';
import { which } from '../../util/exec.js';

export function register(program: Command): void {
  program
    .command('report')
    .description('Render the last bake run as one self-contained HTML page (graph, timeline, image sizes)')
    .option('-o, --output <file>', 'write the page here (default: <run dir>/report.html)')
    .option('--run <id>', 'a run id other than the last one')
    .option('--open', 'open the page in the desktop browser (xdg-open)')
    .addHelpText('after', `\nRuns are kept under ROOT/bake (ROOT: --root, $STRATUM_ROOT or /var/lib/stratum).\nExit codes: 0 written, 1 a damaged run record, 2 no such run recorded.`)
    .action(async (opts: { output?: string; run?: string; open?: boolean }, command: Command) => {
      const root = rootOf(command);
      // loadRun says which run is missing and where it looked (exit 2); an unreadable disk stays a system error
      const run = loadRun(root ? path.join(root, 'bake') : bakeStateDir(), opts.run);
      const out = path.resolve(opts.output ?? path.join(run.runDir, 'report.html'));
      fs.mkdirSync(path.dirname(out), { recursive: true });
      const tmp = `${out}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, renderReport(run));
      fs.renameSync(tmp, out);
      process.stdout.write(out + '\n');
      if (opts.open) {
        if (await which('xdg-open')) spawn('xdg-open', [out], { detached: true, stdio: 'ignore' }).unref();
        else process.stderr.write('xdg-open not found; open the file above in a browser\n');
      }
    });
}
