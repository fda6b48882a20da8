// Kysely's SqliteDialect over the built-in node:sqlite, which Kysely does not ship (kysely-org/kysely#1292).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { type SqliteDatabase, SqliteDialect } from 'kysely';

/**
 * node:sqlite takes a leading Date or object as the named-parameter bag and shifts every other value
 * (STACK.md §3b), so each value is turned into a plain SQLite value before it is bound.
 */
function bind(value: unknown): SQLInputValue {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'object' && !(value instanceof Uint8Array)) return JSON.stringify(value);
  return value as SQLInputValue;
}

export function openSqlite(path: string): DatabaseSync {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  // Another process (a migration, a second server) may hold the write lock; wait instead of failing at once.
  // First, since switching to WAL below itself needs the lock when two processes open a new file together.
  db.exec('PRAGMA busy_timeout = 5000');
  // WAL lets readers proceed during a write; NORMAL sync is durable across process crashes in WAL mode.
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA foreign_keys = ON');
  return db;
}

/** Kysely writes the same text for every query of one shape (values are bound apart), so a few hundred cover us. */
const keptStatements = 500;

export function nodeSqliteDialect(db: DatabaseSync): SqliteDialect {
  // Prepared statements are kept by their text and reused, least recently used dropped first: preparing cost more
  // than running the query in the product-sqlite profile (bench/README.md). Kysely runs one query at a time on this
  // connection, so a statement is never in use twice at once; SQLite prepares one again itself if the schema changes.
  const statements = new Map<string, { statement: StatementSync; reader: boolean }>();
  function prepared(sql: string) {
    const kept = statements.get(sql);
    if (kept) {
      statements.delete(sql);
      statements.set(sql, kept);
      return kept;
    }
    const statement = db.prepare(sql);
    const made = { statement, reader: statement.columns().length > 0 };
    if (statements.size >= keptStatements) statements.delete(statements.keys().next().value as string);
    statements.set(sql, made);
    return made;
  }
  const database: SqliteDatabase = {
    close: () => db.close(),
    prepare(sql) {
      const { statement, reader } = prepared(sql);
      return {
        reader,
        all: (parameters) => statement.all(...parameters.map(bind)),
        run: (parameters) => {
          const result = statement.run(...parameters.map(bind));
          return { changes: result.changes, lastInsertRowid: result.lastInsertRowid };
        },
        iterate: (parameters) => statement.iterate(...parameters.map(bind)),
      };
    },
  };
  return new SqliteDialect({ database });
}
