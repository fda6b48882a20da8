// Events the users module emits; the outbox carries them (issue 7 delivers them).
import { type DomainEvent, domainEvent } from '../../storage/outbox.ts';
import type { UserRecord } from './schema.ts';

const aggregate = (user: { id: string }) => ({ type: 'user', id: user.id });
const publicData = ({ version, ...user }: UserRecord) => user;

export const userCreated = (user: UserRecord, at: Date): DomainEvent =>
  domainEvent('user.created', aggregate(user), publicData(user), at);
export const userUpdated = (user: UserRecord, at: Date): DomainEvent =>
  domainEvent('user.updated', aggregate(user), publicData(user), at);
export const userDeleted = (user: UserRecord, at: Date): DomainEvent =>
  domainEvent('user.deleted', aggregate(user), { id: user.id }, at);
