import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBake, printView, readBakeFiles } from '../../../src/bake/index.js';
import { parseDockerfile } from '../../../src/frontend/index.js';
import { editsFromDockerfile, expandVars, readDockerfile, scanRefs, stagesOf } from '../../../src/catalog/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const SERVICES = ['keystone', 'glance', 'placement', 'nova', 'neutron', 'cinder', 'heat', 'horizon', 'octavia', 'barbican', 'designate', 'magnum', 'manila', 'ironic', 'tempest', 'python-openstackclient'];
const BASES = ['ubuntu-cloud-archive', 'python-base', 'openstack-venv-builder', 'openstack-runtime', 'openstack-python-runtime'];

async function resolved() {
  const prev = process.cwd();
  process.chdir(root);
  try {
    const def = await loadBake(await readBakeFiles(['images/docker-bake.hcl'], root), { env: {}, targets: ['default'] });
    return printView(def).target as Record<string, { context: string; dockerfile: string; contexts?: Record<string, string>; args?: Record<string, string>; tags?: string[] }>;
  } finally {
    process.chdir(prev);
  }
}

test('bake resolves the whole production catalog', async () => {
  const targets = await resolved();
  assert.deepEqual(Object.keys(targets).sort(), [...BASES, ...SERVICES].sort());
  for (const s of SERVICES) {
    const t = targets[s]!;
    assert.equal(t.args?.PROJECT, s);
    assert.deepEqual(Object.values(t.contexts ?? {}).sort(), ['target:openstack-python-runtime', 'target:openstack-venv-builder']);
    assert.deepEqual(t.tags, [`registry.stratum.dev/openstack/${s}:2024.1`]);
  }
});

test('every FROM in the catalog is a bake context of its target or the external Ubuntu base', async () => {
  const targets = await resolved();
  for (const [name, t] of Object.entries(targets)) {
    const file = join(root, t.context, t.dockerfile);
    assert.ok(existsSync(file), file);
    const text = readFileSync(file, 'utf8');
    parseDockerfile(text, file); // the engine's parser accepts it
    const doc = readDockerfile(text);
    const { globals, stages } = stagesOf(doc);
    const vars: Record<string, string> = {};
    for (const g of globals) {
      const m = /^([A-Z_]+)=(\S+)$/.exec(g.args);
      if (m) vars[m[1]!] = m[2]!;
    }
    Object.assign(vars, t.args);
    const stageNames = new Set(stages.map((s) => s.name));
    for (const st of stages) {
      const base = expandVars(st.base, vars);
      if (stageNames.has(base)) continue;
      if (name === 'ubuntu-cloud-archive') assert.equal(base, 'docker.io/library/ubuntu:22.04');
      else assert.ok(base in (t.contexts ?? {}), `${name}: FROM ${base} is not a bake context`);
    }
    if (SERVICES.includes(name)) {
      assert.equal(stages.length, 2, name);
      assert.ok(text.includes('COPY --from=build --link /var/lib/openstack /var/lib/openstack\n'), name);
      assert.ok(existsSync(join(root, t.context, 'patches', name)), `${name}: patches/${name}/`);
      const refs = scanRefs(file, text).refs;
      assert.ok(refs.some((r) => typeof r.source !== 'string' && /opendev\.org\/openstack\//.test(r.source.repo)), name);
    }
  }
});

test('the venv builder declares its constraint edits in a form stratum constraints can replay', () => {
  const f = join(root, 'images/openstack-venv-builder/Dockerfile');
  const edits = editsFromDockerfile(readFileSync(f, 'utf8'), f);
  assert.deepEqual(edits.map((e) => `${e.kind} ${e.name}`), ['drop glance-store', 'drop horizon', 'pin urllib3']);
});
