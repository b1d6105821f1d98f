// The items of one untagged FETCH response, for body-fetch.ts: UID, FLAGS, RFC822.SIZE, INTERNALDATE
// and BODY[] (BINARY[]), with the values ImapFlow's fetch() gives them, in any order and next to
// items this does not use (MODSEQ, X-GM-LABELS, …). Pure: the response's raw lines and literals in,
// the fields out.
import type { FetchMessageObject } from 'imapflow';

/** What a body read yields: ImapFlow's fields of the same names, with the same values. */
export type FetchedBody = Pick<FetchMessageObject, 'uid' | 'flags' | 'size' | 'internalDate' | 'source'>;

/** Stands for a literal in the response's text: a line never holds a NUL. */
const LITERAL = '\0';

type Value = string | null | Buffer | Value[];

/**
 * The fields of a FETCH response; `source` is an own property (perhaps undefined) when it had a body.
 * `pieces`: the response's lines (each with its CRLF; all but the last end in `{n}`) and the literal
 * after each of those; `first`: the first line as latin1 text (the caller has it already); `from`:
 * where the item list starts in it (after `(`). Null for a response this cannot read (then it goes
 * to ImapFlow's parser instead).
 */
export function parseFetchItems(pieces: Buffer[], first: string, from: number): FetchedBody | null {
  let text = '';
  const literals: Buffer[] = [];
  for (let i = 0; i < pieces.length; i += 2) {
    const line = (i === 0 ? first : pieces[i].toString('latin1')).replace(/\r?\n$/, '');
    if (line.includes(LITERAL)) return null;
    if (i + 1 < pieces.length) {
      text += line.replace(/\{\d+\+?\}$/, LITERAL);
      literals.push(pieces[i + 1]);
    } else text += line;
  }
  const p = new Reader(text, from, literals);
  const out: FetchedBody = { uid: 0 };
  try {
    for (;;) {
      p.spaces();
      if (p.peek() === ')') break;
      const key = p
        .key()
        .toLowerCase()
        .replace(/<\d+(\.\d+)?>$/, '');
      p.spaces();
      const value = p.value();
      assign(out, key, value);
    }
  } catch {
    return null;
  }
  return out;
}

/** Sets a field from an item, as ImapFlow's formatMessageResponse does. */
function assign(out: FetchedBody, key: string, value: Value): void {
  switch (key) {
    case 'uid':
      out.uid = uint(value, 10) || (undefined as unknown as number);
      break;
    case 'flags':
      out.flags = new Set(Array.isArray(value) ? value.map(str).filter((s): s is string => !!s) : []);
      break;
    case 'rfc822.size':
      out.size = uint(value) || 0;
      break;
    case 'internaldate': {
      const s = str(value);
      if (s === undefined) break;
      const d = new Date(s);
      // Not d.toString() === 'Invalid Date' (ImapFlow's test, same outcome): that formats a local-time string per message.
      out.internalDate = Number.isNaN(d.getTime()) ? (s as unknown as Date) : d;
      break;
    }
    case 'body[]':
    case 'binary[]':
      // A quoted string instead of a literal (some servers do so for small parts): its bytes as sent.
      // Set even when NIL, as ImapFlow's fetch yields such a message too (without a source).
      out.source = Buffer.isBuffer(value) ? value : typeof value === 'string' ? Buffer.from(value, 'latin1') : undefined;
      break;
  }
}

function str(v: Value): string | undefined {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString();
  return undefined;
}

/** A bounded decimal, as ImapFlow's parseUintValue: anything else is false. */
function uint(v: Value, maxDigits = 16): number | false {
  const s = str(v);
  if (s === undefined || !/^\d+$/.test(s) || s.length > maxDigits) return false;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : false;
}

class Reader {
  private next = 0;
  constructor(
    private readonly s: string,
    private i: number,
    private readonly literals: Buffer[],
  ) {}

  peek(): string {
    if (this.i >= this.s.length) throw new Error('response ends early');
    return this.s[this.i];
  }

  spaces(): void {
    while (this.s[this.i] === ' ') this.i++;
  }

  /** An item name: an atom, with a [section] that may hold spaces and parentheses, and an <origin>. */
  key(): string {
    const start = this.i;
    for (;;) {
      const c = this.peek();
      if (c === '[') {
        const close = this.s.indexOf(']', this.i);
        if (close < 0) throw new Error('unclosed section');
        this.i = close + 1;
      } else if (c === ' ' || c === '(' || c === ')' || c === '"' || c === LITERAL) break;
      else this.i++;
    }
    if (this.i === start) throw new Error('no item name');
    return this.s.slice(start, this.i);
  }

  value(): Value {
    const c = this.peek();
    if (c === '(') {
      this.i++;
      const list: Value[] = [];
      for (;;) {
        this.spaces();
        if (this.peek() === ')') break;
        list.push(this.value());
      }
      this.i++;
      return list;
    }
    if (c === '"') return this.quoted();
    if (c === LITERAL) {
      this.i++;
      const lit = this.literals[this.next++];
      if (!lit) throw new Error('missing literal');
      return lit;
    }
    const start = this.i;
    while (this.i < this.s.length && !' ()"'.includes(this.s[this.i]) && this.s[this.i] !== LITERAL) this.i++;
    if (this.i === start) throw new Error('no value');
    const atom = this.s.slice(start, this.i);
    return atom.toUpperCase() === 'NIL' ? null : atom;
  }

  private quoted(): string {
    let out = '';
    for (this.i++; ; this.i++) {
      const c = this.peek();
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c === '\\') this.i++;
      out += this.peek();
    }
  }
}
