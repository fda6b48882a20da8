// The storage port: one Kysely handle over SQLite (embedded) or PostgreSQL (distributed), chosen by DATABASE_URL.
import { Kysely, type LogEvent, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { nodeSqliteDialect, openSqlite } from './sqlite-dialect.ts';

export type Dialect = 'sqlite' | 'postgres';

/** Modules type their own tables with `db.withTables<…>()`; storage knows none of them. */
// biome-ignore lint/complexity/noBannedTypes: Kysely's database type starts empty and modules add their tables.
export type AnyDb = Kysely<{}>;

export interface Storage {
  readonly db: AnyDb;
  readonly dialect: Dialect;
  /** Resolves when the database answers a trivial query; used by /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const pgOid = { int8: 20, json: 114, jsonb: 3802, timestamptz: 1184 } as const;
// pg's own parser, not `new Date(text)`: V8 reads a year below 100 as 19xx and rejects offsets with seconds.
const parseTimestamptz = pg.types.getTypeParser(pgOid.timestamptz) as (value: string) => Date;

/**
 * Both dialects hand rows back in one shape: timestamps as ISO 8601 strings, bigint counts as numbers and JSON
 * columns as their text (SQLite stores JSON as text), so repositories and the conformance suite never branch on
 * the dialect.
 */
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pgOid.timestamptz) return (value: string) => parseTimestamptz(value).toISOString();
    if (oid === pgOid.int8) return (value: string) => Number(value);
    if (oid === pgOid.json || oid === pgOid.jsonb) return (value: string) => value;
    return pg.types.getTypeParser(oid, format);
  },
};

export function sqlitePath(url: string): string {
  return url.slice('sqlite:'.length);
}

export interface StorageOptions {
  /** Called with each statement's SQL after it ran: for tests that count queries, and for tracing. */
  onQuery?: (sql: string) => void;
}

export function openStorage(url: string, options: StorageOptions = {}): Storage {
  const { onQuery } = options;
  const log = onQuery ? { log: (event: LogEvent) => onQuery(event.query.sql) } : {};
  if (url.startsWith('sqlite:')) {
    const db = new Kysely<object>({ dialect: nodeSqliteDialect(openSqlite(sqlitePath(url))), ...log });
    return storage(db, 'sqlite');
  }
  const pool = new pg.Pool({ connectionString: url, max: 10, types: pgTypes });
  // An idle client losing its server must not crash the process; the next query reports the failure.
  pool.on('error', () => {});
  return storage(new Kysely<object>({ dialect: new PostgresDialect({ pool }), ...log }), 'postgres');
}

function storage(db: AnyDb, dialect: Dialect): Storage {
  return {
    db,
    dialect,
    async ping() {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}
