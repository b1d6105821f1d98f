/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists */
import type { Kysely } from 'kysely';
import type { StoreKind } from '../../config/config.js';

/** A migration sees the dialect so it can pick column types; everything else is shared. */
export interface Migration {
  name: string;
  up(db: Kysely<any>, dialect: StoreKind): Promise<void>;
}

/** Column types that differ between the dialects but hold the same values. */
export function columnTypes(dialect: StoreKind) {
  return {
    id: dialect === 'postgres' ? ('bigserial' as const) : ('integer' as const),
    bigint: dialect === 'postgres' ? ('bigint' as const) : ('integer' as const),
    blob: dialect === 'postgres' ? ('bytea' as const) : ('blob' as const),
  };
}
