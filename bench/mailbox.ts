// A deterministic benchmark mailbox written straight into a Dovecot user's Maildir (far faster than
// APPEND): N messages (default 10,000 ≈ 285 MB) over 5 folders, ~85 % text mails of 2–30 KB and
// ~15 % with a 30–110 KB binary attachment, dates spread over two years. Same seed → same bytes.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dovecot } from '../test/fixtures/dovecot.js';

export const FOLDERS: { path: string; share: number }[] = [
  { path: 'INBOX', share: 0.4 },
  { path: 'Archive', share: 0.25 },
  { path: 'Sent', share: 0.15 },
  { path: 'Lists/Dev', share: 0.12 },
  { path: 'Junk', share: 0.08 },
];

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS =
  'the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part'.split(
    ' ',
  );

export class MailboxWriter {
  private readonly rand: () => number;
  private readonly textPool: string;
  private seq = 0;
  private readonly uid: number;
  private readonly gid: number;

  constructor(
    private readonly d: Dovecot,
    private readonly user: string,
    seed = 42,
    forWriting = true,
  ) {
    this.rand = mulberry32(seed);
    const lines: string[] = [];
    let len = 0;
    while (len < 1_200_000) {
      const n = 8 + Math.floor(this.rand() * 8);
      const line = Array.from({ length: n }, () => WORDS[Math.floor(this.rand() * WORDS.length)]).join(' ');
      lines.push(line);
      len += line.length + 2;
    }
    this.textPool = lines.join('\r\n');
    this.uid = forWriting ? Number(execFileSync('id', ['-u', 'mhvmail'], { encoding: 'utf8' }).trim()) : -1;
    this.gid = forWriting ? Number(execFileSync('id', ['-g', 'mhvmail'], { encoding: 'utf8' }).trim()) : -1;
  }

  private folderFor(): string {
    let r = this.rand();
    for (const f of FOLDERS) {
      if (r < f.share) return f.path;
      r -= f.share;
    }
    return 'INBOX';
  }

  private text(bytes: number): string {
    const start = Math.floor(this.rand() * (this.textPool.length - bytes - 1));
    return this.textPool.slice(start, start + bytes);
  }

  private binary(bytes: number): Buffer {
    const b = Buffer.allocUnsafe(bytes + 4);
    for (let i = 0; i < bytes; i += 4) b.writeUInt32LE(Math.floor(this.rand() * 0x100000000), i);
    return b.subarray(0, bytes);
  }

  message(): { folder: string; raw: Buffer; date: Date; seen: boolean } {
    const n = ++this.seq;
    const date = new Date(Date.UTC(2022, 0, 1) + Math.floor(this.rand() * 730 * 86400_000));
    const head = [
      `From: Sender ${n % 97} <sender${n % 97}@example.org>`,
      'To: bench@example.org',
      `Subject: Benchmark message ${n} ${this.text(20).replace(/\r\n/g, ' ')}`,
      `Message-ID: <bench-${n}@example.org>`,
      `Date: ${date.toUTCString()}`,
      'MIME-Version: 1.0',
    ];
    let body: string;
    if (this.rand() < 0.15) {
      const att = this.binary(30_000 + Math.floor(this.rand() * 80_000));
      head.push('Content-Type: multipart/mixed; boundary="bench-b"');
      body = [
        '--bench-b',
        'Content-Type: text/plain; charset=utf-8',
        '',
        this.text(2000 + Math.floor(this.rand() * 4000)),
        '--bench-b',
        `Content-Type: application/octet-stream; name="file-${n}.bin"`,
        `Content-Disposition: attachment; filename="file-${n}.bin"`,
        'Content-Transfer-Encoding: base64',
        '',
        att.toString('base64').replace(/.{76}/g, '$&\r\n'),
        '--bench-b--',
        '',
      ].join('\r\n');
    } else {
      head.push('Content-Type: text/plain; charset=utf-8');
      body = this.text(2000 + Math.floor(this.rand() * 28_000)) + '\r\n';
    }
    return { folder: this.folderFor(), raw: Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`), date, seen: this.rand() < 0.7 };
  }

  private ensureDir(folder: string): string {
    const md = this.d.maildir(this.user, folder);
    if (!existsSync(join(md, 'cur'))) {
      for (const sub of ['', 'cur', 'new', 'tmp']) {
        mkdirSync(join(md, sub), { recursive: true });
        chownSync(join(md, sub), this.uid, this.gid);
      }
    }
    return md;
  }

  /** Writes `count` messages; returns the bytes written. */
  write(count: number): number {
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const m = this.message();
      const md = this.ensureDir(m.folder);
      const name = `${Math.floor(m.date.getTime() / 1000)}.B${this.seq}.bench,S=${m.raw.length}:2,${m.seen ? 'S' : ''}`;
      const tmp = join(md, 'tmp', name);
      writeFileSync(tmp, m.raw);
      chownSync(tmp, this.uid, this.gid);
      utimesSync(tmp, m.date, m.date);
      renameSync(tmp, join(md, 'cur', name));
      bytes += m.raw.length;
    }
    return bytes;
  }
}
