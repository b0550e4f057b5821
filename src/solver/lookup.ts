import type { BuildContext, StageScope } from './context.js';

/** A record's snapshot for a step that changed nothing: the step is cached, it adds no layer. */
export const NO_CHANGES = '';

/**
 * A usable cache hit: a record that is not older than Rebuild-Time and whose snapshot still
 * exists (or that records a step which changed nothing).
 */
export async function lookupCache(ctx: BuildContext, scope: StageScope, key: string): Promise<{ snapshot?: string } | undefined> {
  (ctx.stepKeys ??= []).push({ key, stage: scope.stage.index });
  if (scope.noCache) return undefined;
  const rec = await ctx.session.cache.get(key);
  if (!rec) return undefined;
  if (ctx.rebuildTime && new Date(rec.created) < ctx.rebuildTime) return undefined;
  if (rec.snapshot !== NO_CHANGES && !(await ctx.session.snapshots.exists(rec.snapshot))) return undefined;
  await ctx.session.cache.touch(key);
  return { snapshot: rec.snapshot === NO_CHANGES ? undefined : rec.snapshot };
}

export async function recordCache(ctx: BuildContext, key: string, snapshot: string | undefined, createdBy: string): Promise<void> {
  await ctx.session.cache.put({ key, snapshot: snapshot ?? NO_CHANGES, created: new Date().toISOString(), createdBy });
}
