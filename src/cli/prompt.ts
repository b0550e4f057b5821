/** Questions asked on the terminal (login's user name and password). */
import type { ReadStream } from 'node:tty';
import { StratumError } from '../util/errors.js';

export interface Question {
  text: string;
  /** Show what is typed (false for a password). */
  echo: boolean;
}

/**
 * Asks each question in turn on a terminal on `input`, the prompts on `output`, and returns the answers. The
 * terminal is in raw mode from before the first prompt to after the last answer, so it never echoes a keystroke
 * itself (not even one typed ahead); what may be shown is echoed here. Ctrl-C or Ctrl-D on an empty line cancel.
 */
export function ask(questions: Question[], input: ReadStream = process.stdin as ReadStream, output: NodeJS.WritableStream = process.stderr): Promise<string[]> {
  const answers: string[] = [];
  return new Promise((resolve, reject) => {
    let line = '';
    const finish = (err?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      if (err) output.write('\n');
      if (err) reject(err);
      else resolve(answers);
    };
    const next = (): boolean => {
      if (answers.length === questions.length) {
        finish();
        return false;
      }
      output.write(questions[answers.length]!.text);
      return true;
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        const echo = questions[answers.length]!.echo;
        if (ch === '\r' || ch === '\n') {
          // The terminal does not echo the Enter either (libuv's raw mode keeps output's newline translation).
          output.write('\n');
          answers.push(line);
          line = '';
          if (!next()) return;
        } else if (ch === '\x03' || (ch === '\x04' && line === '')) {
          return finish(new StratumError('cancelled', 130));
        } else if (ch === '\x7f' || ch === '\b') {
          if (line) {
            line = [...line].slice(0, -1).join('');
            if (echo) output.write('\b \b');
          }
        } else if (ch === '\x15') {
          if (echo) output.write('\b \b'.repeat([...line].length));
          line = '';
        } else if (ch >= ' ') {
          line += ch;
          if (echo) output.write(ch);
        }
      }
    };
    input.setRawMode(true);
    input.on('data', onData);
    input.resume();
    next();
  });
}
