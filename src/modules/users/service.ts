// The users service: defaults, case-insensitive unique email, and the events of every change.
import type { Clock } from '../../kernel/clock.ts';
import type { CrudService } from '../../kernel/crud.ts';
import type { Storage } from '../../storage/database.ts';
import { crudService, type Identity } from '../crud-service.ts';
import { userConflict } from './errors.ts';
import { userCreated, userDeleted, userUpdated } from './events.ts';
import * as repository from './repository.ts';
import type { UserCreate, UserFilters, UserPatch, UserRecord } from './schema.ts';

export type UsersService = CrudService<UserRecord, UserCreate, UserPatch, UserFilters>;

export function buildUser(input: UserCreate, identity: Identity): UserRecord {
  return {
    ...identity,
    email: input.email,
    name: input.name,
    role: input.role ?? 'customer',
    status: input.status ?? 'active',
    location: input.location ?? null,
  };
}

export function usersService(storage: Storage, clock: Clock): UsersService {
  return crudService<UserRecord, UserCreate, UserPatch, UserFilters>(
    storage,
    {
      list: repository.listUsers,
      find: repository.findUser,
      findMany: repository.findUsers,
      insert: repository.insertUser,
      update: repository.updateUser,
      remove: repository.deleteUser,
    },
    {
      kind: 'user',
      prefix: 'usr',
      build: buildUser,
      toInput: ({ email, name, role, status, location }) => ({ email, name, role, status, location }),
      conflict: userConflict,
      created: (user, at) => [userCreated(user, at)],
      updated: (user, _previous, at) => [userUpdated(user, at)],
      deleted: (user, at) => [userDeleted(user, at)],
    },
    clock,
  );
}
