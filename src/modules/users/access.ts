// Who may see and change which users: an admin any, a customer only themself. Creating users, and setting a
// role or a status, is for admins.

import type { AccessPolicy } from '../../transports/rest/access.ts';
import type { Principal } from '../identity/principal.ts';
import type { UserRecord } from './schema.ts';

/** Whether a customer may see this user: only when it is themself. */
export const isSelf = (customer: Principal, user: { id: unknown }): boolean => user.id === customer.userId;

export const usersAccess: AccessPolicy<UserRecord> = {
  listFilters: (customer) => ({ id: customer.userId }),
  canSee: isSelf,
  customersCreate: false,
  adminFields: ['role', 'status'],
};
