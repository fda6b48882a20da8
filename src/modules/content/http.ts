// REST routes for posts and comments under /v1: posts take the whole shared method contract; comments are
// created under their post (`/v1/posts/{id}/comments`) and read, replaced, patched and deleted flat
// (`/v1/comments/{id}`).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { guardRecord } from '../../transports/rest/access.ts';
import {
  createRoute,
  crudRoutes,
  getRoute,
  itemWriteRoutes,
  listRoute,
  type Resource,
  type RestContext,
} from '../../transports/rest/crud-routes.ts';
import type { Expansion } from '../../transports/rest/expansion.ts';
import { isSelf, representUser, usersPath } from '../users/index.ts';
import { canRead, commentsAccess, postsAccess } from './access.ts';
import {
  Comment,
  CommentCreate,
  CommentPatch,
  type CommentRecord,
  commentFilters,
  commentSortFields,
  Post,
  PostCreate,
  PostPatch,
  type PostRecord,
  postCommentFilters,
  postFilters,
  postSortFields,
} from './schema.ts';
import type { Authors, ContentService } from './service.ts';

export const postsPath = '/v1/posts';
export const commentsPath = '/v1/comments';

/** Published posts are public: shared caches may keep them briefly, then revalidate with the ETag. */
const shared = 'public, max-age=60, stale-while-revalidate=30';
/** Drafts, and anything that embeds a user (personal data): only the client may keep it, revalidating first. */
const personal = 'private, no-cache';

const expands = (expand: string | undefined, path: string) => expand?.split(',').includes(path) ?? false;

export function representPost(post: PostRecord, publicUrl: string) {
  const { version, ...fields } = post;
  const self = `${publicUrl}${postsPath}/${post.id}`;
  return {
    ...fields,
    _links: {
      self: { href: self },
      collection: { href: `${publicUrl}${postsPath}` },
      author: { href: `${publicUrl}${usersPath}/${post.authorId}` },
      comments: { href: `${self}/comments` },
    },
  };
}

export function representComment(comment: CommentRecord, publicUrl: string) {
  const { version, ...fields } = comment;
  return {
    ...fields,
    _links: {
      self: { href: `${publicUrl}${commentsPath}/${comment.id}` },
      post: { href: `${publicUrl}${postsPath}/${comment.postId}` },
      author: { href: `${publicUrl}${usersPath}/${comment.authorId}` },
    },
  };
}

/** `expand=author`: one users-service call per page, whatever its size. */
const authorExpansion = (users: Authors, publicUrl: string): Expansion => ({
  path: 'author',
  load: async (ids) => new Map((await users.getMany(ids)).map((user) => [user.id, representUser(user, publicUrl)])),
  visibleTo: isSelf,
});

export function contentRoutes(
  app: FastifyInstance,
  content: ContentService,
  users: Authors,
  context: RestContext,
): void {
  const { publicUrl } = context;
  const author = authorExpansion(users, publicUrl);

  crudRoutes(
    app,
    {
      kind: 'post',
      plural: 'posts',
      path: postsPath,
      scopes: { read: 'posts:read', write: 'posts:write' },
      cacheControl: personal,
      // A draft, or a page that may hold one, must not land in a shared cache; a published post may.
      cachePolicy: ({ record, filters, expand }) => {
        if (expands(expand, 'author')) return personal;
        if (record) return record.publishedAt === null ? personal : shared;
        return filters?.published === 'true' ? shared : personal;
      },
      representation: Post,
      create: PostCreate,
      patch: PostPatch,
      filters: postFilters,
      sortFields: postSortFields,
      service: content.posts,
      represent: (post) => representPost(post, publicUrl),
      expansions: [author],
      access: postsAccess,
    },
    context,
  );

  const comments: Resource<CommentRecord> = {
    kind: 'comment',
    plural: 'comments',
    path: commentsPath,
    scopes: { read: 'comments:read', write: 'comments:write' },
    // A comment is as visible as its post, which it does not carry: never in a shared cache, revalidated with its
    // ETag before reuse.
    cacheControl: personal,
    representation: Comment,
    represent: (comment) => representComment(comment, publicUrl),
    access: commentsAccess,
    expansions: [
      author,
      {
        path: 'post',
        load: async (ids) =>
          new Map((await content.posts.getMany(ids)).map((post) => [post.id, representPost(post, publicUrl)])),
        visibleTo: canRead,
      },
    ],
  };
  const service = content.comments;
  /** Comments are reached through their post, which a customer must be able to read (404 otherwise). */
  const readablePost = async (id: string, request: FastifyRequest) => {
    const post = await content.posts.get(id);
    guardRecord(postsAccess, request, 'post', post, false);
    return post;
  };
  const nestedPath = `${postsPath}/:id/comments`;

  listRoute(
    app,
    comments,
    {
      filters: postCommentFilters,
      sortFields: commentSortFields,
      list: service.list,
      nested: {
        path: nestedPath,
        filtersFrom: async ({ id }, request) => ({ postId: (await readablePost(id, request)).id }),
        operationId: 'listPostComments',
        summary: 'List the comments on a post',
      },
    },
    context,
  );
  createRoute(
    app,
    comments,
    {
      body: CommentCreate,
      create: async (body, params, request) =>
        service.create((await readablePost(String(params.id), request)).id, body as CommentCreate),
      nested: { path: nestedPath, operationId: 'createPostComment', summary: 'Comment on a post' },
      errors: [404],
    },
    context,
  );
  listRoute(app, comments, { filters: commentFilters, sortFields: commentSortFields, list: service.list }, context);
  getRoute(app, comments, service.get);

  itemWriteRoutes(app, comments, {
    replaceBody: CommentCreate,
    patchBody: CommentPatch,
    service,
    errors: [],
    replaceDescription:
      'Replaces the author and the body; the post stays. Send If-Match to avoid lost updates. The author must be ' +
      'an existing user.',
  });
}
