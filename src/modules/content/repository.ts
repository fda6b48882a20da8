// The posts, post_tags and comments tables: the only SQL that touches them.
import type { Kysely } from 'kysely';
import type { PageRequest, PageResult } from '../../kernel/pagination.ts';
import { allColumns } from '../../storage/columns.ts';
import type { AnyDb } from '../../storage/database.ts';
import { paginate } from '../../storage/paginate.ts';
import type { CommentFilters, CommentRecord, PostFilters, PostRecord } from './schema.ts';

type ContentTables = {
  posts: {
    id: string;
    author_id: string;
    title: string;
    body: string;
    /** The tags as a JSON array, in the author's order; post_tags holds one row per tag for filtering. */
    tags: string;
    published_at: string | null;
    version: number;
    created_at: string;
    updated_at: string;
  };
  post_tags: { post_id: string; tag: string };
  comments: {
    id: string;
    post_id: string;
    author_id: string;
    body: string;
    version: number;
    created_at: string;
    updated_at: string;
  };
};
type PostRow = ContentTables['posts'];
type CommentRow = ContentTables['comments'];

const postColumns = allColumns<PostRow>({
  id: true,
  author_id: true,
  title: true,
  body: true,
  tags: true,
  published_at: true,
  version: true,
  created_at: true,
  updated_at: true,
});
const commentColumns = allColumns<CommentRow>({
  id: true,
  post_id: true,
  author_id: true,
  body: true,
  version: true,
  created_at: true,
  updated_at: true,
});

const tables = (db: AnyDb): Kysely<ContentTables> => db.withTables<ContentTables>();

/**
 * Rows per multi-row INSERT for bulk loads: 250 rows of up to nine columns stay far below the bound-parameter
 * limits of SQLite (32,766) and PostgreSQL (65,535).
 */
const rowsPerInsert = 250;

function* slices<T>(rows: T[]): Generator<T[]> {
  for (let start = 0; start < rows.length; start += rowsPerInsert) yield rows.slice(start, start + rowsPerInsert);
}

// ---- posts ---------------------------------------------------------------------------------------------------

const postSortColumns: Record<string, keyof PostRow> = {
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  title: 'title',
  publishedAt: 'published_at',
};

const toPost = (row: PostRow): PostRecord => ({
  id: row.id,
  authorId: row.author_id,
  title: row.title,
  body: row.body,
  tags: JSON.parse(row.tags) as string[],
  publishedAt: row.published_at,
  version: Number(row.version),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const toPostRow = (post: PostRecord): PostRow => ({
  id: post.id,
  author_id: post.authorId,
  title: post.title,
  body: post.body,
  tags: JSON.stringify(post.tags),
  published_at: post.publishedAt,
  version: post.version,
  created_at: post.createdAt,
  updated_at: post.updatedAt,
});

const tagRows = (posts: PostRecord[]) => posts.flatMap((post) => post.tags.map((tag) => ({ post_id: post.id, tag })));

/**
 * The caller makes sure a `publishedAt` sort comes with `published: 'true'`: keyset pages compare (value, id)
 * pairs, which a NULL value would silently drop from every page after the first.
 */
export async function listPosts(db: AnyDb, filters: PostFilters, page: PageRequest): Promise<PageResult<PostRecord>> {
  const posts = tables(db);
  let query = posts.selectFrom('posts').select(postColumns);
  const reader = filters.visibleTo;
  if (reader)
    query = query.where((row) => row.or([row('published_at', 'is not', null), row('author_id', '=', reader)]));
  if (filters.author) query = query.where('author_id', '=', filters.author);
  if (filters.tag) {
    const tag = filters.tag;
    query = query.where('id', 'in', posts.selectFrom('post_tags').select('post_id').where('tag', '=', tag));
  }
  if (filters.published === 'true') query = query.where('published_at', 'is not', null);
  if (filters.published === 'false') query = query.where('published_at', 'is', null);
  if (filters.createdFrom) query = query.where('created_at', '>=', filters.createdFrom);
  if (filters.createdTo) query = query.where('created_at', '<', filters.createdTo);
  const column = postSortColumns[page.sort.field] ?? 'created_at';
  const result = await paginate(query, page, column, (row) => row[column] as string);
  return { ...result, items: result.items.map(toPost) };
}

export async function findPost(db: AnyDb, id: string): Promise<PostRecord | null> {
  const row = await tables(db).selectFrom('posts').select(postColumns).where('id', '=', id).executeTakeFirst();
  return row ? toPost(row) : null;
}

export async function findPosts(db: AnyDb, ids: string[]): Promise<PostRecord[]> {
  const rows = await tables(db).selectFrom('posts').select(postColumns).where('id', 'in', ids).execute();
  return rows.map(toPost);
}

/** Writes posts and their post_tags rows; the caller supplies the transaction that keeps them together. */
export async function insertPosts(db: AnyDb, posts: PostRecord[]): Promise<void> {
  for (const slice of slices(posts)) await tables(db).insertInto('posts').values(slice.map(toPostRow)).execute();
  for (const slice of slices(tagRows(posts))) await tables(db).insertInto('post_tags').values(slice).execute();
}

export const insertPost = (db: AnyDb, post: PostRecord): Promise<void> => insertPosts(db, [post]);

/** Writes `post` only if the stored version is still `expectedVersion`, and rewrites its post_tags to match. */
export async function updatePost(db: AnyDb, post: PostRecord, expectedVersion: number): Promise<boolean> {
  const { id, created_at, ...changes } = toPostRow(post);
  const result = await tables(db)
    .updateTable('posts')
    .set(changes)
    .where('id', '=', id)
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  if (result.numUpdatedRows === 0n) return false;
  await tables(db).deleteFrom('post_tags').where('post_id', '=', id).execute();
  const rows = tagRows([post]);
  if (rows.length > 0) await tables(db).insertInto('post_tags').values(rows).execute();
  return true;
}

/** Deletes the post; its post_tags and comments go with it (ON DELETE CASCADE). */
export async function deletePost(db: AnyDb, id: string, expectedVersion: number): Promise<boolean> {
  const result = await tables(db)
    .deleteFrom('posts')
    .where('id', '=', id)
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

// ---- comments ------------------------------------------------------------------------------------------------

const commentSortColumns: Record<string, keyof CommentRow> = { createdAt: 'created_at', updatedAt: 'updated_at' };

const toComment = (row: CommentRow): CommentRecord => ({
  id: row.id,
  postId: row.post_id,
  authorId: row.author_id,
  body: row.body,
  version: Number(row.version),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const toCommentRow = (comment: CommentRecord): CommentRow => ({
  id: comment.id,
  post_id: comment.postId,
  author_id: comment.authorId,
  body: comment.body,
  version: comment.version,
  created_at: comment.createdAt,
  updated_at: comment.updatedAt,
});

export async function listComments(
  db: AnyDb,
  filters: CommentFilters,
  page: PageRequest,
): Promise<PageResult<CommentRecord>> {
  let query = tables(db).selectFrom('comments').select(commentColumns);
  if (filters.postId) query = query.where('post_id', '=', filters.postId);
  if (filters.author) query = query.where('author_id', '=', filters.author);
  if (filters.createdFrom) query = query.where('created_at', '>=', filters.createdFrom);
  if (filters.createdTo) query = query.where('created_at', '<', filters.createdTo);
  const column = commentSortColumns[page.sort.field] ?? 'created_at';
  const result = await paginate(query, page, column, (row) => row[column] as string);
  return { ...result, items: result.items.map(toComment) };
}

export async function findComment(db: AnyDb, id: string): Promise<CommentRecord | null> {
  const row = await tables(db).selectFrom('comments').select(commentColumns).where('id', '=', id).executeTakeFirst();
  return row ? toComment(row) : null;
}

export async function findComments(db: AnyDb, ids: string[]): Promise<CommentRecord[]> {
  const rows = await tables(db).selectFrom('comments').select(commentColumns).where('id', 'in', ids).execute();
  return rows.map(toComment);
}

/** The comments a post's deletion takes with it, read in its transaction before the delete. */
export async function commentIdsOfPost(db: AnyDb, postId: string): Promise<string[]> {
  const rows = await tables(db)
    .selectFrom('comments')
    .select('id')
    .where('post_id', '=', postId)
    .orderBy('id')
    .execute();
  return rows.map((row) => row.id);
}

export async function insertComments(db: AnyDb, comments: CommentRecord[]): Promise<void> {
  for (const slice of slices(comments))
    await tables(db).insertInto('comments').values(slice.map(toCommentRow)).execute();
}

export const insertComment = (db: AnyDb, comment: CommentRecord): Promise<void> => insertComments(db, [comment]);

export async function updateComment(db: AnyDb, comment: CommentRecord, expectedVersion: number): Promise<boolean> {
  const { id, created_at, post_id, ...changes } = toCommentRow(comment);
  const result = await tables(db)
    .updateTable('comments')
    .set(changes)
    .where('id', '=', id)
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteComment(db: AnyDb, id: string, expectedVersion: number): Promise<boolean> {
  const result = await tables(db)
    .deleteFrom('comments')
    .where('id', '=', id)
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}
