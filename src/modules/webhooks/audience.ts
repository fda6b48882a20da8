// Who may receive an event by webhook: what a customer may read through the API, they may be sent, and no more.
// Rules:
//   1. An endpoint owned by an admin receives every event it subscribes to.
//   2. A customer's endpoint receives catalog events (the catalog is public) and events about what is theirs: their
//      user, their orders (`customerId`), their posts and comments (`authorId`), their webhook endpoints (`ownerId`).
//   3. Any other event (a type no rule names, or a deletion that no longer says whose it was) goes to admins only.
import type { DomainEvent } from '../../storage/outbox.ts';

type Audience = { kind: 'everyone' } | { kind: 'owner'; userId: string } | { kind: 'admins' };

const field = (data: unknown, name: string): string | null => {
  const value = (data as Record<string, unknown> | null)?.[name];
  return typeof value === 'string' ? value : null;
};

function audienceOf(event: Pick<DomainEvent, 'type' | 'data'>): Audience {
  const [family] = event.type.split('.');
  const owner = (userId: string | null): Audience => (userId ? { kind: 'owner', userId } : { kind: 'admins' });
  switch (family) {
    case 'product':
      return { kind: 'everyone' };
    case 'user':
      return owner(field(event.data, 'id'));
    case 'order':
      return owner(field(event.data, 'customerId'));
    case 'post':
    case 'comment':
      return owner(field(event.data, 'authorId'));
    case 'webhook_endpoint':
      return owner(field(event.data, 'ownerId'));
    default:
      return { kind: 'admins' };
  }
}

/** Whether an endpoint whose owner is `owner` may be sent the event (rules 1 to 3). */
export function mayReceive(owner: { id: string; role: string }, event: Pick<DomainEvent, 'type' | 'data'>): boolean {
  if (owner.role === 'admin') return true;
  const audience = audienceOf(event);
  return audience.kind === 'everyone' || (audience.kind === 'owner' && audience.userId === owner.id);
}
