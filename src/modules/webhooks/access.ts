// Who may see and manage which webhook endpoints: an admin any, a customer only their own.
import type { AccessPolicy } from '../../transports/rest/access.ts';
import type { WebhookEndpointRecord } from './schema.ts';

export const webhookEndpointsAccess: AccessPolicy<WebhookEndpointRecord> = {
  listFilters: (customer) => ({ ownerId: customer.userId }),
  canSee: (customer, endpoint) => endpoint.ownerId === customer.userId,
  ownerField: 'ownerId',
};
