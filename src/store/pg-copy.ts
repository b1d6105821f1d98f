// Bulk inserts on PostgreSQL by COPY ... FROM STDIN in the binary format: what an initial sync writes
// (hundreds of MB of sealed sources) without an INSERT's per-statement parse and plan, and without
// copying each value into a driver buffer: pg's Bind message is built in one buffer grown step by step
// (copying the sealed bytes up to three times on the event loop, and the transient buffers drove most of
// its garbage collection), while here a large value goes to the socket as it is, one iovec of a writev.
// pg-copy-streams does the same protocol as a Writable stream, with two socket writes for every chunk;
// a batch is in memory already, so it is framed here and written in one corked burst.
import type pg from 'pg';

/** A column's PostgreSQL type, as the binary format encodes it. */
export type CopyType = 'int8' | 'int4' | 'text' | 'bytea';
export interface CopyColumn {
  name: string;
  type: CopyType;
}
/** Columns from a name → type map, in its order. */
export function copyColumns(types: Readonly<Record<string, CopyType>>): CopyColumn[] {
  return Object.entries(types).map(([name, type]) => ({ name, type }));
}
/** null; a number (int8, int4); a string (text); a Buffer, or Buffer pieces written one after another (bytea). */
export type CopyValue = null | number | string | Buffer | readonly Buffer[];

/** Values at least this long go to the socket as they are; shorter ones are copied into the framing. */
const LARGE = 4096;
const SCRATCH = 64 * 1024;
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * The frontend's side of a COPY FROM STDIN in CopyData messages, as iovecs: small values are copied
 * into scratch buffers, each large one is a message of its own whose 5-byte header ends the scratch
 * segment before it (so a row with one large value is two iovecs). Messages need not align with rows.
 */
export class CopyEncoder {
  readonly out: Buffer[] = [];
  private scratch = Buffer.allocUnsafe(SCRATCH);
  private pos = 0;
  /** Start of the scratch bytes not yet in `out`. */
  private segment = 0;
  /** Where the open CopyData message's header is, -1 if none is open. */
  private message = -1;

  constructor(private readonly columns: readonly CopyColumn[]) {
    this.small(SIGNATURE.length + 8);
    SIGNATURE.copy(this.scratch, this.pos);
    this.scratch.writeInt32BE(0, this.pos + SIGNATURE.length); // flags
    this.scratch.writeInt32BE(0, this.pos + SIGNATURE.length + 4); // header extension length
    this.pos += SIGNATURE.length + 8;
  }

  row(values: readonly CopyValue[]): void {
    if (values.length !== this.columns.length) throw new Error(`COPY row has ${values.length} values for ${this.columns.length} columns`);
    this.int16(values.length);
    values.forEach((v, i) => this.value(v, this.columns[i]));
  }

  /** Ends the data (its trailer) and the COPY (CopyDone); `out` is then complete. */
  end(): Buffer[] {
    this.int16(-1);
    this.closeMessage();
    this.room(5);
    this.scratch[this.pos] = 0x63; // 'c': CopyDone
    this.scratch.writeInt32BE(4, this.pos + 1);
    this.pos += 5;
    this.flushSegment();
    return this.out;
  }

  private value(v: CopyValue, c: CopyColumn): void {
    if (v === null) return this.int32(-1);
    const bad = () => new Error(`COPY column ${c.name} (${c.type}) cannot take a ${typeof v}`);
    switch (c.type) {
      case 'int8':
        if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw bad();
        this.int32(8);
        this.small(8);
        this.scratch.writeBigInt64BE(BigInt(v), this.pos);
        this.pos += 8;
        return;
      case 'int4':
        if (typeof v !== 'number' || !Number.isInteger(v)) throw bad();
        this.int32(4);
        this.small(4);
        this.scratch.writeInt32BE(v, this.pos);
        this.pos += 4;
        return;
      case 'text': {
        if (typeof v !== 'string') throw bad();
        const n = Buffer.byteLength(v, 'utf8');
        this.int32(n);
        this.small(n);
        this.pos += this.scratch.write(v, this.pos, 'utf8');
        return;
      }
      case 'bytea': {
        if (typeof v === 'number' || typeof v === 'string') throw bad();
        const pieces: readonly Buffer[] = Buffer.isBuffer(v) ? [v] : v;
        this.int32(pieces.reduce((n, p) => n + p.length, 0));
        for (const p of pieces) this.bytes(p);
      }
    }
  }

  private bytes(b: Buffer): void {
    if (b.length < LARGE) {
      this.small(b.length);
      b.copy(this.scratch, this.pos);
      this.pos += b.length;
      return;
    }
    this.closeMessage();
    this.room(5);
    this.scratch[this.pos] = 0x64; // 'd': CopyData
    this.scratch.writeInt32BE(b.length + 4, this.pos + 1);
    this.pos += 5;
    this.flushSegment();
    this.out.push(b);
  }

  private int16(v: number): void {
    this.small(2);
    this.scratch.writeInt16BE(v, this.pos);
    this.pos += 2;
  }

  private int32(v: number): void {
    this.small(4);
    this.scratch.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  /** Room for n bytes of data inside an open CopyData message. */
  private small(n: number): void {
    if (this.message >= 0 && this.pos + n <= this.scratch.length) return;
    if (this.message < 0) this.room(5 + n);
    else if (this.pos + n > this.scratch.length) {
      this.closeMessage();
      this.room(5 + n);
    }
    this.message = this.pos;
    this.pos += 5;
  }

  /** Room for n bytes in the scratch buffer: a new one when this one is full (what it holds goes to `out`). */
  private room(n: number): void {
    if (this.pos + n <= this.scratch.length) return;
    this.flushSegment();
    this.scratch = Buffer.allocUnsafe(Math.max(SCRATCH, n));
    this.pos = this.segment = 0;
  }

  private closeMessage(): void {
    if (this.message < 0) return;
    this.scratch[this.message] = 0x64; // 'd'
    this.scratch.writeInt32BE(this.pos - this.message - 1, this.message + 1);
    this.message = -1;
  }

  private flushSegment(): void {
    if (this.pos > this.segment) this.out.push(this.scratch.subarray(this.segment, this.pos));
    this.segment = this.pos;
  }
}

/** pg's connection, as far as a COPY needs it (pg-copy-streams relies on the same). */
interface CopyConnection {
  query(text: string): void;
  stream: NodeJS.WritableStream & { cork(): void; uncork(): void };
}

/** A COPY FROM STDIN as pg's Client runs a query object: pg calls the handle* methods as the server answers. */
class CopyIn implements pg.Submittable {
  private rows = 0;
  private failed: Error | null = null;

  constructor(
    private readonly text: string,
    private readonly data: Buffer[],
    private readonly done: (err: Error | null, rows: number) => void,
  ) {}

  /**
   * The data goes out right behind the statement, not once the server's CopyInResponse is back: that
   * answer waited for a busy event loop, and the server for the data, a round trip per COPY. Should the
   * COPY fail before it reads the data, PostgreSQL ignores CopyData and CopyDone outside a COPY (as the
   * protocol says: "we probably got here because a COPY failed, and the frontend is still sending data").
   */
  submit(connection: unknown): void {
    const c = connection as CopyConnection;
    c.stream.cork(); // one writev for the statement and the whole batch
    c.query(this.text);
    for (const b of this.data) c.stream.write(b);
    c.stream.uncork();
  }

  handleCopyInResponse(): void {
    // The data is on its way already (submit).
  }

  handleCommandComplete(msg: { text?: string }): void {
    this.rows = Number(/^COPY (\d+)/.exec(msg.text ?? '')?.[1] ?? 0);
  }

  handleError(err: Error): void {
    // pg forgets the query on an error (no ReadyForQuery reaches it), or on a lost connection.
    this.failed = err;
    this.done(err, 0);
  }

  handleReadyForQuery(): void {
    if (!this.failed) this.done(null, this.rows);
  }
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Inserts the rows (values in the columns' order) in one COPY statement; says how many it inserted. */
export async function copyRows(
  pool: pg.Pool,
  table: string,
  columns: readonly CopyColumn[],
  rows: Iterable<readonly CopyValue[]>,
): Promise<number> {
  const encoder = new CopyEncoder(columns);
  for (const r of rows) encoder.row(r);
  const text = `copy ${ident(table)} (${columns.map((c) => ident(c.name)).join(', ')}) from stdin (format binary)`;
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    return await new Promise<number>((resolve, reject) => {
      client.query(new CopyIn(text, encoder.end(), (err, n) => (err ? reject(err) : resolve(n))));
    });
  } catch (err) {
    // A statement's error (a constraint) leaves the connection usable; a lost connection or a FATAL
    // (the server ending the session) discards it.
    if ((err as { severity?: string }).severity !== 'ERROR') broken = err as Error;
    throw err;
  } finally {
    client.release(broken);
  }
}
