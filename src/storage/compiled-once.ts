// Hot queries built and compiled once per database, then run with each call's values: for a lookup by id, Kysely's
// building and compiling cost more CPU than SQLite's own work (the product-sqlite profile, bench/README.md).
import type { Compilable, CompiledQuery } from 'kysely';
import type { AnyDb } from './database.ts';

interface Compiled<Row> {
  query: CompiledQuery<Row>;
  /** For each bound parameter, the index of the call value it takes, or -1 for a constant of the query. */
  slots: number[];
}

/**
 * `build` writes the query with the placeholders it is given where the call's values go; the SQL that database's
 * own dialect compiles from it is kept, and each call binds its values in the placeholders' places. A placeholder
 * must be a value Kysely binds (a `where` operand, an inserted value), never SQL text (a column name, `sql.lit`):
 * the first call throws otherwise. A transaction is a handle of its own, so it compiles again, once.
 */
export function compiledOnce<Row, Values extends string[]>(
  build: (db: AnyDb, ...placeholders: Values) => Compilable<Row>,
): (db: AnyDb, ...values: Values) => Promise<Row[]> {
  const byDatabase = new WeakMap<AnyDb, Compiled<Row>>();

  function compile(db: AnyDb, arity: number): Compiled<Row> {
    const placeholders = Array.from({ length: arity }, (_, index) => `\u0000placeholder ${index}\u0000`);
    const query = build(db, ...(placeholders as Values)).compile();
    const slots = query.parameters.map((value) => placeholders.indexOf(value as string));
    const unbound = placeholders.filter(
      (placeholder, index) => !slots.includes(index) || query.sql.includes(placeholder),
    );
    if (unbound.length > 0) throw new Error(`compiledOnce: ${unbound.length} placeholder(s) are not bound parameters`);
    return { query, slots };
  }

  return async (db, ...values) => {
    let compiled = byDatabase.get(db);
    if (compiled === undefined) {
      compiled = compile(db, values.length);
      byDatabase.set(db, compiled);
    }
    const { query, slots } = compiled;
    const parameters = slots.map((slot, index) => (slot < 0 ? query.parameters[index] : values[slot]));
    const result = await db.executeQuery<Row>({ ...query, parameters });
    return result.rows;
  };
}
