// A table's columns listed by name, for queries that read whole rows: SQLite answers such a query's rows with fast
// properties where `select *` gets dictionary-mode objects (sqlite-dialect.ts).

/**
 * Every column of a row type, each named once: the compiler refuses a list that misses one or names one the type
 * does not have, so a query that selects these reads what `selectAll()` would.
 */
export function allColumns<Row>(columns: { [Column in keyof Row]: true }): (keyof Row & string)[] {
  return Object.keys(columns) as (keyof Row & string)[];
}
