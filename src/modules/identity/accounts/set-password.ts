// Giving a user a password: checked, hashed with argon2id, and stored as the hash alone.
import { notFound } from '../../../kernel/errors.ts';
import type { AnyDb } from '../../../storage/database.ts';
import { checkNewPassword, hashPassword } from './passwords.ts';
import { setPasswordHash } from './repository.ts';

export async function setPassword(db: AnyDb, userId: string, password: string): Promise<void> {
  checkNewPassword(password);
  if (!(await setPasswordHash(db, userId, await hashPassword(password)))) throw notFound('user', userId);
}
