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

type Row = Record<string, unknown>;

interface Prepared {
  statement: StatementSync;
  reader: boolean;
  /** Makes a row from the values a statement answers in column order; null where rows are taken as they come. */
  row: ((values: unknown[]) => Row) | null;
}

/**
 * node:sqlite makes each row it answers as an object in dictionary mode, naming every column anew: building it
 * and then reading its fields cost more than SQLite's own work for a read by primary key (bench/README.md). Asked
 * for arrays instead, the rows are made here with one shape per statement, which V8 keeps as fast properties.
 *
 * Only for statements whose text fixes their columns: SQLite prepares a statement again after a schema change,
 * possibly in another process, and a `*` then expands to the new columns, which names read once would misplace
 * (a migration that drops one column and adds another keeps the count). Such statements, and one with a column
 * named `__proto__` (an assignment would set the prototype), keep node:sqlite's rows.
 */
function rowMaker(sql: string, statement: StatementSync, names: string[]): Prepared['row'] {
  if (names.length === 0 || sql.includes('*') || names.includes('__proto__')) return null;
  statement.setReturnArrays(true);
  return (values) => {
    const row: Row = {};
    for (let index = 0; index < names.length; index++) row[names[index] as string] = values[index];
    return row;
  };
}

function rowsOf(prepared: Prepared, values: unknown[]): Row[] {
  const { row } = prepared;
  if (row === null) return values as Row[];
  const rows = new Array<Row>(values.length);
  for (let index = 0; index < values.length; index++) rows[index] = row(values[index] as unknown[]);
  return rows;
}

function* rowsFrom(prepared: Prepared, values: Iterable<unknown>): IterableIterator<Row> {
  for (const value of values) yield prepared.row === null ? (value as Row) : prepared.row(value as unknown[]);
}

export function nodeSqliteDialect(db: DatabaseSync): SqliteDialect {
  // Prepared statements are kept by their text and reused, least recently used dropped first: preparing cost more
  // than running the query in the product-sqlite profile (bench/README.md). Kysely runs one query at a time on this
  // connection, so a statement is never in use twice at once; SQLite prepares one again itself if the schema changes.
  const statements = new Map<string, Prepared>();
  function prepared(sql: string): Prepared {
    const kept = statements.get(sql);
    if (kept) {
      statements.delete(sql);
      statements.set(sql, kept);
      return kept;
    }
    const statement = db.prepare(sql);
    const names = statement.columns().map((column) => column.name);
    const made = { statement, reader: names.length > 0, row: rowMaker(sql, statement, names) };
    if (statements.size >= keptStatements) statements.delete(statements.keys().next().value as string);
    statements.set(sql, made);
    return made;
  }
  const database: SqliteDatabase = {
    close: () => db.close(),
    prepare(sql) {
      const kept = prepared(sql);
      const { statement, reader } = kept;
      return {
        reader,
        all: (parameters) => rowsOf(kept, statement.all(...parameters.map(bind))),
        run: (parameters) => {
          const result = statement.run(...parameters.map(bind));
          return { changes: result.changes, lastInsertRowid: result.lastInsertRowid };
        },
        iterate: (parameters) => rowsFrom(kept, statement.iterate(...parameters.map(bind))),
      };
    },
  };
  return new SqliteDialect({ database });
}
