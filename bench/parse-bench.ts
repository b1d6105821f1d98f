// Parser measurement behind src/mime/parse-email.ts over the benchmark mailbox's message mix:
// postal-mime with Node 20's Blob and with the concatenating Blob the parse worker installs, and the
// fast path (src/mime/parse-fast.ts) with postal-mime for the messages it declines.
// (mailparser is not installed; notes/stack.md measured it 1.2–2.2× slower than postal-mime.)
// Run: npx tsx bench/parse-bench.ts   (PARSE_MESSAGES=n, PARSE_ROUNDS=n)
import PostalMime from 'postal-mime';
import { parseFast } from '../src/mime/parse-fast.js';
import { installConcatBlob } from '../src/sync/concat-blob.js';
import { POSTAL_MIME_OPTIONS } from '../src/mime/parse-email.js';
import { MailboxWriter } from './mailbox.js';

const N = Number(process.env.PARSE_MESSAGES ?? 1000);
const ROUNDS = Number(process.env.PARSE_ROUNDS ?? 3);
const writer = new MailboxWriter({ maildir: () => '' } as never, 'x', 42, false);
const msgs = Array.from({ length: N }, () => writer.message().raw);
const bytes = msgs.reduce((n, m) => n + m.length, 0);

async function postalMime(): Promise<void> {
  for (const m of msgs) await PostalMime.parse(m, POSTAL_MIME_OPTIONS);
}

let accepted = 0;
async function fastPath(): Promise<void> {
  accepted = 0;
  for (const m of msgs) {
    if (parseFast(m)) accepted++;
    else await PostalMime.parse(m, POSTAL_MIME_OPTIONS);
  }
}

/** The best of ROUNDS runs after one warm-up run, in msgs/s. */
async function run(label: string, f: () => Promise<void>): Promise<number> {
  await f();
  let best = Infinity;
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    await f();
    best = Math.min(best, performance.now() - t0);
  }
  const rate = (N / best) * 1000;
  console.log(
    `${label.padEnd(28)} ${N} msgs, ${(bytes / 1e6).toFixed(1)} MB: ${best.toFixed(0)} ms, ${rate.toFixed(0)} msgs/s, ${(bytes / 1e3 / best).toFixed(0)} MB/s`,
  );
  return rate;
}

await run('postal-mime, Node Blob', postalMime);
installConcatBlob();
const base = await run('postal-mime, concat Blob', postalMime);
const fast = await run('fast path (+ postal-mime)', fastPath);
console.log(
  `fast path accepted ${accepted}/${N} (${((accepted / N) * 100).toFixed(1)} %), ${(fast / base).toFixed(1)}× postal-mime with concat Blob`,
);
