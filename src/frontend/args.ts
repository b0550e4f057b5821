/**
 * The value an `ARG key[=default]` takes, the one rule every reader of a Dockerfile follows (the stage plan, the
 * build, --dry-run): the --build-arg of that name, else the default (expanded with what is in scope), else what the
 * stage inherits (an automatic platform arg or the global ARG of that name; nothing for a global ARG).
 */
export function argValue(
  pair: { key: string; value?: string },
  buildArgs: Record<string, string>,
  expand: (word: string) => string,
  inherited: (key: string) => string | undefined = () => undefined,
): string | undefined {
  // Own properties only: `ARG constructor` must not find Object.prototype.constructor.
  if (Object.prototype.hasOwnProperty.call(buildArgs, pair.key)) return buildArgs[pair.key];
  if (pair.value !== undefined) return expand(pair.value);
  return inherited(pair.key);
}
