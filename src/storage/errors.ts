// Recognises constraint violations from either dialect, so repositories can turn them into domain errors.

interface DriverError {
  code?: unknown;
  errcode?: unknown;
  constraint?: unknown;
  message?: unknown;
}

const sqliteUnique = new Set([2067, 1555]); // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY

/** True when the error is a unique violation; with `column`, only when that column took part in it. */
export function isUniqueViolation(error: unknown, column?: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as DriverError;
  const isUnique = e.code === '23505' || (typeof e.errcode === 'number' && sqliteUnique.has(e.errcode));
  if (!isUnique || column === undefined) return isUnique;
  const where = `${String(e.constraint ?? '')} ${String(e.message ?? '')}`;
  return where.includes(column);
}
