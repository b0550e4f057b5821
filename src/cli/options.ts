
/** commander helper: repeatable options collect into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export { keyValues, csvFields, parseOutput, parseBuildContext, parseContextSource } from '../solver/request.js';
