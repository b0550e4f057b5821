import { InputError } from '../util/errors.js';
import type { Command } from '../frontend/index.js';
import { expansionEnv, type BuildContext, type StageScope } from './context.js';
import { cloneState, containerConfig, setEnv, type StageState } from './state.js';

const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** The shell form of CMD/ENTRYPOINT/RUN wraps the text in the image's SHELL. */
export function shellOf(state: StageState): string[] {
  return state.config.config?.Shell ?? DEFAULT_SHELL;
}

/** Instructions that change only the image config. */
export function applyMetadata(ctx: BuildContext, scope: StageScope, state: StageState, cmd: Command): StageState {
  const next = cloneState(state);
  const cfg = containerConfig(next);
  const env = expansionEnv(scope, state);
  const x = (w: string) => ctx.lex.expandWord(w, env);
  const where = `${ctx.df.file}:${cmd.ins.line}`;
  switch (cmd.kind) {
    case 'env':
      // Every pair sees the values from before the instruction (`ENV abc=bye def=$abc` gives def the old abc).
      for (const { key, value } of cmd.pairs) setEnv(cfg, x(key), x(value));
      break;
    case 'label':
      cfg.Labels ??= {};
      for (const { key, value } of cmd.pairs) cfg.Labels[x(key)] = x(value);
      break;
    case 'user':
      cfg.User = x(cmd.user);
      break;
    case 'shell':
      cfg.Shell = cmd.exec;
      break;
    case 'cmd':
      cfg.Cmd = cmd.exec ?? [...shellOf(next), cmd.shell ?? ''];
      break;
    case 'entrypoint':
      cfg.Entrypoint = cmd.exec ?? [...shellOf(next), cmd.shell ?? ''];
      // Docker drops a CMD inherited from the base when ENTRYPOINT is set.
      if (!scope.cmdSet) cfg.Cmd = null;
      break;
    case 'expose':
      cfg.ExposedPorts ??= {};
      for (const p of cmd.ports.flatMap((w) => ctx.lex.expandWords(w, env))) {
        cfg.ExposedPorts[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
      }
      break;
    case 'volume':
      cfg.Volumes ??= {};
      for (const v of cmd.paths) {
        const p = x(v);
        if (!p) throw new InputError(`${where}: VOLUME specified can not be an empty string`);
        cfg.Volumes[p] = {};
      }
      break;
    case 'stopsignal':
      cfg.StopSignal = x(cmd.signal);
      break;
    case 'healthcheck':
      cfg.Healthcheck = cmd.none
        ? { Test: ['NONE'] }
        : {
            Test: cmd.test,
            ...(cmd.interval !== undefined ? { Interval: cmd.interval } : {}),
            ...(cmd.timeout !== undefined ? { Timeout: cmd.timeout } : {}),
            ...(cmd.startPeriod !== undefined ? { StartPeriod: cmd.startPeriod } : {}),
            ...(cmd.startInterval !== undefined ? { StartInterval: cmd.startInterval } : {}),
            ...(cmd.retries !== undefined ? { Retries: cmd.retries } : {}),
          };
      break;
    case 'onbuild':
      cfg.OnBuild = [...(cfg.OnBuild ?? []), cmd.trigger];
      break;
    case 'maintainer':
      next.config.author = cmd.name;
      break;
    default:
      throw new InputError(`${where}: ${cmd.ins.keyword} cannot be used here`);
  }
  if (cmd.kind === 'cmd') scope.cmdSet = true;
  next.history.push({ created_by: historyText(cmd.ins.text), empty_layer: true, comment: 'stratum' });
  return next;
}

export function historyText(text: string): string {
  return text.length > 4096 ? `${text.slice(0, 4093)}...` : text;
}
