/** What the bake files define once read and evaluated, before targets are resolved. */
import type { Target } from './target.js';

export interface Group {
  name: string;
  description: string;
  targets: string[];
}

export interface Config {
  groups: Group[];
  targets: Target[];
  /** Where each target and group was first defined. */
  sources: Record<string, { file: string; line: number }>;
}
