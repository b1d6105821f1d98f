// Bulk inserts by binary COPY (src/store/pg-copy.ts) against a real PostgreSQL: every type and NULL as
// the server reads them back, values that span the encoder's buffers and messages, and failures that
// leave the connection usable.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyRows, type CopyColumn, type CopyValue } from '../../../src/store/pg-copy.js';
import { createPgDatabase, storeKinds } from '../../fixtures/stores.js';

const COLUMNS: CopyColumn[] = [
  { name: 'a', type: 'int8' },
  { name: 'b', type: 'int4' },
  { name: 't', type: 'text' },
  { name: 'x', type: 'bytea' },
];

describe.runIf((await storeKinds()).includes('postgres'))('COPY rows into PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof createPgDatabase>>;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await createPgDatabase();
    // One connection: every copy after a failure runs on the connection the failure left.
    pool = new pg.Pool({ connectionString: db.url, max: 1 });
    // As the store's pools (src/store/db.ts): a client that loses its server must not crash the process.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    await pool.query('create table t (a bigint, b integer, t text, x bytea, unique (a))');
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const read = async () =>
    (await pool.query<{ a: string | null; b: number | null; t: string | null; x: Buffer | null }>('select a, b, t, x from t order by a'))
      .rows;

  it('writes every type and NULL as the server reads them back, across many rows and large values', async () => {
    await pool.query('truncate t');
    const big = randomBytes(300_000);
    const rows: CopyValue[][] = [
      [Number.MAX_SAFE_INTEGER, 2 ** 31 - 1, 'grüße, 日本語 ✓', big],
      [-Number.MAX_SAFE_INTEGER, -(2 ** 31), '', Buffer.alloc(0)],
      [0, null, null, null],
      [1, 0, 'x'.repeat(100_000), [randomBytes(29), big, randomBytes(10), Buffer.alloc(0)]],
    ];
    // Enough small rows to fill several of the encoder's buffers between the large values.
    for (let i = 2; i < 3000; i++) rows.push([i, i, `row ${i}`, randomBytes(i % 7 === 0 ? 5000 : 40)]);
    expect(await copyRows(pool, 't', COLUMNS, rows)).toBe(rows.length);
    // Bytes compared as hex: a deep equality over thousands of Buffers takes seconds.
    const back = (await read()).map((r) => ({ ...r, x: r.x?.toString('hex') ?? null }));
    const expected = rows.map(([a, b, t, x]) => ({
      a: String(a),
      b,
      t,
      x: x === null ? null : (Array.isArray(x) ? Buffer.concat(x) : (x as Buffer)).toString('hex'),
    }));
    expected.sort((p, q) => Number(p.a) - Number(q.a));
    expect(back).toEqual(expected);
  });

  it('a constraint the rows break inserts none of them and leaves the connection usable', async () => {
    await pool.query('truncate t');
    await copyRows(pool, 't', COLUMNS, [[1, 1, 'one', null]]);
    await expect(
      copyRows(pool, 't', COLUMNS, [
        [2, 2, 'two', randomBytes(100_000)],
        [1, 1, 'one again', null],
      ]),
    ).rejects.toMatchObject({ code: '23505' });
    await expect(copyRows(pool, 'missing' as never, COLUMNS, [[3, 3, 'three', null]])).rejects.toMatchObject({ code: '42P01' });
    expect(await copyRows(pool, 't', COLUMNS, [[3, 3, 'three', null]])).toBe(1);
    expect((await read()).map((r) => r.t)).toEqual(['one', 'three']);
  });

  // The data goes out behind the statement without waiting for the server's CopyInResponse: a COPY
  // that fails before it reads any must leave its data ignored by the server, not read as commands.
  it('a COPY refused before it reads its data (megabytes of it, already sent) leaves the same session usable', async () => {
    await pool.query('truncate t');
    const pid = async () => (await pool.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
    const before = await pid();
    const many: CopyValue[][] = Array.from({ length: 40 }, (_, i) => [i, i, `row ${i}`, randomBytes(200_000)]);
    await expect(copyRows(pool, 'missing' as never, COLUMNS, many)).rejects.toMatchObject({ code: '42P01' });
    await expect(copyRows(pool, 't', [...COLUMNS.slice(0, 3), { name: 'nope', type: 'bytea' }], many)).rejects.toMatchObject({
      code: '42703',
    });
    expect(await pid()).toBe(before);
    expect(await copyRows(pool, 't', COLUMNS, many.slice(0, 3))).toBe(3);
    expect((await read()).map((r) => r.t)).toEqual(['row 0', 'row 1', 'row 2']);
    expect(await pid()).toBe(before);
  });

  it('a connection lost in the middle of a COPY fails it, and the pool goes on with a new one', async () => {
    // A trigger that sleeps keeps the COPY running until the server ends its session.
    await pool.query(`create table slow (a bigint);
      create function slow_down() returns trigger language plpgsql as $$ begin perform pg_sleep(0.05); return new; end $$;
      create trigger slow before insert on slow for each row execute function slow_down()`);
    const copying = copyRows(
      pool,
      'slow' as never,
      [{ name: 'a', type: 'int8' }],
      Array.from({ length: 200 }, (_, i) => [i]),
    ).then(
      () => null,
      (err: Error) => err, // handled at once: it fails while the test is still waiting on the server
    );
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      await expect.poll(async () => (await admin.query(`select 1 from pg_stat_activity where query like 'copy "slow"%'`)).rowCount).toBe(1);
      await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where query like 'copy "slow"%'`);
    } finally {
      await admin.end();
    }
    expect((await copying)?.message).toMatch(/terminat/);
    expect(await copyRows(pool, 't', COLUMNS, [[10, 10, 'after', null]])).toBe(1);
    expect((await pool.query('select count(*)::int as n from slow')).rows[0].n).toBe(0);
  });

  it('refuses a value its column cannot take, naming the column, before anything is sent', async () => {
    await expect(copyRows(pool, 't', COLUMNS, [['7', 1, 'a', null]])).rejects.toThrow('COPY column a (int8) cannot take a string');
    await expect(copyRows(pool, 't', COLUMNS, [[7, 1.5, 'a', null]])).rejects.toThrow('COPY column b (int4) cannot take a number');
    await expect(copyRows(pool, 't', COLUMNS, [[7, 1]])).rejects.toThrow('COPY row has 2 values for 4 columns');
  });
});
