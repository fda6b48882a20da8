// The users module's door: its service, its representation schema and its routes. Nothing else is imported from outside.

export { isSelf, usersAccess } from './access.ts';
export { representUser, usersPath, usersRoutes } from './http.ts';
export { insertUsers } from './repository.ts';
export { User, UserCreate, UserPatch, type UserRecord } from './schema.ts';
export { buildUser, type UsersService, usersService } from './service.ts';
export { usersV2 } from './versions.ts';
