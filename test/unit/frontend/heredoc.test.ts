import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceError } from '../../../src/util/errors.js';
import { parseDockerfile, runScript, toCommands, type CopyCmd, type RunCmd } from '../../../src/frontend/index.js';

function only<T>(text: string, index = 1): T {
  return toCommands(parseDockerfile(text))[index] as T;
}

test('RUN <<EOF bash -xe keeps the command line and takes the body', () => {
  const df = parseDockerfile('FROM x\nRUN <<EOF bash -xe\necho one\n  echo two\nEOF\nRUN echo after\n');
  const run = df.instructions[1]!;
  assert.equal(run.args, '<<EOF bash -xe');
  assert.deepEqual(run.heredocs, [{ name: 'EOF', content: 'echo one\n  echo two\n', expand: true, chomp: false, fd: 0 }]);
  assert.equal(run.line, 2);
  assert.equal(run.endLine, 5);
  assert.equal(run.original, 'RUN <<EOF bash -xe\necho one\n  echo two\nEOF');
  assert.equal(df.instructions[2]!.args, 'echo after');
  assert.equal(df.instructions[2]!.line, 6);
  const cmd = toCommands(df)[1] as RunCmd;
  assert.equal(cmd.shell, '<<EOF bash -xe');
  // Not a lone heredoc: the shell gets the reconstructed heredoc script.
  assert.deepEqual(runScript(cmd), { type: 'shell', script: '<<EOF bash -xe\necho one\n  echo two\nEOF' });
});

test('several heredocs in one instruction are read in order', () => {
  const df = parseDockerfile('FROM x\nRUN <<A cat > /a && <<B cat > /b\nfirst\nA\nsecond\nline\nB\nUSER me\n');
  const hs = df.instructions[1]!.heredocs;
  assert.deepEqual(hs.map((h) => [h.name, h.content]), [['A', 'first\n'], ['B', 'second\nline\n']]);
  assert.equal(df.instructions[2]!.keyword, 'USER');
  assert.equal(df.instructions[2]!.line, 8);
});

test('<<- strips leading tabs from body and terminator, not spaces', () => {
  const df = parseDockerfile('FROM x\nRUN <<-EOT sh\n\t\techo a\n  \techo b\n\tEOT\n');
  const h = df.instructions[1]!.heredocs[0]!;
  assert.equal(h.chomp, true);
  assert.equal(h.content, 'echo a\n  \techo b\n');
});

test('quoted delimiters disable expansion', () => {
  for (const [word, name] of [["<<'EOF'", 'EOF'], ['<<"EOF"', 'EOF'], ['<<E"O"F', 'EOF'], ["<<-'X'", 'X']] as const) {
    const df = parseDockerfile(`FROM x\nCOPY ${word} /f\nbody \${A}\n${name}\n`);
    const h = df.instructions[1]!.heredocs[0]!;
    assert.equal(h.name, name, word);
    assert.equal(h.expand, false, word);
  }
  assert.equal(parseDockerfile('FROM x\nCOPY <<EOF /f\nb\nEOF\n').instructions[1]!.heredocs[0]!.expand, true);
});

test('COPY <<EOF /path gives an inline source', () => {
  const cmd = only<CopyCmd>('FROM x\nCOPY --chmod=755 <<EOF /usr/local/bin/hello\n#!/bin/sh\necho hi\nEOF\n');
  assert.equal(cmd.kind, 'copy');
  assert.deepEqual(cmd.sources, ['<<EOF']);
  assert.deepEqual(cmd.paths, []);
  assert.equal(cmd.dest, '/usr/local/bin/hello');
  assert.equal(cmd.chmod, '755');
  assert.equal(cmd.heredocs[0]!.content, '#!/bin/sh\necho hi\n');
});

test('COPY mixing files and heredocs keeps order', () => {
  const cmd = only<CopyCmd>('FROM x\nCOPY a.txt <<one <<-"two" /dst/\n1\none\n\t2\n\ttwo\n');
  assert.deepEqual(cmd.sources, ['a.txt', '<<one', '<<-"two"']);
  assert.deepEqual(cmd.paths, ['a.txt']);
  assert.deepEqual(cmd.heredocs.map((h) => [h.name, h.content, h.expand]), [['one', '1\n', true], ['two', '2\n', false]]);
});

test("RUN <<EOF with python3 <<'X' inside: only the outer line's heredocs are Dockerfile heredocs", () => {
  const text = "FROM x\nRUN <<EOF\nset -e\npython3 <<'X'\nprint('hi')\nX\nEOF\nRUN true\n";
  const df = parseDockerfile(text);
  const run = df.instructions[1]!;
  assert.equal(run.heredocs.length, 1);
  assert.equal(run.heredocs[0]!.content, "set -e\npython3 <<'X'\nprint('hi')\nX\n");
  assert.equal(df.instructions[2]!.args, 'true');
  // A lone heredoc runs its body with the shell.
  assert.deepEqual(runScript(toCommands(df)[1] as RunCmd), { type: 'shell', script: run.heredocs[0]!.content });
});

test('RUN with a lone heredoc starting with #! runs as a file', () => {
  const cmd = only<RunCmd>('FROM x\nRUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\n');
  assert.deepEqual(runScript(cmd), { type: 'file', name: 'EOF', content: '#!/usr/bin/env python3\nprint(1)\n' });
});

test('heredoc markers in exec form, in quotes, or in arithmetic are not heredocs', () => {
  const df = parseDockerfile('FROM x\nRUN ["sh", "-c", "cat <<EOF"]\nRUN echo "<<EOF" $((1<<2)) <<<here\nCMD cat <<EOF\n');
  assert.equal(df.instructions.length, 4);
  for (const ins of df.instructions) assert.deepEqual(ins.heredocs, []);
});

test('unterminated heredoc is a SourceError at the instruction line', () => {
  assert.throws(
    () => parseDockerfile('FROM x\n\nRUN <<EOF\necho never ends\n', 'df'),
    (e: unknown) => e instanceof SourceError && e.line === 3 && /unterminated heredoc/.test(e.message) && /EOF/.test(e.message),
  );
  // The second heredoc missing its terminator is reported too.
  assert.throws(() => parseDockerfile('FROM x\nRUN <<A cat <<B\na\nA\nb\n'), /unterminated heredoc.*"B"/);
});

test('heredoc after a continued line and ONBUILD heredoc trigger', () => {
  const df = parseDockerfile('FROM x\nRUN <<EOF \\\n  bash\nhello\nEOF\nONBUILD RUN <<EOF\necho trig\nEOF\n');
  assert.equal(df.instructions[1]!.args, '<<EOF   bash');
  assert.equal(df.instructions[1]!.heredocs[0]!.content, 'hello\n');
  const cmds = toCommands(df);
  const ob = cmds[2]!;
  assert.equal(ob.kind, 'onbuild');
  if (ob.kind === 'onbuild') {
    assert.equal(ob.trigger, 'RUN <<EOF\necho trig\nEOF');
    assert.equal(ob.command.kind, 'run');
    if (ob.command.kind === 'run') assert.equal(ob.command.heredocs[0]!.content, 'echo trig\n');
  }
});

test('COPY cannot take a heredoc as destination', () => {
  assert.throws(() => toCommands(parseDockerfile('FROM x\nCOPY a <<EOF\nx\nEOF\n')), /heredoc as a destination/);
});
