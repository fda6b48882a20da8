// The few column types that differ between SQLite and PostgreSQL, so one migration set serves both.
import { type ColumnDefinitionBuilder, type CreateTableBuilder, type Kysely, PostgresAdapter, sql } from 'kysely';

type DataTypeExpression = Parameters<CreateTableBuilder<string>['addColumn']>[1];

export interface ColumnTypes {
  timestamp: DataTypeExpression;
  json: DataTypeExpression;
  serial: DataTypeExpression;
  serialKey(column: ColumnDefinitionBuilder): ColumnDefinitionBuilder;
}

// biome-ignore lint/suspicious/noExplicitAny: migrations run before any typed module exists.
export function columnTypes(db: Kysely<any>): ColumnTypes {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    return {
      timestamp: sql`timestamptz`,
      json: 'jsonb',
      serial: 'bigint',
      serialKey: (c) => c.primaryKey().generatedAlwaysAsIdentity(),
    };
  }
  // SQLite: ISO 8601 text sorts as time does; INTEGER PRIMARY KEY AUTOINCREMENT never reuses a position.
  return { timestamp: 'text', json: 'text', serial: 'integer', serialKey: (c) => c.primaryKey().autoIncrement() };
}
