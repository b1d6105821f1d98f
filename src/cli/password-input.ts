// Where a CLI command gets a password: --password-stdin, MAIL_HELPER_PASSWORD, or a hidden prompt.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { passwordFromEnv } from '../config/config.js';
import { UsageError } from './exit.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function promptHidden(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) process.stderr.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}

/** An existing password (to unlock a user's key): asked once. */
export async function readPassword(opts: { passwordStdin?: boolean }, label = 'Password'): Promise<string> {
  if (opts.passwordStdin) return readStdin();
  const fromEnv = passwordFromEnv();
  if (fromEnv !== undefined) return fromEnv;
  if (!process.stdin.isTTY) {
    // A script piping the password without --password-stdin: its first line.
    const piped = (await readStdin()).split(/\r?\n/)[0];
    if (piped) return piped;
    throw new UsageError(
      'No password given: pipe it with --password-stdin, set MAIL_HELPER_PASSWORD, or run the command in a terminal to be asked.',
    );
  }
  return promptHidden(`${label}: `);
}

/** A new password: asked twice on a terminal. */
export async function readNewPassword(opts: { passwordStdin?: boolean }, label = 'Password'): Promise<string> {
  if (opts.passwordStdin) return readStdin();
  const fromEnv = passwordFromEnv();
  if (fromEnv !== undefined) return fromEnv;
  if (!process.stdin.isTTY) {
    throw new UsageError(
      'No password given: pipe it with --password-stdin, set MAIL_HELPER_PASSWORD, or run the command in a terminal to be asked.',
    );
  }
  const first = await promptHidden(`${label}: `);
  const second = await promptHidden(`Repeat ${label.toLowerCase()}: `);
  if (first !== second) throw new UsageError('The two passwords do not match.');
  return first;
}
