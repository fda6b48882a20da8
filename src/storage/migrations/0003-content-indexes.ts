// Indexes the content routes need beyond 0002: posts in publication order, and comments by their author.
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe tables before any typed module exists.
export async function up(db: Kysely<any>): Promise<void> {
  // `sort=publishedAt` pages published posts by keyset over (published_at, id); drafts (NULL) are filtered out.
  await db.schema.createIndex('posts_published_at_id').on('posts').columns(['published_at', 'id']).execute();
  // `GET /v1/comments?author=` pages by (created_at, id) within one author.
  await db.schema
    .createIndex('comments_author_created_at')
    .on('comments')
    .columns(['author_id', 'created_at', 'id'])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('comments_author_created_at').execute();
  await db.schema.dropIndex('posts_published_at_id').execute();
}
