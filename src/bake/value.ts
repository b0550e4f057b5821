/** HCL values as bake evaluates them, and the error an expression raises. */

export type Value = string | number | boolean | null | Value[] | { [k: string]: Value };

export class ExprError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExprError';
  }
}
