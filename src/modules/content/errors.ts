// The content module's errors: references to users that do not exist, and a post that vanished mid-write.
import { ApiError } from '../../kernel/errors.ts';

export const unknownAuthor = (id: string, field = 'authorId'): ApiError =>
  new ApiError('VALIDATION_ERROR', `The request is not valid: ${field} names no existing user ('${id}').`, {
    details: [
      { field, code: 'UNKNOWN_REFERENCE', message: `${field} must be the id of an existing user; '${id}' is not.` },
    ],
  });

/**
 * SQLite's SQLITE_CONSTRAINT_FOREIGNKEY, PostgreSQL's foreign_key_violation: a comment written while its post was
 * being deleted, refused by the comments table's foreign key. To the client the post is simply gone.
 */
export function isForeignKeyViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  return code === '23503' || errcode === 787;
}
