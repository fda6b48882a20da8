// The users table: the only SQL that touches it.
import type { Kysely } from 'kysely';
import type { PageRequest, PageResult } from '../../kernel/pagination.ts';
import { compiledOnce } from '../../storage/compiled-once.ts';
import type { AnyDb } from '../../storage/database.ts';
import { paginate } from '../../storage/paginate.ts';
import type { UserFilters, UserRecord } from './schema.ts';

type UsersTable = {
  users: {
    id: string;
    email: string;
    email_key: string;
    name: string;
    role: UserRecord['role'];
    status: UserRecord['status'];
    location: string | null;
    version: number;
    created_at: string;
    updated_at: string;
  };
};
type Db = Kysely<UsersTable>;
type Row = UsersTable['users'];

const sortColumns: Record<string, keyof Row> = {
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  name: 'name',
  email: 'email_key',
};

const toRecord = (row: Row): UserRecord => ({
  id: row.id,
  email: row.email,
  name: row.name,
  role: row.role,
  status: row.status,
  location: row.location,
  version: Number(row.version),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const toRow = (user: UserRecord): Row => ({
  id: user.id,
  email: user.email,
  email_key: user.email.toLowerCase(),
  name: user.name,
  role: user.role,
  status: user.status,
  location: user.location,
  version: user.version,
  created_at: user.createdAt,
  updated_at: user.updatedAt,
});

const tables = (db: AnyDb): Db => db.withTables<UsersTable>();

/** A record's columns: not `select *`, which would also read the password hash, there for sign-in alone. */
const columns = [
  'id',
  'email',
  'email_key',
  'name',
  'role',
  'status',
  'location',
  'version',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof Row)[];

export async function listUsers(db: AnyDb, filters: UserFilters, page: PageRequest): Promise<PageResult<UserRecord>> {
  let query = tables(db).selectFrom('users').select(columns);
  if (filters.id) query = query.where('id', '=', filters.id);
  if (filters.role) query = query.where('role', '=', filters.role);
  if (filters.status) query = query.where('status', '=', filters.status);
  if (filters.email) query = query.where('email_key', '=', filters.email.toLowerCase());
  if (filters.createdFrom) query = query.where('created_at', '>=', filters.createdFrom);
  if (filters.createdTo) query = query.where('created_at', '<', filters.createdTo);
  const column = sortColumns[page.sort.field] ?? 'created_at';
  const result = await paginate(query, page, column, (row) => row[column] as string);
  return { ...result, items: result.items.map(toRecord) };
}

// Every order reads its customer, and every API key's first use its owner: compiled once.
const userById = compiledOnce((db, id: string) => tables(db).selectFrom('users').select(columns).where('id', '=', id));

export async function findUser(db: AnyDb, id: string): Promise<UserRecord | null> {
  const [row] = await userById(db, id);
  return row ? toRecord(row) : null;
}

export async function findUsers(db: AnyDb, ids: string[]): Promise<UserRecord[]> {
  const [only] = ids;
  if (ids.length === 1 && only !== undefined) {
    const user = await findUser(db, only);
    return user ? [user] : [];
  }
  const rows = await tables(db).selectFrom('users').select(columns).where('id', 'in', ids).execute();
  return rows.map(toRecord);
}

export async function insertUsers(db: AnyDb, users: UserRecord[]): Promise<void> {
  if (users.length > 0) await tables(db).insertInto('users').values(users.map(toRow)).execute();
}

export const insertUser = (db: AnyDb, user: UserRecord): Promise<void> => insertUsers(db, [user]);

/** Writes `user` only if the stored version is still `expectedVersion`; false when another write came first. */
export async function updateUser(db: AnyDb, user: UserRecord, expectedVersion: number): Promise<boolean> {
  const { id, created_at, ...changes } = toRow(user);
  const result = await tables(db)
    .updateTable('users')
    .set(changes)
    .where('id', '=', id)
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteUser(db: AnyDb, id: string, expectedVersion: number): Promise<boolean> {
  const result = await tables(db)
    .deleteFrom('users')
    .where('id', '=', id)
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}
