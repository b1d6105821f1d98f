// The message list reads no message row to count or to pick a page (0040-message-list-indexes): on
// SQLite a row carries its sealed raw source, so a count that reads rows reads the whole store. The
// plans are SQLite's; PostgreSQL keeps the raw source out of line (TOAST) and plans by its statistics.
import { CompiledQuery, sql, type Compilable } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listQueries, listMessages, type ListFilter } from '../../../src/messages/message-repo.js';
import { createTestAccount, type TestAccount } from '../../fixtures/sync-account.js';
import { createTestStore, type TestStore } from '../../fixtures/stores.js';

let ts: TestStore;
let acc: TestAccount;
const folders: number[] = [];

beforeAll(async () => {
  ts = await createTestStore('sqlite');
  acc = await createTestAccount(ts.store, { host: '127.0.0.1', port: 1 }, { username: 'x', password: 'y' });
  for (const path of ['INBOX', 'Archive']) {
    const f = await ts.store.db
      .insertInto('folders')
      .values({ account_id: acc.account.id, path, delimiter: '/', special_use: null, status: 'active' })
      .returning('id')
      .executeTakeFirstOrThrow();
    folders.push(Number(f.id));
  }
  const now = Date.now();
  const rows = Array.from({ length: 300 }, (_, i) => ({
    user_id: acc.userId,
    account_id: acc.account.id,
    stable_id: `s${i}`,
    folder_id: folders[i % 2],
    uid: i + 1,
    flags: '[]',
    sent_at: now - (i % 50) * 1000, // ties: the page order falls back to the id
    size: 40_000,
    meta_enc: Buffer.alloc(200),
    raw_enc: Buffer.alloc(40_000, i), // as large as a typical message: overflow pages behind each row
    has_skipped_attachments: 0,
    deleted_at: i % 7 === 0 ? now : null,
    created_at: now,
    updated_at: now,
  }));
  for (let i = 0; i < rows.length; i += 50)
    await ts.store.db
      .insertInto('messages')
      .values(rows.slice(i, i + 50))
      .execute();
});
afterAll(async () => {
  await ts?.cleanup();
});

async function plan(q: Compilable): Promise<string> {
  const c = q.compile();
  const r = await ts.store.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${c.sql}`, [...c.parameters]));
  return r.rows.map((x) => x.detail).join(' | ');
}

describe('message list on SQLite', () => {
  const filters: [string, () => ListFilter][] = [
    ['all', () => ({})],
    ['one account', () => ({ accountId: acc.account.id })],
    ['one folder', () => ({ folderId: folders[1] })],
    ['a later page', () => ({ page: 3, pageSize: 20 })],
  ];
  for (const stats of ['without statistics', 'after ANALYZE']) {
    it.each(filters)(`counts and picks the page's ids from indexes alone (%s, ${stats})`, async (_, filter) => {
      if (stats === 'after ANALYZE') await sql`analyze`.execute(ts.store.db);
      const q = listQueries(ts.store.db, acc.userId, filter());
      for (const p of [await plan(q.count), await plan(q.pageIds)]) {
        expect(p).toMatch(/ m USING COVERING INDEX messages_(user|folder)_live/);
        expect(p).not.toMatch(/SCAN m\b/);
      }
    });
  }

  it('pages stay newest first, ties by id, with the live messages only', async () => {
    const all = [];
    for (let page = 1; ; page++) {
      const p = await listMessages(ts.store.db, acc.dek, acc.userId, { page, pageSize: 40 });
      expect(p.total).toBe(300 - Math.ceil(300 / 7));
      if (p.rows.length === 0) break;
      all.push(...p.rows);
    }
    expect(all).toHaveLength(300 - Math.ceil(300 / 7));
    const keys = all.map((r) => [r.date ?? 0, r.id]);
    expect(keys).toEqual([...keys].sort((a, b) => b[0] - a[0] || b[1] - a[1]));
  });
});
