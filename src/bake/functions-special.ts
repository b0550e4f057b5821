/**
 * try(), can() and convert(): functions that need their arguments unevaluated, so the evaluator
 * calls them with the expressions (try and can catch the errors of evaluating them; convert reads
 * its second argument as a type).
 */
import { evaluate, ExprError, type Scope } from './expr.js';
import { convert, typeFromNode } from './vartype.js';

export const specialForms: NonNullable<Scope['special']> = {
  try: (args, s) => {
    const errors: string[] = [];
    for (const a of args) {
      try {
        return evaluate(a, s);
      } catch (e) {
        if (!(e instanceof ExprError)) throw e;
        errors.push(e.message);
      }
    }
    throw new ExprError(`try(): no expression succeeded${errors.length ? ` (${errors.join('; ')})` : ''}`);
  },
  can: (args, s) => {
    if (args.length !== 1) throw new ExprError(`can(): expects 1 argument, got ${args.length}`);
    try {
      evaluate(args[0]!, s);
      return true;
    } catch (e) {
      if (!(e instanceof ExprError)) throw e;
      return false;
    }
  },
  convert: (args, s) => {
    if (args.length !== 2) throw new ExprError(`convert(): expects 2 arguments, got ${args.length}`);
    return convert(evaluate(args[0]!, s), typeFromNode(args[1]!));
  },
};
