import { isDeepStrictEqual } from 'node:util';
import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import { MailboxWriter } from '../../../bench/mailbox.js';
import { CHARSETS } from '../../../src/mime/body.js';
import { parseFast } from '../../../src/mime/parse-fast.js';
import { fromParseResult, type ParsedMessage } from '../../../src/sync/parse-message.js';
import { POSTAL_MIME_OPTIONS } from '../../../src/mime/parse-email.js';
import { installConcatBlob } from '../../../src/sync/concat-blob.js';
import { ParserPool } from '../../../src/sync/parser-pool.js';
import { SEAL_PARSE } from '../../../src/sync/seal-message.js';
import { malformedCorpus } from '../../fixtures/mail-corpus.js';
import { mime, randomMessage, seededRandom, varietyCorpus } from '../../fixtures/mime-variety.js';

const NO_LIMIT = Number.MAX_SAFE_INTEGER;
// The reference is postal-mime as the parse worker runs it; Node 20's Blob would make this file ~4× slower.
installConcatBlob();

async function viaPostalMime(raw: Buffer): Promise<ParsedMessage> {
  let email;
  try {
    email = await PostalMime.parse(raw, POSTAL_MIME_OPTIONS);
  } catch (err) {
    return fromParseResult(raw, err as Error, NO_LIMIT);
  }
  return fromParseResult(raw, email, NO_LIMIT);
}

/** Parses with the fast path; when it accepts, what the store keeps must equal postal-mime's. Returns whether it accepted. */
async function checkEquivalent(raw: Buffer, name: string): Promise<boolean> {
  const fast = parseFast(raw);
  // The sync's mode (no text wanted) accepts the same messages and gives the same fields, text and html aside.
  const lean = parseFast(raw, { withText: false });
  expect(lean !== null, `${name}: accepted without text`).toBe(fast !== null);
  if (fast && lean) {
    const { text: _t, html: _h, ...rest } = fast;
    if (!isDeepStrictEqual(lean, rest)) expect(lean, name).toEqual(rest);
    expect([lean.text, lean.html]).toEqual([undefined, undefined]);
  }
  // Sealing's mode (attachment sizes, no bytes) accepts the same messages and keeps the same fields and sizes.
  const sized = parseFast(raw, SEAL_PARSE);
  expect(sized !== null, `${name}: accepted with sizes only`).toBe(fast !== null);
  if (!fast) return false;
  const got = fromParseResult(raw, fast, NO_LIMIT);
  for (const limit of [NO_LIMIT, 100]) {
    const a = fromParseResult(raw, sized!, limit);
    const b = limit === NO_LIMIT ? got : fromParseResult(raw, fast, limit);
    expect([a.meta, a.sentAt, a.parseError], name).toEqual([b.meta, b.sentAt, b.parseError]);
  }
  const want = await viaPostalMime(raw);
  // isDeepStrictEqual first: vitest compares Buffers element by element, seconds for the attachments here
  if (!isDeepStrictEqual(got, want)) expect(got, name).toEqual(want);
  return true;
}

function benchMessages(n: number): Buffer[] {
  const writer = new MailboxWriter({ maildir: () => '' } as never, 'x', 42, false);
  return Array.from({ length: n }, () => writer.message().raw);
}

describe('MIME fast path', () => {
  it("accepts every message of the benchmark mix and gives postal-mime's result", async () => {
    const msgs = benchMessages(300);
    for (const [i, raw] of msgs.entries()) expect(await checkEquivalent(raw, `bench ${i}`), `bench ${i} accepted`).toBe(true);
  });

  it('accepts the common shapes and declines the odd ones, agreeing with postal-mime where it accepts', async () => {
    const corpus = varietyCorpus();
    const wrong: string[] = [];
    for (const m of corpus)
      if ((await checkEquivalent(m.raw, m.name)) !== m.accept) wrong.push(`${m.name} (${m.accept ? 'declined' : 'accepted'})`);
    expect(wrong).toEqual([]);
  });

  it('agrees with postal-mime on the malformed corpus and declines what needs its own rules', async () => {
    const declined: string[] = [];
    for (const m of malformedCorpus()) if (!(await checkEquivalent(m.raw, m.name))) declined.push(m.name);
    expect(declined.sort()).toEqual(['deep-nesting', 'missing-boundary-param', 'rfc2231-filename', 'unknown-charset', 'utf16-charset']);
  });

  it('decodes each accepted charset label as postal-mime does, line ends and broken sequences included', async () => {
    const high = Buffer.from(Array.from({ length: 96 }, (_, i) => 0xa0 + i));
    // lead bytes of multi-byte sequences cut off by a line end, bare or before CRs
    const cut = Buffer.from([0x81, 0x0d, 0x0a, 0xe2, 0x82, 0x0d, 0x0d, 0x0a, 0xa4, 0x0a, 0x8e]);
    for (const label of [...CHARSETS, ' UTF8 ', 'Windows-1252']) {
      for (const cte of ['8bit', 'base64', 'quoted-printable']) {
        const body = Buffer.concat([Buffer.from('ascii '), high, Buffer.from('\r\n'), cut]);
        const encoded =
          cte === 'base64'
            ? body.toString('base64')
            : cte === 'quoted-printable'
              ? body.toString('latin1').replace(/[\x80-\xff=]/g, (c) => `=${c.charCodeAt(0).toString(16).toUpperCase()}`)
              : body;
        const raw = mime([
          'Subject: charset',
          `Content-Type: text/plain; charset="${label}"`,
          `Content-Transfer-Encoding: ${cte}`,
          '',
          encoded,
        ]);
        expect(await checkEquivalent(raw, `${label} ${cte}`), `${label} ${cte}`).toBe(true);
      }
    }
  });

  it('agrees with postal-mime on mutated messages whenever it accepts them', async () => {
    // Deterministic mutations: truncation, byte flips towards syntax characters, deleted and repeated lines.
    const rand = seededRandom(1234);
    const seeds = [...varietyCorpus().map((m) => m.raw), ...benchMessages(40).filter((m) => m.length < 12_000)];
    const special = [0x0d, 0x0a, 0x2d, 0x3d, 0x3a, 0x3b, 0x22, 0x20, 0x09, 0x5c, 0x28, 0xff, 0x41];
    let accepted = 0;
    const total = 1500;
    for (let i = 0; i < total; i++) {
      const src = seeds[rand(seeds.length)];
      let raw: Buffer;
      const op = rand(4);
      if (op === 0) raw = src.subarray(0, rand(src.length + 1));
      else if (op === 1) {
        raw = Buffer.from(src);
        for (let k = 1 + rand(3); k > 0 && raw.length; k--) raw[rand(raw.length)] = special[rand(special.length)];
      } else {
        const lines = src.toString('latin1').split('\n');
        const at = rand(lines.length);
        if (op === 2) lines.splice(at, 1);
        else lines.splice(at, 0, lines[rand(lines.length)]);
        raw = Buffer.from(lines.join('\n'), 'latin1');
      }
      if (await checkEquivalent(raw, `mutation ${i}`)) accepted++;
    }
    // Most mutations leave a message the fast path still takes, so the comparison is exercised.
    expect(accepted).toBeGreaterThan(total / 2);
  });

  it('agrees with postal-mime on random MIME trees whenever it accepts them', async () => {
    const rand = seededRandom(99);
    let accepted = 0;
    const total = 1500;
    for (let i = 0; i < total; i++) if (await checkEquivalent(randomMessage(rand), `random ${i}`)) accepted++;
    expect(accepted).toBeGreaterThan(total / 2);
  });

  it('is used by the parse worker, which falls back to postal-mime for what it declines', async () => {
    const corpus = varietyCorpus();
    const plain = corpus.find((m) => m.name === 'mixed-alternative-attachments')!.raw;
    const odd = corpus.find((m) => m.name === 'message-rfc822')!.raw;
    const pool = new ParserPool(1);
    try {
      const fast = await pool.parse(plain);
      // postal-mime's result carries every header; the fast path's does not
      expect('headers' in fast).toBe(false);
      expect(fromParseResult(plain, fast, NO_LIMIT)).toEqual(await viaPostalMime(plain));
      const slow = await pool.parse(odd);
      expect('headers' in slow).toBe(true);
      expect(fromParseResult(odd, slow, NO_LIMIT)).toEqual(await viaPostalMime(odd));
    } finally {
      await pool.close();
    }
  });
});
