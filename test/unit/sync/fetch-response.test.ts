import { describe, expect, it } from 'vitest';
import { parseFetchItems } from '../../../src/sync/fetch-response.js';

/** A response as the reader hands it over: lines (with CRLF) and the literal after each but the last. */
function response(...parts: (string | Buffer)[]): { pieces: Buffer[]; first: string; from: number } {
  const pieces = parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p));
  const first = pieces[0].toString('latin1');
  return { pieces, first, from: first.indexOf('(') + 1 };
}
const parse = (r: { pieces: Buffer[]; first: string; from: number }) => parseFetchItems(r.pieces, r.first, r.from);

describe('FETCH response items', () => {
  it('reads UID, flags, size, internal date and the body literal as ImapFlow does', () => {
    const body = Buffer.from('Subject: x\r\n\r\nbody with ) and { and "\r\n');
    const out = parse(
      response(
        `* 7 FETCH (UID 42 FLAGS (\\Seen $Label1) RFC822.SIZE ${body.length} INTERNALDATE "02-Jan-2023 10:00:00 +0000" BODY[] {${body.length}}\r\n`,
        body,
        ')\r\n',
      ),
    );
    expect(out).toEqual({
      uid: 42,
      flags: new Set(['\\Seen', '$Label1']),
      size: body.length,
      internalDate: new Date(Date.UTC(2023, 0, 2, 10)),
      source: body,
    });
  });

  it('takes the items in any order, skips those it does not use, and reads items after the literal', () => {
    const out = parse(
      response('* 1 FETCH (MODSEQ (12345) BODY[]<0> {3}\r\n', Buffer.from('abc'), ' X-GM-LABELS ("a b" c) UID 9 FLAGS ())\r\n'),
    );
    expect(out).toEqual({ uid: 9, flags: new Set(), source: Buffer.from('abc') });
  });

  it('keeps the bytes of a body sent as a quoted string, and leaves a NIL body unset', () => {
    expect(parse(response('* 1 FETCH (UID 3 BODY[] "a \\"q\\" \xe9")\r\n'))?.source).toEqual(Buffer.from('a "q" \xe9', 'latin1'));
    const nil = parse(response('* 1 FETCH (UID 3 BODY[] NIL)\r\n'));
    expect(nil).toEqual({ uid: 3, source: undefined });
    // A body that is NIL is still a body (ImapFlow yields the message); a flag update has none.
    expect(nil && 'source' in nil).toBe(true);
    expect('source' in parse(response('* 1 FETCH (UID 3 FLAGS (\\Seen))\r\n'))!).toBe(false);
  });

  it('keeps an internal date it cannot read as its text, and drops a UID that is not a number', () => {
    expect(parse(response('* 1 FETCH (UID x INTERNALDATE "not a date" BODY[] {0}\r\n', Buffer.alloc(0), ')\r\n'))).toEqual({
      uid: undefined,
      internalDate: 'not a date',
      source: Buffer.alloc(0),
    });
  });

  it('refuses what it cannot follow, so the response goes to ImapFlow instead', () => {
    expect(parse(response('* 1 FETCH (UID 3 BODY[] "unterminated)\r\n'))).toBeNull();
    expect(parse(response('* 1 FETCH (UID 3 BODY[HEADER {3}\r\n', Buffer.from('abc'), ')\r\n'))).toBeNull();
    expect(parse(response('* 1 FETCH (UID 3\r\n'))).toBeNull();
  });
});
