import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBake, printView, readBakeFiles } from '../../../src/bake/index.js';
import { parseDockerfile } from '../../../src/frontend/index.js';
import { applyEdits, editsFromDockerfile, expandVars, readDockerfile, scanRefs, stagesOf } from '../../../src/catalog/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const SERVICES = ['keystone', 'glance', 'placement', 'nova', 'neutron', 'cinder', 'heat', 'horizon', 'octavia', 'barbican', 'designate', 'magnum', 'manila', 'ironic', 'tempest', 'python-openstackclient'];
const BASES = ['openstack-base', 'python-base', 'openstack-venv-builder', 'openstack-runtime', 'openstack-python-runtime'];
const INFRA = ['libvirtd', 'openvswitch', 'ovn-central', 'ovn-host', 'keepalived', 'nova-ssh'];

async function resolved(env: Record<string, string> = {}) {
  const prev = process.cwd();
  process.chdir(root);
  try {
    const def = await loadBake(await readBakeFiles(['images/docker-bake.hcl'], root), { env, targets: ['default'] });
    return printView(def).target as Record<string, { context: string; dockerfile: string; contexts?: Record<string, string>; args?: Record<string, string>; tags?: string[] }>;
  } finally {
    process.chdir(prev);
  }
}

test('bake resolves the whole production catalog', async () => {
  const targets = await resolved();
  assert.deepEqual(Object.keys(targets).sort(), [...BASES, ...SERVICES, ...INFRA].sort());
  for (const s of SERVICES) {
    const t = targets[s]!;
    assert.equal(t.args?.PROJECT, s);
    assert.deepEqual(Object.values(t.contexts ?? {}).sort(), ['target:openstack-python-runtime', 'target:openstack-venv-builder']);
    assert.deepEqual(t.tags, [`registry.stratum.dev/openstack/${s}:2025.2-ubuntu`]);
    assert.equal(t.args?.OPENSTACK_GIT_BASE, 'https://opendev.org/openstack');
    assert.equal(t.args?.PIP_INDEX_URL, 'https://pypi.org/simple');
  }
  for (const s of INFRA) assert.deepEqual(Object.values(targets[s]!.contexts ?? {}), ['target:openstack-runtime'], s);
  assert.equal(targets['openstack-base']!.args?.BASE_IMAGE, 'docker.io/library/ubuntu:24.04');
});

test('DISTRO, BASE_IMAGE and the mirrors are bake variables', async () => {
  const env = { DISTRO: 'debian', OPENSTACK_GIT_BASE: 'git://127.0.0.1:9418', PIP_INDEX_URL: 'http://127.0.0.1:3141/root/pypi/+simple/', CA_BUNDLE: '/etc/ssl/certs/ca-certificates.crt' };
  const debian = await resolved(env);
  assert.equal(debian['openstack-base']!.args?.BASE_IMAGE, 'docker.io/library/debian:12');
  assert.deepEqual(debian.keystone!.tags, ['registry.stratum.dev/openstack/keystone:2025.2-debian']);
  assert.equal(debian['python-base']!.args?.LIBPYTHON_PACKAGE, 'libpython3.11');
  assert.equal(debian.keystone!.args?.OPENSTACK_GIT_BASE, 'git://127.0.0.1:9418');
  assert.equal(debian.keystone!.args?.PIP_INDEX_URL, env.PIP_INDEX_URL);
  assert.deepEqual((debian.keystone as { secret?: unknown }).secret, [{ id: 'ca-bundle', src: env.CA_BUNDLE }]);
  const local = await resolved({ DISTRO: 'debian', BASE_IMAGE: 'localhost/debian:bookworm' });
  assert.equal(local['openstack-base']!.args?.BASE_IMAGE, 'localhost/debian:bookworm');
  await assert.rejects(resolved({ DISTRO: 'arch' }), /arch/);
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
      if (name === 'openstack-base') assert.equal(base, 'docker.io/library/ubuntu:24.04');
      else assert.ok(base in (t.contexts ?? {}), `${name}: FROM ${base} is not a bake context`);
    }
    if (SERVICES.includes(name)) {
      assert.equal(stages.length, 2, name);
      assert.ok(text.includes('COPY --from=build --link /var/lib/openstack /var/lib/openstack\n'), name);
      assert.ok(existsSync(join(root, t.context, 'patches', name)), `${name}: patches/${name}/`);
      const refs = scanRefs(file, text).refs;
      assert.ok(refs.some((r) => typeof r.source !== 'string' && /opendev\.org\/openstack\//.test(r.source.repo)), name);
      for (const r of refs) {
        assert.ok(typeof r.source !== 'string', `${name}: ${r.name}`);
        if (r.source.branch?.startsWith('stable/')) assert.equal(r.source.branch, 'stable/2025.2', `${name}: ${r.name}`);
      }
    }
  }
});

test('the venv builder\'s constraint edits each hit upstream\'s spelling and lower no pin', () => {
  const f = join(root, 'images/openstack-venv-builder/Dockerfile');
  const edits = editsFromDockerfile(readFileSync(f, 'utf8'), f);
  assert.deepEqual(edits.map((e) => e.kind), ['sed', 'sed', 'sed', 'append', 'append', 'append', 'append']);
  // The names as openstack/requirements stable/2025.2 spells them (a sample of its lines).
  const upper = ["glance_store===5.2.0;python_version>='3.10'", 'horizon===25.5.2', "python-openstackclient===8.2.0;python_version>='3.10'", 'PyMySQL===1.1.1', ''].join('\n');
  const res = applyEdits(upper, edits);
  assert.deepEqual(res.unmatched, []);
  assert.deepEqual(res.lowered, []);
  assert.deepEqual(res.dropped.sort(), ['glance-store', 'horizon', 'python-openstackclient']);
  assert.equal(res.text, 'PyMySQL===1.1.1\npip===25.2\nsetuptools===80.9.0\nwheel===0.45.1\nuWSGI===2.0.31\n');
});

test('every download goes through a variable a mirror can replace, and can trust a proxy CA', () => {
  const files = [...BASES, ...SERVICES, ...INFRA].map((n) => join(root, 'images', n, 'Dockerfile'));
  for (const file of files) {
    const doc = readDockerfile(readFileSync(file, 'utf8'));
    for (const st of stagesOf(doc).stages) {
      const args = new Set(st.instructions.filter((i) => i.keyword === 'ARG').flatMap((i) => i.args.split(/\s+/).map((w) => w.split('=')[0])));
      for (const ins of st.instructions) {
        const where = `${file}:${ins.line}`;
        if (ins.keyword === 'ADD') {
          const src = ins.args.split(/\s+/)[0]!;
          assert.match(src, /^\$\{(OPENSTACK_GIT_BASE|GITHUB_GIT_BASE)\}\//, where);
          assert.ok(args.has(/^\$\{(\w+)\}/.exec(src)![1]!), `${where}: the stage declares the base ARG`);
        }
        const script = [ins.args, ...ins.heredocs.map((h) => h.content)].join('\n');
        if (ins.keyword === 'RUN' && /\bpip3? install\b|\bgit fetch\b/.test(script)) {
          assert.ok(ins.flags.some((f) => f.name === 'mount' && f.value === 'type=secret,id=ca-bundle'), `${where}: mounts the ca-bundle secret`);
          if (/\bpip3? install\b/.test(script)) assert.ok(args.has('PIP_INDEX_URL') && args.has('PIP_TRUSTED_HOST'), `${where}: the stage declares PIP_INDEX_URL and PIP_TRUSTED_HOST`);
        }
      }
    }
  }
});
