/** What the bake files define once read and evaluated, before targets are resolved. */
import type { Value } from './expr.js';
import type { Target } from './target.js';
import type { VarType } from './vartype.js';

export interface Group {
  name: string;
  description: string;
  targets: string[];
}

/** A `variable` block once evaluated (what `bake --list variables` shows). */
export interface Variable {
  name: string;
  description: string;
  type?: VarType;
  value: Value;
}

export interface Config {
  groups: Group[];
  targets: Target[];
  variables: Variable[];
  /** Where each target and group was first defined. */
  sources: Record<string, { file: string; line: number }>;
}
