// Users: the stored record, its v1 representation, and the bodies that create, replace and patch it.
import { type Static, Type } from 'typebox';
import { Links, Nullable, StringEnum, Timestamp } from '../../kernel/schemas.ts';

export const UserRole = StringEnum(['admin', 'customer']);
export const UserStatus = StringEnum(['active', 'inactive']);

// PostgreSQL text cannot hold U+0000, so no string may carry it on either storage (a 400, never a 500).
const noNul = '^[^\\u0000]*$';
const email = Type.String({ format: 'email', minLength: 3, maxLength: 254, examples: ['ada@example.com'] });
const name = Type.String({ minLength: 1, maxLength: 200, pattern: noNul, examples: ['Ada Lovelace'] });
const location = Nullable(Type.String({ minLength: 1, maxLength: 200, pattern: noNul, examples: ['London'] }));

export const UserFields = {
  id: Type.String({ maxLength: 64, pattern: '^usr_[0-9a-z]{26}$', examples: ['usr_01jd2gq6f1e8x9v3k4m5n6p7q8'] }),
  email,
  name,
  role: UserRole,
  status: UserStatus,
  location,
  createdAt: Timestamp,
  updatedAt: Timestamp,
};

export const User = Type.Object({ ...UserFields, _links: Links }, { $id: 'User', additionalProperties: false });
export type UserRepresentation = Static<typeof User>;

/** What the service stores and returns; the representation adds links. */
export interface UserRecord {
  id: string;
  email: string;
  name: string;
  role: Static<typeof UserRole>;
  status: Static<typeof UserStatus>;
  location: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export const UserCreate = Type.Object(
  {
    email,
    name,
    role: Type.Optional(UserRole),
    status: Type.Optional(UserStatus),
    location: Type.Optional(location),
  },
  {
    additionalProperties: false,
    title: 'UserCreate',
    description:
      'Also the body of PUT: what is left out takes its default (role customer, status active, location null).',
  },
);
export type UserCreate = Static<typeof UserCreate>;

export const UserPatch = Type.Object(
  {
    email: Type.Optional(email),
    name: Type.Optional(name),
    role: Type.Optional(UserRole),
    status: Type.Optional(UserStatus),
    location: Type.Optional(location),
  },
  { additionalProperties: false, title: 'UserPatch' },
);
export type UserPatch = Static<typeof UserPatch>;

export const userFilters = {
  role: Type.Optional(UserRole),
  status: Type.Optional(UserStatus),
  email: Type.Optional(
    Type.String({ minLength: 1, maxLength: 254, pattern: noNul, description: 'Exact address, case-insensitive.' }),
  ),
};
export type UserFilters = {
  /** Set by access control, never by the query: a customer lists only themself. */
  id?: string;
  role?: UserRecord['role'];
  status?: UserRecord['status'];
  email?: string;
  createdFrom?: string;
  createdTo?: string;
};

export const userSortFields = ['createdAt', 'updatedAt', 'name', 'email'] as const;
