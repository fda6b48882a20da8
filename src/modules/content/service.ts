// The content service: posts and their comments, authors that must exist (asked of the users module), tags kept
// in order and indexed, publication events, and comments that go, each with its event, when their post goes.
//
// Rules, in the order a write meets them:
//   1. a comment is written under a post that exists, else 404 (also when the post goes while the comment is written);
//   2. the author named by POST, PUT or a PATCH that sets authorId is an existing user, else 400 UNKNOWN_REFERENCE;
//      asked before the write's transaction opens, since another module's data is read through its service;
//   3. publishedAt is stored as UTC within the years 1 to 9999, which both databases hold exactly;
//   4. a change and its events commit together (crud-service.ts); post.published follows the rule in events.ts;
//   5. deleting a post deletes its comments, each with a comment.deleted whose reason is post_deleted.
import type { Clock } from '../../kernel/clock.ts';
import type { CrudService, Precondition } from '../../kernel/crud.ts';
import { atItem, invalid, notFound } from '../../kernel/errors.ts';
import { isId } from '../../kernel/ids.ts';
import type { PageRequest, PageResult } from '../../kernel/pagination.ts';
import type { AnyDb, Storage } from '../../storage/database.ts';
import { appendEvent } from '../../storage/outbox.ts';
import { crudService, type Identity } from '../crud-service.ts';
import type { UsersService } from '../users/index.ts';
import { isForeignKeyViolation, unknownAuthor } from './errors.ts';
import { commentCreated, commentDeleted, commentUpdated, postCreated, postDeleted, postUpdated } from './events.ts';
import * as repository from './repository.ts';
import type {
  CommentCreate,
  CommentFilters,
  CommentPatch,
  CommentRecord,
  PostCreate,
  PostFilters,
  PostPatch,
  PostRecord,
} from './schema.ts';

export type PostsService = CrudService<PostRecord, PostCreate, PostPatch, PostFilters>;

export interface CommentsService {
  list(filters: CommentFilters, page: PageRequest): Promise<PageResult<CommentRecord>>;
  get(id: string): Promise<CommentRecord>;
  /** The comments among `ids` that exist, in one query; for batched expansion. */
  getMany(ids: string[]): Promise<CommentRecord[]>;
  /** A comment on the post `postId`: 404 when that post does not exist. */
  create(postId: string, input: CommentCreate): Promise<CommentRecord>;
  replace(id: string, input: CommentCreate, precondition: Precondition<CommentRecord>): Promise<CommentRecord>;
  patch(id: string, patch: CommentPatch, precondition: Precondition<CommentRecord>): Promise<CommentRecord>;
  remove(id: string, precondition: Precondition<CommentRecord>): Promise<void>;
}

export interface ContentService {
  posts: PostsService;
  comments: CommentsService;
}

/** What the content module needs of the users module: whether authors exist. */
export type Authors = Pick<UsersService, 'getMany'>;

const earliest = Date.parse('0001-01-01T00:00:00.000Z');
const latest = Date.parse('9999-12-31T23:59:59.999Z');

/** RFC 3339 text with any offset, as the UTC instant both databases store and compare (rule 3). */
function storedInstant(field: string, text: string): string {
  const ms = Date.parse(text);
  // RFC 3339 allows a leap second (…:60), which Date cannot represent.
  if (Number.isNaN(ms)) throw invalid(field, 'INVALID_FORMAT', `${field} must be an RFC 3339 date-time.`);
  if (ms < earliest || ms > latest) {
    throw invalid(field, 'OUT_OF_RANGE', `${field} must fall between the years 1 and 9999 in UTC.`);
  }
  return new Date(ms).toISOString();
}

export function buildPost(input: PostCreate, identity: Identity): PostRecord {
  return {
    ...identity,
    authorId: input.authorId,
    title: input.title,
    body: input.body,
    tags: [...(input.tags ?? [])],
    publishedAt: input.publishedAt == null ? null : storedInstant('publishedAt', input.publishedAt),
  };
}

export function buildComment(input: CommentCreate & { postId: string }, identity: Identity): CommentRecord {
  return { ...identity, postId: input.postId, authorId: input.authorId, body: input.body };
}

export function contentService(storage: Storage, clock: Clock, authors: Authors): ContentService {
  /** Rule 2: every author named exists; the first that does not is the error, at its item in a batch. */
  async function requireAuthors(ids: string[], isBatch = false): Promise<void> {
    const found = new Set((await authors.getMany([...new Set(ids)])).map((user) => user.id));
    const missing = ids.findIndex((id) => !found.has(id));
    if (missing === -1) return;
    const error = unknownAuthor(ids[missing] ?? '');
    throw isBatch ? atItem(missing, error) : error;
  }

  const posts = crudService<PostRecord, PostCreate, PostPatch, PostFilters>(
    storage,
    {
      list: repository.listPosts,
      find: repository.findPost,
      findMany: repository.findPosts,
      insert: repository.insertPost,
      update: repository.updatePost,
      // Rule 5: the comments are read in the delete's transaction, so none written meanwhile escapes its event.
      async remove(trx: AnyDb, id: string, expectedVersion: number) {
        const comments = await repository.commentIdsOfPost(trx, id);
        if (!(await repository.deletePost(trx, id, expectedVersion))) return false;
        const at = clock();
        for (const commentId of comments) {
          await appendEvent(trx, commentDeleted({ id: commentId, postId: id }, 'post_deleted', at));
        }
        return true;
      },
    },
    {
      kind: 'post',
      prefix: 'pst',
      build: buildPost,
      toInput: ({ authorId, title, body, tags, publishedAt }) => ({ authorId, title, body, tags, publishedAt }),
      created: postCreated,
      updated: postUpdated,
      deleted: (post, at) => [postDeleted(post, at)],
    },
    clock,
  );

  const comments = crudService<CommentRecord, CommentCreate & { postId: string }, CommentPatch, CommentFilters>(
    storage,
    {
      list: repository.listComments,
      find: repository.findComment,
      findMany: repository.findComments,
      insert: repository.insertComment,
      update: repository.updateComment,
      remove: repository.deleteComment,
    },
    {
      kind: 'comment',
      prefix: 'cmt',
      build: buildComment,
      toInput: ({ postId, authorId, body }) => ({ postId, authorId, body }),
      created: (comment, at) => [commentCreated(comment, at)],
      updated: (comment, _previous, at) => [commentUpdated(comment, at)],
      deleted: (comment, at) => [commentDeleted(comment, 'deleted', at)],
    },
    clock,
  );

  /** A 404 for a missing resource comes before a 400 about the body that would have changed it. */
  async function authorChange<R>(get: (id: string) => Promise<R>, id: string, authorId: string | undefined) {
    if (authorId === undefined) return;
    await get(id);
    await requireAuthors([authorId]);
  }

  return {
    posts: {
      ...posts,
      list(filters, page) {
        if (page.sort.field === 'publishedAt' && filters.published !== 'true') {
          throw invalid(
            'sort',
            'REQUIRES_FILTER',
            'sort=publishedAt lists published posts only: add published=true (a draft has no publishedAt).',
          );
        }
        return posts.list(filters, page);
      },
      async create(input) {
        await requireAuthors([input.authorId]);
        return posts.create(input);
      },
      async createMany(inputs) {
        await requireAuthors(
          inputs.map((input) => input.authorId),
          true,
        );
        return posts.createMany(inputs);
      },
      async replace(id, input, precondition) {
        await authorChange(posts.get, id, input.authorId);
        return posts.replace(id, input, precondition);
      },
      async patch(id, patch, precondition) {
        await authorChange(posts.get, id, patch.authorId);
        return posts.patch(id, patch, precondition);
      },
    },
    comments: {
      list: comments.list,
      get: comments.get,
      getMany: comments.getMany,
      async create(postId, input) {
        // Rule 1: the post first (404), then the author (400).
        if (!isId('pst', postId) || !(await repository.findPost(storage.db, postId))) throw notFound('post', postId);
        await requireAuthors([input.authorId]);
        try {
          return await comments.create({ ...input, postId });
        } catch (error) {
          throw isForeignKeyViolation(error) ? notFound('post', postId) : error;
        }
      },
      // A comment's whole body is { authorId, body }, both required: replacing it is patching both.
      async replace(id, input, precondition) {
        await authorChange(comments.get, id, input.authorId);
        return comments.patch(id, { authorId: input.authorId, body: input.body }, precondition);
      },
      async patch(id, patch, precondition) {
        await authorChange(comments.get, id, patch.authorId);
        return comments.patch(id, patch, precondition);
      },
      remove: comments.remove,
    },
  };
}
