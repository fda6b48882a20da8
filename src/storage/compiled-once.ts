// Hot queries built and compiled once per database, then run with each call's values: for a lookup by id, Kysely's
// building and compiling cost more CPU than SQLite's own work (the product-sqlite profile, bench/README.md).
import type { Compilable, CompiledQuery, DialectAdapter, KyselyPlugin } from 'kysely';
import type { AnyDb } from './database.ts';

/** Where a bound parameter's value comes from: a call value, or a field of one; null for a constant of the query. */
type Slot = { value: number; field: string | null } | null;

interface Compiled<Row> {
  plugins: readonly KyselyPlugin[];
  query: CompiledQuery<Row>;
  slots: Slot[];
}

/** Compiled queries kept per database: one per set of plugins its handles carry, which is one in this code base. */
const keptPerDatabase = 8;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

const samePlugins = (a: readonly KyselyPlugin[], b: readonly KyselyPlugin[]): boolean =>
  a === b || (a.length === b.length && a.every((plugin, index) => plugin === b[index]));

/**
 * `build` writes the query with the placeholders it is given where the call's values go; the SQL that database's
 * own dialect compiles from it is kept, and each call binds its values in the placeholders' places. A placeholder
 * must be a value Kysely binds (a `where` operand, an inserted value), never SQL text (a column name, `sql.lit`)
 * nor something the code computes with: the first call throws otherwise. A plain object stands for a row: each of
 * its fields is a placeholder, and later calls bind their fields by name. An array would change the SQL with its
 * length, so it is refused; so is an undefined value, which Kysely would leave out of the SQL.
 *
 * The compiled query is kept per database, found through its dialect adapter: a transaction and a `withTables`
 * handle share their database's, so each runs it without compiling again, and another database (SQLite beside
 * PostgreSQL) compiles its own. A handle with plugins of its own compiles its own too, since plugins rewrite queries.
 */
export function compiledOnce<Row, Values extends unknown[]>(
  build: (db: AnyDb, ...placeholders: Values) => Compilable<Row>,
): (db: AnyDb, ...values: Values) => Promise<Row[]> {
  const byAdapter = new WeakMap<DialectAdapter, Compiled<Row>[]>();

  function compile(db: AnyDb, values: Values): Compiled<Row> {
    const slotOf = new Map<string, Slot>();
    const placeholder = (value: number, field: string | null) => {
      const text = `\u0000placeholder ${value}${field === null ? '' : `.${field}`}\u0000`;
      slotOf.set(text, { value, field });
      return text;
    };
    const placeholders = values.map((value, index) => {
      if (Array.isArray(value)) throw new Error(`compiledOnce: value ${index} is an array`);
      if (!isRecord(value)) return placeholder(index, null);
      return Object.fromEntries(Object.keys(value).map((field) => [field, placeholder(index, field)]));
    });
    const query = build(db, ...(placeholders as Values)).compile();
    const slots = query.parameters.map((parameter) => slotOf.get(parameter as string) ?? null);
    const unbound = [...slotOf.keys()].filter((text) => !query.parameters.includes(text) || query.sql.includes(text));
    if (unbound.length > 0) throw new Error(`compiledOnce: ${unbound.length} placeholder(s) are not bound parameters`);
    return { plugins: db.getExecutor().plugins, query, slots };
  }

  function compiledFor(db: AnyDb, values: Values): Compiled<Row> {
    const { adapter, plugins } = db.getExecutor();
    let kept = byAdapter.get(adapter);
    if (kept === undefined) {
      kept = [];
      byAdapter.set(adapter, kept);
    }
    for (const compiled of kept) if (samePlugins(compiled.plugins, plugins)) return compiled;
    const compiled = compile(db, values);
    // `withSchema` makes a new plugin at each call: handles made that way per request must not grow this without end.
    if (kept.length === keptPerDatabase) kept.shift();
    kept.push(compiled);
    return compiled;
  }

  return async (db, ...values) => {
    const { query, slots } = compiledFor(db, values);
    const parameters = slots.map((slot, index) => {
      if (slot === null) return query.parameters[index];
      const value = values[slot.value];
      const bound = slot.field === null ? value : (value as Record<string, unknown>)[slot.field];
      if (bound === undefined) throw new Error(`compiledOnce: no value for ${slot.field ?? `value ${slot.value}`}`);
      return bound;
    });
    const result = await db.executeQuery<Row>({ ...query, parameters });
    return result.rows;
  };
}
