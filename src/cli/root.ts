import type { Command } from 'commander';

/** The --root global option, wherever the subcommand sits. */
export function rootOf(command: Command): string | undefined {
  let c: Command | null = command;
  while (c) {
    const r = c.opts().root as string | undefined;
    if (r) return r;
    c = c.parent;
  }
  return undefined;
}
