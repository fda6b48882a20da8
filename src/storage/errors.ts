// Recognises constraint violations from either dialect, so repositories can turn them into domain errors.

interface DriverError {
  code?: unknown;
  errcode?: unknown;
  constraint?: unknown;
  detail?: unknown;
  message?: unknown;
}

const sqliteUnique = new Set([2067, 1555]); // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY

/**
 * The columns of the violated key: PostgreSQL names them in `detail` ("Key (a, b)=(…) already exists."), SQLite
 * in its message ("UNIQUE constraint failed: t.a, t.b"). Read exactly, so a column whose name contains another's
 * (`email_key`, `key`) or a duplicate value that happens to spell one is never taken for it.
 */
function keyColumns(e: DriverError): string[] {
  const postgres = typeof e.detail === 'string' ? /^Key \((.+?)\)=\(/.exec(e.detail) : null;
  if (postgres?.[1]) return postgres[1].split(', ').map((column) => column.replace(/^"(.*)"$/, '$1'));
  const sqlite = typeof e.message === 'string' ? /^UNIQUE constraint failed: (.+)$/.exec(e.message) : null;
  if (sqlite?.[1]) return sqlite[1].split(', ').map((qualified) => qualified.slice(qualified.lastIndexOf('.') + 1));
  return [];
}

/** True when the error is a unique violation; with `column`, only when that column took part in it. */
export function isUniqueViolation(error: unknown, column?: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as DriverError;
  const isUnique = e.code === '23505' || (typeof e.errcode === 'number' && sqliteUnique.has(e.errcode));
  if (!isUnique || column === undefined) return isUnique;
  return keyColumns(e).includes(column);
}
