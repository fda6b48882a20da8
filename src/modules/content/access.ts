// Who may see and change which posts and comments. Published posts, and the comments on them, are for every
// reader; a draft is its author's alone (another customer gets 404). Customers write as themselves and change
// only what they wrote; admins moderate everything.
import type { AccessPolicy } from '../../transports/rest/access.ts';
import type { Principal } from '../identity/principal.ts';
import type { CommentRecord, PostRecord } from './schema.ts';

/** Whether a customer may read this post: published, or theirs. */
export const canRead = (customer: Principal, post: { publishedAt: unknown; authorId: unknown }): boolean =>
  post.publishedAt !== null || post.authorId === customer.userId;

const wroteIt = (customer: Principal, written: { authorId: string }): boolean => written.authorId === customer.userId;

export const postsAccess: AccessPolicy<PostRecord> = {
  listFilters: (customer) => ({ visibleTo: customer.userId }),
  canSee: canRead,
  canChange: wroteIt,
  ownerField: 'authorId',
};

export const commentsAccess: AccessPolicy<CommentRecord> = {
  listFilters: () => ({}),
  canSee: () => true,
  canChange: wroteIt,
  ownerField: 'authorId',
};
