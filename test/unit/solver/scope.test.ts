import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expansionEnv, setArg, type StageScope } from '../../../src/solver/context.js';
import { advance, cloneState, emptyConfig, type StageState } from '../../../src/solver/state.js';
import { containerArgv, parseVolume } from '../../../src/solver/run-image.js';

function scope(): StageScope {
  return { name: 's', stage: {} as StageScope['stage'], args: new Map(), noCache: false };
}

describe('a stage scope', () => {
  it('shows ARGs under ENV, and keeps its answer current as ARGs are declared', () => {
    const sc = scope();
    const state: StageState = { ...cloneState({ chain: [], config: emptyConfig({ os: 'linux', architecture: 'amd64' }), history: [], key: 'k' }) };
    state.config.config!.Env = ['PATH=/bin', 'A=from-env'];
    setArg(sc, 'A', 'from-arg');
    setArg(sc, 'B', 'b');
    const env = expansionEnv(sc, state);
    assert.equal(env.A, 'from-env', 'ENV wins over ARG');
    assert.equal(env.B, 'b');
    setArg(sc, 'C', 'c');
    assert.equal(expansionEnv(sc, state), env, 'the same object while the ENV list is the same');
    assert.equal(env.C, 'c', 'a later ARG is seen');
    setArg(sc, 'C', undefined);
    assert.equal('C' in expansionEnv(sc, state), false);
    setArg(sc, 'A', 'again');
    assert.equal(expansionEnv(sc, state).A, 'from-env');
    const next = advance(state, 'k2', undefined, 'ENV X=1');
    next.config.config!.Env = [...next.config.config!.Env!, 'X=1'];
    const env2 = expansionEnv(sc, next);
    assert.notEqual(env2, env, 'a new ENV list is read afresh');
    assert.equal(env2.X, '1');
    assert.equal(env2.B, 'b');
  });

  it('a step that changed nothing adds history but no snapshot, and its key still moves', () => {
    const s0: StageState = { chain: [], config: emptyConfig({ os: 'linux', architecture: 'amd64' }), history: [], key: 'k0' };
    const s1 = advance(s0, 'k1', undefined, 'RUN true');
    assert.equal(s1.chain.length, 0);
    assert.deepEqual(s1.history.at(-1), { created_by: 'RUN true', comment: 'stratum', empty_layer: true });
    const s2 = advance(s1, 'k2', 'abcdef012345', 'RUN make');
    assert.deepEqual(s2.chain, [{ snapshot: 'abcdef012345', createdBy: 'RUN make' }]);
    assert.notEqual(s2.key, 'k2', 'the key names the snapshot made, not only the inputs');
    assert.equal(s0.history.length, 0, 'states are not changed in place');
  });
});

describe('stratum run composes', () => {
  it('the argv as docker run does from ENTRYPOINT, CMD and the command line', () => {
    assert.deepEqual(containerArgv({ Entrypoint: ['ep'], Cmd: ['c1'] }), ['ep', 'c1']);
    assert.deepEqual(containerArgv({ Entrypoint: ['ep'], Cmd: ['c1'] }, ['x']), ['ep', 'x']);
    assert.deepEqual(containerArgv({ Cmd: ['c1'] }, ['x', 'y']), ['x', 'y']);
    assert.deepEqual(containerArgv({ Entrypoint: ['ep'], Cmd: ['c1'] }, [], ['other']), ['other']);
    assert.deepEqual(containerArgv({ Entrypoint: ['ep'], Cmd: ['c1'] }, ['x'], []), ['x']);
    assert.deepEqual(containerArgv({ Entrypoint: null, Cmd: null }), []);
  });

  it('volumes, refusing what is not HOST:CONTAINER[:ro|rw]', () => {
    assert.deepEqual(parseVolume('/a:/b:ro'), { destination: '/b', type: 'bind', source: '/a', options: ['rbind', 'ro'] });
    assert.deepEqual(parseVolume('/a:/b').options, ['rbind', 'rw']);
    assert.throws(() => parseVolume('/a'), /expected HOST:CONTAINER/);
    assert.throws(() => parseVolume('/a:b'), /must be absolute/);
    assert.throws(() => parseVolume('/a:/b:z'), /expected HOST:CONTAINER/);
  });
});
