import { describe, expect, it } from 'vitest';
import {
  claimStableId,
  familyRange,
  headerBlock,
  headerEnd,
  inFamily,
  identityBase,
  normaliseMessageId,
  parseIdentityHeaders,
  stableIdKey,
  withOrdinal,
} from '../../../src/sync/identity.js';

const key = stableIdKey(Buffer.alloc(32, 7));

describe('stable message ids', () => {
  it('parses folded identity headers and normalises the Message-ID', () => {
    const h = parseIdentityHeaders('Message-ID:\r\n <abc@x.org>\r\nSubject: Hello\r\n world\r\nFrom: a@b\r\nDate: Mon, 1 Jan 2024\r\n\r\n');
    expect(h).toEqual({ messageId: 'abc@x.org', subject: 'Hello world', from: 'a@b', date: 'Mon, 1 Jan 2024' });
    expect(normaliseMessageId('  <>  ')).toBeNull();
    expect(normaliseMessageId('plain@id')).toBe('plain@id');
  });

  it('gives the same id to the same message and differs by key, size and Message-ID', () => {
    const h = { messageId: 'a@b', date: null, from: null, subject: null };
    expect(identityBase(key, h, 100)).toBe(identityBase(key, h, 100));
    expect(identityBase(key, h, 101)).not.toBe(identityBase(key, h, 100));
    expect(identityBase(stableIdKey(Buffer.alloc(32, 8)), h, 100)).not.toBe(identityBase(key, h, 100));
    expect(identityBase(key, { ...h, messageId: 'c@d' }, 100)).not.toBe(identityBase(key, h, 100));
    expect(identityBase(key, h, 100)).not.toContain('a@b');
  });

  it('falls back to date, from and subject without a Message-ID', () => {
    const a = { messageId: null, date: 'd', from: 'f', subject: 's1' };
    expect(identityBase(key, a, 10)).toBe(identityBase(key, { ...a }, 10));
    expect(identityBase(key, { ...a, subject: 's2' }, 10)).not.toBe(identityBase(key, a, 10));
  });

  it('claims the lowest free ordinal, so a copy gets its own id and a move reclaims the old one', () => {
    expect(claimStableId('b', new Set())).toBe('b');
    expect(claimStableId('b', new Set(['b']))).toBe('b:2');
    expect(claimStableId('b', new Set(['b', 'b:2']))).toBe('b:3');
    expect(claimStableId('b', new Set(['b:2']))).toBe('b');
    expect(withOrdinal('b', 1)).toBe('b');
  });

  it('covers exactly a base family: the base and its ordinals', () => {
    for (const id of ['ab', 'ab:2', 'ab:10']) expect(inFamily(id, 'ab')).toBe(true);
    for (const id of ['ab0', 'aa', 'ac', 'abc:2']) expect(inFamily(id, 'ab')).toBe(false);
    expect(familyRange('ab')).toEqual({ base: 'ab', from: 'ab:', to: 'ab;' });
  });

  it('ends the header block at the first empty line, CRLF or bare LF, whichever comes first', () => {
    const b = (s: string) => Buffer.from(s, 'latin1');
    expect(headerEnd(b('A: 1\r\nB: 2\r\n\r\nbody\n\nmore'))).toBe(10);
    expect(headerEnd(b('A: 1\nB: 2\n\nbody\r\n\r\nmore'))).toBe(9);
    // A bare-LF empty line before the first CRLF one, and the other way round.
    expect(headerEnd(b('A: 1\n\nB: 2\r\n\r\n'))).toBe(4);
    expect(headerEnd(b('A: 1\r\n\r\nB: 2\n\n'))).toBe(4);
    expect(headerEnd(b('A: 1\r\n\nB'))).toBe(4);
    expect(headerEnd(b('\r\nbody'))).toBe(-1);
    expect(headerEnd(b('\n\nbody'))).toBe(0);
    expect(headerEnd(b('A: 1\r\nno empty line'))).toBe(-1);
    expect(headerBlock(b('A: 1\r\n\r\nbody')).toString()).toBe('A: 1');
    expect(headerBlock(b('A: 1')).toString()).toBe('A: 1');
  });
});
