// The accounts module's SQL: the password column of users, refresh tokens and signing keys, and only that.
import type { Kysely } from 'kysely';
import { allColumns } from '../../../storage/columns.ts';
import type { AnyDb } from '../../../storage/database.ts';
import type { Role } from '../principal.ts';

type AccountsTables = {
  users: { id: string; email_key: string; role: Role; status: 'active' | 'inactive'; password_hash: string | null };
  refresh_tokens: {
    id: string;
    token_hash: string;
    family_id: string;
    user_id: string;
    created_at: string;
    expires_at: string;
    used_at: string | null;
    revoked_at: string | null;
  };
  signing_keys: {
    kid: string;
    algorithm: string;
    private_jwk: string;
    public_jwk: string;
    created_at: string;
    superseded_at: string | null;
  };
};

type RefreshTokenRow = AccountsTables['refresh_tokens'];
type SigningKeyRow = AccountsTables['signing_keys'];

const refreshTokenColumns = allColumns<RefreshTokenRow>({
  id: true,
  token_hash: true,
  family_id: true,
  user_id: true,
  created_at: true,
  expires_at: true,
  used_at: true,
  revoked_at: true,
});
const signingKeyColumns = allColumns<SigningKeyRow>({
  kid: true,
  algorithm: true,
  private_jwk: true,
  public_jwk: true,
  created_at: true,
  superseded_at: true,
});

const tables = (db: AnyDb): Kysely<AccountsTables> => db.withTables<AccountsTables>();

export interface Account {
  userId: string;
  role: Role;
  active: boolean;
  passwordHash: string | null;
}

const accountColumns = ['id', 'role', 'status', 'password_hash'] as const;

const toAccount = (row: Pick<AccountsTables['users'], (typeof accountColumns)[number]>): Account => ({
  userId: row.id,
  role: row.role,
  active: row.status === 'active',
  passwordHash: row.password_hash,
});

export async function findAccountByEmail(db: AnyDb, email: string): Promise<Account | null> {
  const row = await tables(db)
    .selectFrom('users')
    .select(accountColumns)
    .where('email_key', '=', email.toLowerCase())
    .executeTakeFirst();
  return row ? toAccount(row) : null;
}

export async function findAccount(db: AnyDb, userId: string): Promise<Account | null> {
  const row = await tables(db).selectFrom('users').select(accountColumns).where('id', '=', userId).executeTakeFirst();
  return row ? toAccount(row) : null;
}

/** False when no user has that id. */
export async function setPasswordHash(db: AnyDb, userId: string, passwordHash: string): Promise<boolean> {
  const result = await tables(db)
    .updateTable('users')
    .set({ password_hash: passwordHash })
    .where('id', '=', userId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export interface RefreshTokenRecord {
  id: string;
  tokenHash: string;
  familyId: string;
  userId: string;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
  revokedAt: string | null;
}

export async function insertRefreshToken(db: AnyDb, token: RefreshTokenRecord): Promise<void> {
  await tables(db)
    .insertInto('refresh_tokens')
    .values({
      id: token.id,
      token_hash: token.tokenHash,
      family_id: token.familyId,
      user_id: token.userId,
      created_at: token.createdAt,
      expires_at: token.expiresAt,
      used_at: token.usedAt,
      revoked_at: token.revokedAt,
    })
    .execute();
}

export async function findRefreshToken(db: AnyDb, tokenHash: string): Promise<RefreshTokenRecord | null> {
  const row = await tables(db)
    .selectFrom('refresh_tokens')
    .select(refreshTokenColumns)
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
  if (!row) return null;
  return {
    id: row.id,
    tokenHash: row.token_hash,
    familyId: row.family_id,
    userId: row.user_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    revokedAt: row.revoked_at,
  };
}

/** Marks the token used if nobody used or revoked it first; false when it was already used or revoked. */
export async function markRefreshTokenUsed(db: AnyDb, id: string, at: string): Promise<boolean> {
  const result = await tables(db)
    .updateTable('refresh_tokens')
    .set({ used_at: at })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function revokeRefreshFamily(db: AnyDb, familyId: string, at: string): Promise<void> {
  await tables(db)
    .updateTable('refresh_tokens')
    .set({ revoked_at: at })
    .where('family_id', '=', familyId)
    .where('revoked_at', 'is', null)
    .execute();
}

export interface SigningKeyRecord {
  kid: string;
  algorithm: string;
  privateJwk: string;
  publicJwk: string;
  createdAt: string;
  supersededAt: string | null;
}

/** Keys still verifying at `since`: the current one and those superseded after `since`; newest first. */
export async function listSigningKeys(db: AnyDb, since: string): Promise<SigningKeyRecord[]> {
  const rows = await tables(db)
    .selectFrom('signing_keys')
    .select(signingKeyColumns)
    .where((eb) => eb.or([eb('superseded_at', 'is', null), eb('superseded_at', '>', since)]))
    .orderBy('created_at', 'desc')
    .orderBy('kid', 'desc')
    .execute();
  return rows.map((row) => ({
    kid: row.kid,
    algorithm: row.algorithm,
    privateJwk: row.private_jwk,
    publicJwk: row.public_jwk,
    createdAt: row.created_at,
    supersededAt: row.superseded_at,
  }));
}

/** Makes `key` the current key: every other current key is superseded at its creation. */
export async function insertCurrentSigningKey(db: AnyDb, key: SigningKeyRecord): Promise<void> {
  await tables(db)
    .updateTable('signing_keys')
    .set({ superseded_at: key.createdAt })
    .where('superseded_at', 'is', null)
    .execute();
  await tables(db)
    .insertInto('signing_keys')
    .values({
      kid: key.kid,
      algorithm: key.algorithm,
      private_jwk: key.privateJwk,
      public_jwk: key.publicJwk,
      created_at: key.createdAt,
      superseded_at: null,
    })
    .execute();
}
