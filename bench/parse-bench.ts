// Parser measurement behind src/sync/parse-message.ts: postal-mime over the benchmark mailbox's
// message mix, with Node 20's Blob and with the concatenating Blob the parse worker installs.
// (mailparser is not installed; notes/stack.md measured it 1.2–2.2× slower than postal-mime.)
// Run: npx tsx bench/parse-bench.ts
import PostalMime from 'postal-mime';
import { installConcatBlob } from '../src/sync/concat-blob.js';
import { MailboxWriter } from './mailbox.js';

const N = Number(process.env.PARSE_MESSAGES ?? 1000);
const writer = new MailboxWriter({ maildir: () => '' } as never, 'x', 42, false);
const msgs = Array.from({ length: N }, () => writer.message().raw);
const bytes = msgs.reduce((n, m) => n + m.length, 0);

async function run(label: string): Promise<void> {
  const t0 = performance.now();
  for (const m of msgs) await PostalMime.parse(m, { attachmentEncoding: 'arraybuffer' });
  const ms = performance.now() - t0;
  console.log(`${label.padEnd(28)} ${N} msgs, ${(bytes / 1e6).toFixed(1)} MB: ${ms.toFixed(0)} ms, ${((N / ms) * 1000).toFixed(0)} msgs/s`);
}

await run('postal-mime, Node Blob');
installConcatBlob();
await run('postal-mime, concat Blob');
