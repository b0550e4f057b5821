/** Frontend rules that parsing alone decides, as BuildKit's frontend has them (cases written anew from its tests). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expandHeredocBody, parseDockerfile, parseMount, planStages } from '../../../src/frontend/index.js';

describe('unquoted heredoc bodies expand as BuildKit expands them', () => {
  const env = { NAME: 'world', EMPTY: '' };
  const cases: [string, string][] = [
    ['"quotes in file"\n', '"quotes in file"\n'],
    ['\\\n', '\n'],
    ['\\\\\n', '\\\n'],
    ['\\$\n', '$\n'],
    ["'$NAME' \"${NAME}\"\n", "'world' \"world\"\n"],
    ['a \\\nb\n', 'a \nb\n'],
    ['${EMPTY:-dflt} ${NAME:+set} ${UNSET}.\n', 'dflt set .\n'],
    ['${NAME#w}\n', 'orld\n'],
  ];
  for (const [body, want] of cases) {
    it(JSON.stringify(body), () => assert.equal(expandHeredocBody(body, env), want));
  }
});

describe('RUN --mount fields as BuildKit reads them', () => {
  const at = { file: 'Dockerfile', line: 3 };
  it('source= names a secret and wins over id=', () => {
    const m = parseMount('type=secret,id=a,source=b', at);
    assert.equal(m.id, 'b');
    assert.equal(m.target, '/run/secrets/b');
  });
  it('a secret with env= and no target mounts no file', () => {
    const m = parseMount('type=secret,id=tok,env=TOKEN', at);
    assert.equal(m.target, '');
    assert.equal(m.env, 'TOKEN');
  });
  it('ssh refuses source=', () => {
    assert.throws(() => parseMount('type=ssh,source=x', at), /Dockerfile:3:.*ssh does not support source/);
  });
  it('ssh targets are numbered among the ssh mounts', () => {
    assert.equal(parseMount('type=ssh', at, 1).target, '/run/buildkit/ssh_agent.1');
  });
});

describe('stage references BuildKit refuses', () => {
  const df = (text: string) => parseDockerfile(text, 'Dockerfile');
  const plan = (text: string) => planStages(df(text), { buildArgs: { FOO: 'x' } });
  it('COPY --from with a variable, even one that has a value', () => {
    for (const from of ['$FOO', '${FOO}', 'x${FOO:+}']) {
      assert.throws(() => plan(`ARG FOO=x\nFROM a AS x\nFROM b\nCOPY --from=${from} /a /b\n`), /Dockerfile:4:1: variable expansion is not supported for --from/);
    }
  });
  it('COPY --from and RUN --mount from= a stage defined later', () => {
    assert.throws(() => plan('FROM a\nCOPY --from=later /a /b\nFROM b AS later\nFROM c\nCOPY --from=0 /a /b\n'), /Dockerfile:2:1: cannot copy from stage "later", it needs to be defined before current stage "stage-0"$/);
    assert.throws(
      () => plan('FROM a AS first\nRUN --mount=from=later,target=/m true\nFROM b AS later\nFROM c\nCOPY --from=first /a /b\n'),
      /Dockerfile:2:1: cannot mount from stage "later" to "\/m", stage needs to be defined before current command$/,
    );
  });
  it('still reports a cycle as a cycle', () => {
    assert.throws(() => plan('FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two\nCOPY --from=one /y /y\n'), /circular dependency/);
  });
});
