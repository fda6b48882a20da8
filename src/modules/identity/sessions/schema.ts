// Sessions: the sign-in body and the session's representation.
import { type Static, Type } from 'typebox';
import { Links, Timestamp } from '../../../kernel/schemas.ts';

export const SessionCreate = Type.Object(
  {
    email: Type.String({ format: 'email', minLength: 3, maxLength: 254, examples: ['ada@example.com'] }),
    // Any length the accounts module accepts; what is tried is never checked for strength.
    password: Type.String({
      minLength: 1,
      maxLength: 1024,
      pattern: '^[^\\u0000]*$',
      examples: ['correct horse battery staple'],
    }),
  },
  { additionalProperties: false },
);
export type SessionCreate = Static<typeof SessionCreate>;

export const Session = Type.Object(
  {
    id: Type.String({
      maxLength: 64,
      pattern: '^ses_[0-9a-z]{26}$',
      description: 'A name for the session in logs and support requests. It is not the cookie and cannot sign in.',
    }),
    user: Type.Ref('User'),
    csrfToken: Type.String({
      maxLength: 64,
      pattern: '^[A-Za-z0-9_-]+$',
      description: 'Send it back in the X-CSRF-Token header of every POST, PUT, PATCH and DELETE made with the cookie.',
    }),
    createdAt: Timestamp,
    idleExpiresAt: Type.String({
      format: 'date-time',
      maxLength: 30,
      description: 'When the session ends unless used before; each use moves it 30 minutes on.',
    }),
    expiresAt: Type.String({
      format: 'date-time',
      maxLength: 30,
      description: 'When the session ends however busy it is: 12 hours after sign-in.',
    }),
    _links: Links,
  },
  { additionalProperties: false },
);
