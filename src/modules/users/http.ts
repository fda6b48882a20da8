// REST routes for users under /v1: the shared method contract, with the users' schemas, filters and scopes.
import type { FastifyInstance } from 'fastify';
import { crudRoutes, type RestContext } from '../../transports/rest/crud-routes.ts';
import { usersAccess } from './access.ts';
import { User, UserCreate, UserPatch, type UserRecord, userFilters, userSortFields } from './schema.ts';
import type { UsersService } from './service.ts';

export const usersPath = '/v1/users';

export function representUser(user: UserRecord, publicUrl: string) {
  const { version, ...fields } = user;
  return {
    ...fields,
    _links: { self: { href: `${publicUrl}${usersPath}/${user.id}` }, collection: { href: `${publicUrl}${usersPath}` } },
  };
}

export function usersRoutes(app: FastifyInstance, service: UsersService, context: RestContext): void {
  crudRoutes(
    app,
    {
      kind: 'user',
      plural: 'users',
      path: usersPath,
      scopes: { read: 'users:read', write: 'users:write' },
      // Personal data: only the client may keep it, and must revalidate before reuse.
      cacheControl: 'private, no-cache',
      representation: User,
      create: UserCreate,
      patch: UserPatch,
      filters: userFilters,
      sortFields: userSortFields,
      service,
      represent: (user) => representUser(user, context.publicUrl),
      access: usersAccess,
    },
    context,
  );
}
