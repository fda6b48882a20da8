// Object- and field-level authorization, the half of access control that needs the record itself (the route's
// scope was already checked at the edge, edge/authorization.ts). Rules, for a resource with an AccessPolicy:
//   1. Admins, and OAuth clients acting for themselves (client credentials; an admin registered them with their
//      scopes), are not narrowed: the route's scope is all they need.
//   2. A customer sees only what the policy lets them see; anything else is 404, exactly as if it did not exist,
//      so ids of other customers' things cannot be probed.
//   3. A list is narrowed by the policy's filters; a filter asking for someone else's records gives an empty page.
//   4. A customer may create, and change, only what they own: a body naming another owner is 403 on that field.
//   5. Fields only an admin may set (a user's `role` and `status`) are 403 when a customer sets or changes them;
//      repeating the current value is not a change (a PUT sends every field).
// Checks on a stored record run inside the write's transaction, through its precondition, so nothing changes
// between the check and the write.
import type { FastifyRequest } from 'fastify';
import { ApiError, notFound } from '../../kernel/errors.ts';
import type { Principal } from '../../modules/identity/principal.ts';

export interface AccessPolicy<R> {
  /** The filters that narrow a list to what this customer may see. */
  listFilters(principal: Principal): Record<string, unknown>;
  /** Whether this customer may see the record; when not, it is a 404. */
  canSee(principal: Principal, record: R): boolean;
  /** Whether this customer may change a record it can see; when not, 403. Everything it sees, by default. */
  canChange?(principal: Principal, record: R): boolean;
  /** Whether a customer may create at all (users are created by admins); true by default. */
  customersCreate?: boolean;
  /** The body field naming the owner (`customerId`, `authorId`): a customer may only name themself. */
  ownerField?: string;
  /** Body fields only an admin may set or change. */
  adminFields?: readonly string[];
}

/** The customer a policy applies to, or null when the caller is not narrowed (rule 1, or a public route). */
export function restrictedCustomer(request: FastifyRequest): Principal | null {
  const principal = request.principal;
  return principal?.role === 'customer' ? principal : null;
}

export const forbidden = (field: string, message: string): ApiError =>
  new ApiError('INSUFFICIENT_PERMISSIONS', `You may not do this: ${message}`, {
    details: [{ field, code: 'FORBIDDEN', message }],
  });

/** The list's filters narrowed to what the caller may see, or null when they ask for someone else's (rule 3). */
export function narrowFilters<R>(
  policy: AccessPolicy<R> | undefined,
  request: FastifyRequest,
  filters: Record<string, unknown>,
): Record<string, unknown> | null {
  const customer = restrictedCustomer(request);
  if (!policy || !customer) return filters;
  const forced = policy.listFilters(customer);
  for (const [key, value] of Object.entries(forced)) {
    if (filters[key] !== undefined && filters[key] !== value) return null;
  }
  return { ...filters, ...forced };
}

/** Throws the 404 (rule 2) or 403 a customer gets for a stored record; `change` for writes and actions. */
export function guardRecord<R extends { id: string }>(
  policy: AccessPolicy<R> | undefined,
  request: FastifyRequest,
  kind: string,
  record: R,
  change: boolean,
): void {
  const customer = restrictedCustomer(request);
  if (!policy || !customer) return;
  if (!policy.canSee(customer, record)) throw notFound(kind, record.id);
  if (change && !(policy.canChange?.(customer, record) ?? true)) {
    throw forbidden('id', `this ${kind} can be changed only by its owner or an admin.`);
  }
}

/** Throws the 403 a customer gets for a write body (rules 4 and 5); `current` is the stored record, if any. */
export function guardBody<R>(
  policy: AccessPolicy<R> | undefined,
  request: FastifyRequest,
  kind: string,
  body: unknown,
  current?: R,
): void {
  const customer = restrictedCustomer(request);
  if (!policy || !customer) return;
  if (current === undefined && policy.customersCreate === false) {
    throw forbidden('body', `only an admin may create a ${kind}.`);
  }
  const fields = (body ?? {}) as Record<string, unknown>;
  const owner = policy.ownerField;
  if (owner && fields[owner] !== undefined && fields[owner] !== customer.userId) {
    throw forbidden(owner, `${owner} must be your own user id.`);
  }
  for (const field of policy.adminFields ?? []) {
    const stored = (current as Record<string, unknown> | undefined)?.[field];
    if (fields[field] !== undefined && fields[field] !== stored) {
      throw forbidden(field, `only an admin may set ${field}.`);
    }
  }
}
