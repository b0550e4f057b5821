import type { BuildContext, StageScope } from './build.js';

/** A usable cache hit: a record whose snapshot still exists and that is not older than Rebuild-Time. */
export async function lookupCache(ctx: BuildContext, scope: StageScope, key: string): Promise<{ snapshot: string } | undefined> {
  if (scope.noCache) return undefined;
  const rec = await ctx.session.cache.get(key);
  if (!rec) return undefined;
  if (ctx.rebuildTime && new Date(rec.created) < ctx.rebuildTime) return undefined;
  if (!(await ctx.session.snapshots.exists(rec.snapshot))) return undefined;
  await ctx.session.cache.touch(key);
  return { snapshot: rec.snapshot };
}

export async function recordCache(ctx: BuildContext, key: string, snapshot: string, createdBy: string): Promise<void> {
  await ctx.session.cache.put({ key, snapshot, created: new Date().toISOString(), createdBy });
}
