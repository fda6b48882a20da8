// The users module's errors.
import { ApiError } from '../../kernel/errors.ts';
import { isUniqueViolation } from '../../storage/errors.ts';

export const duplicateEmail = (): ApiError =>
  new ApiError('CONFLICT', 'A user with this email already exists (emails are compared case-insensitively).', {
    details: [{ field: 'email', code: 'DUPLICATE', message: 'email is already taken.' }],
  });

export const userConflict = (error: unknown): ApiError | null =>
  isUniqueViolation(error, 'email_key') ? duplicateEmail() : null;
