// Events the content module emits: every change to a post or a comment, and a post's publication on its own,
// since readers, feeds and caches care about that moment.
import { type DomainEvent, domainEvent } from '../../storage/outbox.ts';
import type { CommentRecord, PostRecord } from './schema.ts';

const postAggregate = (post: { id: string }) => ({ type: 'post', id: post.id });
const commentAggregate = (comment: { id: string }) => ({ type: 'comment', id: comment.id });
const postData = ({ version, ...post }: PostRecord) => post;
const commentData = ({ version, ...comment }: CommentRecord) => comment;

/**
 * The publication rule: post.published is written by exactly the write that takes publishedAt from no value to a
 * value (a creation counts as coming from no value). Moving the date of a published post, or turning it back into
 * a draft, is a post.updated only; publishing that draft again is a new publication.
 */
const isPublication = (post: PostRecord, previous: PostRecord | null) =>
  post.publishedAt !== null && (previous === null || previous.publishedAt === null);

const postPublished = (post: PostRecord, at: Date): DomainEvent =>
  domainEvent('post.published', postAggregate(post), postData(post), at);

export function postCreated(post: PostRecord, at: Date): DomainEvent[] {
  const events = [domainEvent('post.created', postAggregate(post), postData(post), at)];
  if (isPublication(post, null)) events.push(postPublished(post, at));
  return events;
}

export function postUpdated(post: PostRecord, previous: PostRecord, at: Date): DomainEvent[] {
  const events = [domainEvent('post.updated', postAggregate(post), postData(post), at)];
  if (isPublication(post, previous)) events.push(postPublished(post, at));
  return events;
}

export const postDeleted = (post: PostRecord, at: Date): DomainEvent =>
  domainEvent('post.deleted', postAggregate(post), { id: post.id }, at);

export const commentCreated = (comment: CommentRecord, at: Date): DomainEvent =>
  domainEvent('comment.created', commentAggregate(comment), commentData(comment), at);

export const commentUpdated = (comment: CommentRecord, at: Date): DomainEvent =>
  domainEvent('comment.updated', commentAggregate(comment), commentData(comment), at);

/**
 * `reason` says why the comment went: deleted on its own, or with its post. A post's deletion removes its comments
 * through the foreign key's cascade, and each of them still gets its comment.deleted, so a consumer that follows
 * comments (a search index, a notification count) learns of every removal without knowing that posts cascade.
 */
export const commentDeleted = (
  comment: { id: string; postId: string },
  reason: 'deleted' | 'post_deleted',
  at: Date,
): DomainEvent =>
  domainEvent('comment.deleted', commentAggregate(comment), { id: comment.id, postId: comment.postId, reason }, at);
