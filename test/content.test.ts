// Posts and comments under /v1, end to end on SQLite and PostgreSQL: the method contract, filters and sorts,
// nested and flat comments, references to users, events in the outbox, batched expansion, caching and hostile input.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import {
  type ApiResponse,
  client,
  countRows,
  eventTypesOf,
  expectEnvelope,
  isBookkeeping,
  type RequestOptions,
  startServer,
  storageKinds,
  type TestServer,
} from './helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read freely and asserted on.
type Body = any;

const publicCaching = 'public, max-age=60, stale-while-revalidate=30';
const privateCaching = 'private, no-cache';
const missingUser = `usr_0${'a'.repeat(25)}`;
const missingPost = `pst_0${'a'.repeat(25)}`;
const missingComment = `cmt_0${'a'.repeat(25)}`;

const ids = (items: Body[]): string[] => items.map((item) => item.id);
const sorted = (values: string[]) => [...values].sort();
const query = (params: Record<string, string | number>): string =>
  new URLSearchParams(Object.entries(params).map(([key, value]): [string, string] => [key, String(value)])).toString();

for (const kind of storageKinds()) {
  describe(`posts and comments on ${kind}`, () => {
    let server: TestServer;
    let api: ReturnType<typeof client>;
    let serial = 0;
    let statements: string[] = [];
    // Each write reads the clock once and whole seconds apart, so createdAt orders and windows are exact.
    let nowMs = Date.parse('2025-06-01T00:00:00.000Z');
    const clock = () => {
      nowMs += 1000;
      return new Date(nowMs);
    };

    before(async () => {
      server = await startServer({
        storage: kind,
        clock,
        // The webhook worker's polling runs on its own schedule; a suite that counts a request's queries stops it.
        webhookWorker: false,
        onQuery: (text) => {
          if (!isBookkeeping(text)) statements.push(text);
        },
      });
      api = client(server);
    });
    after(() => server?.close());

    const unique = () => ++serial;

    async function call(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
      const response = await api(method, path, options);
      assert.ok(response.status < 500, `${method} ${path} answered ${response.status}: ${response.text}`);
      return response;
    }
    async function created(path: string, body: unknown): Promise<Body> {
      const response = await call('POST', path, { body });
      assert.equal(response.status, 201, response.text);
      return response.body;
    }
    const makeUser = (name = 'Writer') => created('/v1/users', { email: `writer${unique()}@content.example`, name });
    async function makePost(authorId: string, overrides: Record<string, unknown> = {}): Promise<Body> {
      return created('/v1/posts', { authorId, title: `post ${unique()}`, body: 'Some text.', ...overrides });
    }
    const makeComment = (postId: string, authorId: string, body = `comment ${unique()}`) =>
      created(`/v1/posts/${postId}/comments`, { authorId, body });
    async function list(path: string, params: Record<string, string | number> = {}): Promise<Body[]> {
      const response = await call('GET', `${path}?${query(params)}`);
      assert.equal(response.status, 200, response.text);
      return response.body.data;
    }
    /** Every page of a listing, following nextCursor. */
    async function walk(path: string, params: Record<string, string | number>): Promise<string[][]> {
      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const response = await call('GET', `${path}?${query({ ...params, ...(cursor ? { cursor } : {}) })}`);
        assert.equal(response.status, 200, response.text);
        pages.push(ids(response.body.data));
        cursor = response.body.pagination.nextCursor;
      } while (cursor !== null);
      return pages;
    }
    const rowCount = (table: string) => countRows(server.storage, table);
    const eventsOf = (aggregateId: string) => eventTypesOf(server.storage, aggregateId);
    async function payloadsOf(aggregateId: string, type: string): Promise<Body[]> {
      const result = await sql<{ payload: unknown }>`select payload from outbox
        where aggregate_id = ${aggregateId} and type = ${type} order by position`.execute(server.storage.db);
      return result.rows.map((row) => (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload));
    }
    async function tagRows(postId: string): Promise<string[]> {
      const result = await sql<{
        tag: string;
      }>`select tag from post_tags where post_id = ${postId} order by tag`.execute(server.storage.db);
      return result.rows.map((row) => row.tag);
    }
    /** Rows and events, to show that a refused request changed nothing. */
    const snapshot = async () => [
      await rowCount('posts'),
      await rowCount('post_tags'),
      await rowCount('comments'),
      await rowCount('outbox'),
    ];
    /** SQL statements run while `work` runs. */
    /**
     * The queries a read costs, at the fewest of two runs: authenticating the caller's key costs a lookup when its
     * remembered entry has just expired and a write once a minute, whichever request that falls on.
     */
    async function countQueries(work: () => Promise<unknown>): Promise<number> {
      const counts: number[] = [];
      for (let run = 0; run < 2; run++) {
        statements = [];
        await work();
        counts.push(statements.length);
      }
      return Math.min(...counts);
    }

    describe('the post method contract', () => {
      test('creating a post answers 201 with Location and ETag, a draft with no tags, and links to its author and comments', async () => {
        const author = await makeUser();
        const response = await call('POST', '/v1/posts', {
          body: { authorId: author.id, title: 'Hello', body: 'First post.' },
        });
        assert.equal(response.status, 201, response.text);
        const post = response.body;
        assert.match(post.id, /^pst_[0-9a-z]{26}$/);
        assert.equal(response.headers.get('location'), `${server.url}/v1/posts/${post.id}`);
        assert.ok(response.headers.get('etag'));
        assert.deepEqual(
          {
            authorId: post.authorId,
            title: post.title,
            body: post.body,
            tags: post.tags,
            publishedAt: post.publishedAt,
          },
          { authorId: author.id, title: 'Hello', body: 'First post.', tags: [], publishedAt: null },
        );
        assert.equal(post.createdAt, post.updatedAt);
        assert.equal(post._links.self.href, `${server.url}/v1/posts/${post.id}`);
        assert.equal(post._links.author.href, `${server.url}/v1/users/${author.id}`);
        assert.equal(post._links.comments.href, `${server.url}/v1/posts/${post.id}/comments`);
        const read = await call('GET', `/v1/posts/${post.id}`);
        assert.deepEqual(read.body, post);
        assert.equal(read.headers.get('etag'), response.headers.get('etag'));
      });

      test('tags keep the order given, and publishedAt with an offset is stored and shown in UTC', async () => {
        const author = await makeUser();
        const post = await makePost(author.id, {
          tags: ['zeta', 'alpha', 'mid-dle'],
          publishedAt: '2025-01-01T10:00:00.5+02:00',
        });
        assert.deepEqual(post.tags, ['zeta', 'alpha', 'mid-dle']);
        assert.equal(post.publishedAt, '2025-01-01T08:00:00.500Z');
        assert.deepEqual((await call('GET', `/v1/posts/${post.id}`)).body.tags, ['zeta', 'alpha', 'mid-dle']);
        assert.deepEqual(await tagRows(post.id), ['alpha', 'mid-dle', 'zeta']);
      });

      test('PUT replaces the whole post: tags are replaced, and left-out tags and publishedAt fall back to [] and null', async () => {
        const author = await makeUser();
        const other = await makeUser();
        const post = await makePost(author.id, { tags: ['one', 'two'], publishedAt: '2025-02-01T00:00:00Z' });
        const replaced = await call('PUT', `/v1/posts/${post.id}`, {
          body: { authorId: other.id, title: 'Replaced', body: 'New body.', tags: ['three', 'one'] },
        });
        assert.equal(replaced.status, 200, replaced.text);
        assert.deepEqual(
          [replaced.body.authorId, replaced.body.title, replaced.body.tags, replaced.body.publishedAt],
          [other.id, 'Replaced', ['three', 'one'], null],
        );
        assert.equal(replaced.body.createdAt, post.createdAt);
        assert.ok(replaced.body.updatedAt > post.updatedAt);
        assert.deepEqual(await tagRows(post.id), ['one', 'three']);
        const bare = await call('PUT', `/v1/posts/${post.id}`, {
          body: { authorId: other.id, title: 'Bare', body: 'No tags.' },
        });
        assert.deepEqual([bare.body.tags, bare.body.publishedAt], [[], null]);
        assert.deepEqual(await tagRows(post.id), []);
      });

      test('PATCH is a merge patch: tags replace the list, publishedAt publishes, null publishedAt makes a draft again', async () => {
        const author = await makeUser();
        const post = await makePost(author.id, { tags: ['keep', 'drop'] });
        const tagged = await call('PATCH', `/v1/posts/${post.id}`, {
          body: { tags: ['new', 'keep'] },
          headers: { 'content-type': 'application/merge-patch+json' },
        });
        assert.equal(tagged.status, 200, tagged.text);
        assert.deepEqual(
          [tagged.body.tags, tagged.body.title, tagged.body.publishedAt],
          [['new', 'keep'], post.title, null],
        );
        assert.deepEqual(await tagRows(post.id), ['keep', 'new']);
        const published = await call('PATCH', `/v1/posts/${post.id}`, {
          body: { publishedAt: '2025-03-01T12:00:00Z' },
        });
        assert.deepEqual(
          [published.body.publishedAt, published.body.tags],
          ['2025-03-01T12:00:00.000Z', ['new', 'keep']],
        );
        const draft = await call('PATCH', `/v1/posts/${post.id}`, { body: { publishedAt: null } });
        assert.equal(draft.body.publishedAt, null);
        const cleared = await call('PATCH', `/v1/posts/${post.id}`, { body: { tags: [] } });
        assert.deepEqual(cleared.body.tags, []);
        assert.deepEqual(await tagRows(post.id), []);
      });

      test('DELETE answers 204, then the post and a second DELETE answer 404 and change nothing', async () => {
        const author = await makeUser();
        const post = await makePost(author.id, { tags: ['gone'] });
        assert.equal((await call('DELETE', `/v1/posts/${post.id}`)).status, 204);
        expectEnvelope(await call('GET', `/v1/posts/${post.id}`), 404, 'RESOURCE_NOT_FOUND');
        const before = await snapshot();
        expectEnvelope(await call('DELETE', `/v1/posts/${post.id}`), 404, 'RESOURCE_NOT_FOUND');
        assert.deepEqual(await snapshot(), before);
        assert.deepEqual(await tagRows(post.id), []);
      });

      test('a write with a stale If-Match answers 412 and changes nothing; the current ETag succeeds', async () => {
        const author = await makeUser();
        const post = await makePost(author.id);
        const etag = (await call('GET', `/v1/posts/${post.id}`)).headers.get('etag') ?? '';
        await call('PATCH', `/v1/posts/${post.id}`, { body: { title: 'moved on' } });
        const before = await snapshot();
        expectEnvelope(
          await call('PATCH', `/v1/posts/${post.id}`, { body: { title: 'stale' }, headers: { 'if-match': etag } }),
          412,
          'PRECONDITION_FAILED',
        );
        expectEnvelope(
          await call('DELETE', `/v1/posts/${post.id}`, { headers: { 'if-match': etag } }),
          412,
          'PRECONDITION_FAILED',
        );
        assert.deepEqual(await snapshot(), before);
        const current = (await call('GET', `/v1/posts/${post.id}`)).headers.get('etag') ?? '';
        const ok = await call('PATCH', `/v1/posts/${post.id}`, {
          body: { title: 'fresh' },
          headers: { 'if-match': current },
        });
        assert.equal(ok.status, 200, ok.text);
      });
    });

    describe('filters and sorts', () => {
      let alice: Body;
      let bob: Body;
      let posts: Body[] = [];
      const topic = () => `topic-${serial}`;
      let tag = '';
      before(async () => {
        alice = await makeUser('Alice');
        bob = await makeUser('Bob');
        unique();
        tag = topic();
        // Titles tie on purpose: the id must break ties the same way on every page.
        const plan: Array<[Body, string, string[], string | null]> = [
          [alice, 'delta', [tag, 'rust'], '2025-01-05T00:00:00Z'],
          [bob, 'delta', ['go', tag], null],
          [alice, 'delta', ['go'], '2025-01-02T00:00:00Z'],
          [bob, 'charlie', [tag], '2025-01-09T00:00:00Z'],
          [alice, 'bravo', [], null],
          [bob, 'echo', [tag, 'go'], '2025-01-02T00:00:00Z'],
        ];
        posts = [];
        for (const [author, title, tags, publishedAt] of plan) {
          posts.push(await makePost(author.id, { title, tags, publishedAt }));
        }
        // Later writes make updatedAt order differ from createdAt order.
        for (const index of [2, 0]) {
          const patched = await call('PATCH', `/v1/posts/${posts[index]?.id}`, { body: { body: 'edited' } });
          posts[index] = patched.body;
        }
      });
      /** Only this block's rows: each author here wrote nothing else. */
      const mine = (params: Record<string, string | number> = {}) => ({ ...params, limit: 100 });
      const both = async (params: Record<string, string | number>) => [
        ...(await list('/v1/posts', mine({ ...params, author: alice.id }))),
        ...(await list('/v1/posts', mine({ ...params, author: bob.id }))),
      ];

      test('author keeps exactly the posts of that author', async () => {
        assert.deepEqual(
          sorted(ids(await list('/v1/posts', mine({ author: alice.id })))),
          sorted(ids(posts.filter((post) => post.authorId === alice.id))),
        );
        assert.deepEqual(await list('/v1/posts', { author: missingUser }), []);
      });

      test('tag keeps exactly the posts carrying that tag, and follows tags rewritten later', async () => {
        const expected = posts.filter((post) => post.tags.includes(tag));
        assert.deepEqual(sorted(ids(await list('/v1/posts', mine({ tag })))), sorted(ids(expected)));
        const goByAlice = await list('/v1/posts', mine({ tag: 'go', author: alice.id }));
        assert.deepEqual(ids(goByAlice), [posts[2]?.id]);
        const extra = await makePost(alice.id, { tags: ['elsewhere'] });
        await call('PATCH', `/v1/posts/${extra.id}`, { body: { tags: [tag] } });
        assert.ok(ids(await list('/v1/posts', mine({ tag }))).includes(extra.id));
        await call('PUT', `/v1/posts/${extra.id}`, { body: { authorId: alice.id, title: 'x', body: 'y' } });
        assert.ok(!ids(await list('/v1/posts', mine({ tag }))).includes(extra.id));
        await call('DELETE', `/v1/posts/${extra.id}`);
      });

      test('published=true keeps posts with a publishedAt and published=false keeps drafts', async () => {
        assert.deepEqual(
          sorted(ids(await both({ published: 'true' }))),
          sorted(ids(posts.filter((post) => post.publishedAt !== null))),
        );
        assert.deepEqual(
          sorted(ids(await both({ published: 'false' }))),
          sorted(ids(posts.filter((post) => post.publishedAt === null))),
        );
        expectEnvelope(await call('GET', '/v1/posts?published=yes'), 400, 'VALIDATION_ERROR');
      });

      const byValue = (field: string) => (x: Body, y: Body) => {
        const [vx, vy] = [x[field], y[field]];
        const order = vx < vy ? -1 : vx > vy ? 1 : 0;
        return order !== 0 ? order : x.id < y.id ? -1 : 1;
      };

      for (const field of ['createdAt', 'updatedAt', 'title']) {
        for (const order of ['asc', 'desc'] as const) {
          test(`sorting by ${field} ${order}ending holds across cursor pages of two`, async () => {
            const expected = posts.filter((post) => post.tags.includes(tag)).sort(byValue(field));
            if (order === 'desc') expected.reverse();
            const pages = await walk('/v1/posts', { tag, sort: field, order, limit: 2 });
            assert.deepEqual(pages.flat(), ids(expected));
            assert.deepEqual(
              pages.map((page) => page.length),
              [2, 2],
            );
          });
        }
      }

      test('without sort, posts come newest first by createdAt', async () => {
        const expected = posts
          .filter((post) => post.authorId === alice.id)
          .sort(byValue('createdAt'))
          .reverse();
        assert.deepEqual(ids(await list('/v1/posts', mine({ author: alice.id }))), ids(expected));
      });

      test('sorting by publishedAt needs published=true, then orders published posts exactly across pages', async () => {
        const error = expectEnvelope(await call('GET', '/v1/posts?sort=publishedAt'), 400, 'VALIDATION_ERROR');
        assert.deepEqual(
          error.details.map((detail: Body) => [detail.field, detail.code]),
          [['sort', 'REQUIRES_FILTER']],
        );
        expectEnvelope(await call('GET', '/v1/posts?sort=publishedAt&published=false'), 400, 'VALIDATION_ERROR');
        for (const order of ['asc', 'desc'] as const) {
          const published = posts.filter((post) => post.publishedAt !== null).sort(byValue('publishedAt'));
          if (order === 'desc') published.reverse();
          const pages = [
            ...(await walk('/v1/posts', { author: alice.id, published: 'true', sort: 'publishedAt', order, limit: 1 })),
            ...(await walk('/v1/posts', { author: bob.id, published: 'true', sort: 'publishedAt', order, limit: 1 })),
          ];
          const forAlice = published.filter((post) => post.authorId === alice.id);
          const forBob = published.filter((post) => post.authorId === bob.id);
          assert.deepEqual(pages.flat(), [...ids(forAlice), ...ids(forBob)]);
        }
      });

      test('createdFrom and createdTo bound createdAt, the start inclusive and the end exclusive', async () => {
        const [, second, third] = posts;
        const window = await list('/v1/posts', mine({ createdFrom: second.createdAt, createdTo: third.createdAt }));
        assert.deepEqual(ids(window), [second.id]);
      });

      test('offset pages count exactly the filtered posts', async () => {
        const response = await call('GET', `/v1/posts?${query({ tag, page: 2, perPage: 3 })}`);
        assert.equal(response.status, 200, response.text);
        assert.deepEqual(response.body.pagination, { page: 2, perPage: 3, total: 4, totalPages: 2 });
        assert.equal(response.body.data.length, 1);
      });
    });

    describe('comments', () => {
      test('a comment made under a post answers 201 with its flat Location, and the post lists it', async () => {
        const author = await makeUser();
        const reader = await makeUser();
        const post = await makePost(author.id);
        const response = await call('POST', `/v1/posts/${post.id}/comments`, {
          body: { authorId: reader.id, body: 'Nice.' },
        });
        assert.equal(response.status, 201, response.text);
        const comment = response.body;
        assert.match(comment.id, /^cmt_[0-9a-z]{26}$/);
        assert.equal(response.headers.get('location'), `${server.url}/v1/comments/${comment.id}`);
        assert.deepEqual([comment.postId, comment.authorId, comment.body], [post.id, reader.id, 'Nice.']);
        assert.deepEqual(comment._links, {
          self: { href: `${server.url}/v1/comments/${comment.id}` },
          post: { href: `${server.url}/v1/posts/${post.id}` },
          author: { href: `${server.url}/v1/users/${reader.id}` },
        });
        assert.deepEqual((await call('GET', `/v1/comments/${comment.id}`)).body, comment);
        assert.deepEqual(ids(await list(`/v1/posts/${post.id}/comments`)), [comment.id]);
      });

      test('the comments of a post page by cursor and by offset, newest first, and filter by author', async () => {
        const author = await makeUser();
        const reader = await makeUser();
        const post = await makePost(author.id);
        const other = await makePost(author.id);
        const made = [];
        for (let i = 0; i < 5; i++) made.push(await makeComment(post.id, i % 2 === 0 ? reader.id : author.id));
        await makeComment(other.id, reader.id);
        const newestFirst = ids([...made].reverse());
        const pages = await walk(`/v1/posts/${post.id}/comments`, { limit: 2 });
        assert.deepEqual(pages, [newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);
        const oldestFirst = await walk(`/v1/posts/${post.id}/comments`, { limit: 3, order: 'asc' });
        assert.deepEqual(oldestFirst.flat(), ids(made));
        const offset = await call('GET', `/v1/posts/${post.id}/comments?page=2&perPage=2`);
        assert.deepEqual(offset.body.pagination, { page: 2, perPage: 2, total: 5, totalPages: 3 });
        assert.deepEqual(ids(offset.body.data), newestFirst.slice(2, 4));
        const byReader = await list(`/v1/posts/${post.id}/comments`, { author: reader.id });
        assert.deepEqual(ids(byReader), ids(made.filter((c) => c.authorId === reader.id).reverse()));
      });

      test('the flat collection filters comments by post and by author, exactly', async () => {
        const author = await makeUser();
        const reader = await makeUser();
        const first = await makePost(author.id);
        const second = await makePost(author.id);
        const a = await makeComment(first.id, reader.id);
        const b = await makeComment(second.id, reader.id);
        const c = await makeComment(first.id, author.id);
        assert.deepEqual(sorted(ids(await list('/v1/comments', { postId: first.id }))), sorted([a.id, c.id]));
        assert.deepEqual(sorted(ids(await list('/v1/comments', { author: reader.id }))), sorted([a.id, b.id]));
        assert.deepEqual(ids(await list('/v1/comments', { author: reader.id, postId: second.id })), [b.id]);
      });

      test('listing or commenting on a post that does not exist answers 404 and writes nothing', async () => {
        const reader = await makeUser();
        const before = await snapshot();
        for (const id of [missingPost, 'nonsense', missingUser]) {
          expectEnvelope(await call('GET', `/v1/posts/${id}/comments`), 404, 'RESOURCE_NOT_FOUND');
          expectEnvelope(
            await call('POST', `/v1/posts/${id}/comments`, { body: { authorId: reader.id, body: 'Hello?' } }),
            404,
            'RESOURCE_NOT_FOUND',
          );
        }
        // The missing post is the answer even when the author is missing too.
        expectEnvelope(
          await call('POST', `/v1/posts/${missingPost}/comments`, { body: { authorId: missingUser, body: 'x' } }),
          404,
          'RESOURCE_NOT_FOUND',
        );
        assert.deepEqual(await snapshot(), before);
      });

      test('PUT replaces a comment’s author and body but keeps its post; PATCH merges; DELETE twice is 204 then 404', async () => {
        const author = await makeUser();
        const reader = await makeUser();
        const post = await makePost(author.id);
        const comment = await makeComment(post.id, author.id, 'first');
        const replaced = await call('PUT', `/v1/comments/${comment.id}`, {
          body: { authorId: reader.id, body: 'second' },
        });
        assert.equal(replaced.status, 200, replaced.text);
        assert.deepEqual(
          [replaced.body.postId, replaced.body.authorId, replaced.body.body],
          [post.id, reader.id, 'second'],
        );
        assert.ok(replaced.headers.get('etag'));
        expectEnvelope(
          await call('PUT', `/v1/comments/${comment.id}`, { body: { body: 'no author' } }),
          400,
          'VALIDATION_ERROR',
        );
        const moved = await call('PATCH', `/v1/comments/${comment.id}`, { body: { postId: missingPost } });
        assert.equal(expectEnvelope(moved, 400, 'VALIDATION_ERROR').details[0].code, 'UNKNOWN_FIELD');
        const patched = await call('PATCH', `/v1/comments/${comment.id}`, {
          body: { body: 'third' },
          headers: { 'content-type': 'application/merge-patch+json' },
        });
        assert.deepEqual([patched.body.authorId, patched.body.body], [reader.id, 'third']);
        const stale = replaced.headers.get('etag') ?? '';
        expectEnvelope(
          await call('DELETE', `/v1/comments/${comment.id}`, { headers: { 'if-match': stale } }),
          412,
          'PRECONDITION_FAILED',
        );
        assert.equal((await call('DELETE', `/v1/comments/${comment.id}`)).status, 204);
        expectEnvelope(await call('GET', `/v1/comments/${comment.id}`), 404, 'RESOURCE_NOT_FOUND');
        expectEnvelope(await call('DELETE', `/v1/comments/${comment.id}`), 404, 'RESOURCE_NOT_FOUND');
        expectEnvelope(
          await call('PATCH', `/v1/comments/${missingComment}`, { body: { body: 'x' } }),
          404,
          'RESOURCE_NOT_FOUND',
        );
        assert.deepEqual(await list(`/v1/posts/${post.id}/comments`), []);
      });

      test('comments have no flat POST: it answers 405 naming GET', async () => {
        const response = await call('POST', '/v1/comments', { body: { authorId: missingUser, body: 'x' } });
        expectEnvelope(response, 405, 'METHOD_NOT_ALLOWED');
        assert.match(response.headers.get('allow') ?? '', /^GET\b/);
      });
    });

    describe('references to users', () => {
      test('a post or comment naming a user that does not exist answers 400 UNKNOWN_REFERENCE on authorId, writing nothing', async () => {
        const author = await makeUser();
        const post = await makePost(author.id);
        const comment = await makeComment(post.id, author.id);
        const before = await snapshot();
        const attempts: Array<[string, string, unknown]> = [
          ['POST', '/v1/posts', { authorId: missingUser, title: 't', body: 'b' }],
          ['PUT', `/v1/posts/${post.id}`, { authorId: missingUser, title: 't', body: 'b' }],
          ['PATCH', `/v1/posts/${post.id}`, { authorId: missingUser }],
          ['POST', `/v1/posts/${post.id}/comments`, { authorId: missingUser, body: 'b' }],
          ['PUT', `/v1/comments/${comment.id}`, { authorId: missingUser, body: 'b' }],
          ['PATCH', `/v1/comments/${comment.id}`, { authorId: missingUser }],
          [
            'POST',
            '/v1/posts/batch',
            {
              items: [
                { authorId: author.id, title: 't', body: 'b' },
                { authorId: missingUser, title: 't', body: 'b' },
              ],
            },
          ],
        ];
        for (const [method, path, body] of attempts) {
          const error = expectEnvelope(await call(method, path, { body }), 400, 'VALIDATION_ERROR');
          const field = path.endsWith('/batch') ? 'items.1.authorId' : 'authorId';
          assert.deepEqual(
            error.details.map((detail: Body) => [detail.field, detail.code]),
            [[field, 'UNKNOWN_REFERENCE']],
            `${method} ${path}`,
          );
        }
        assert.deepEqual(await snapshot(), before);
        assert.equal((await call('GET', `/v1/posts/${post.id}`)).body.authorId, author.id);
      });

      test('an author id of the wrong shape is a format error, and a missing post wins over a missing author on PUT', async () => {
        const error = expectEnvelope(
          await call('POST', '/v1/posts', { body: { authorId: 'someone', title: 't', body: 'b' } }),
          400,
          'VALIDATION_ERROR',
        );
        assert.deepEqual([error.details[0].field, error.details[0].code], ['authorId', 'INVALID_FORMAT']);
        expectEnvelope(
          await call('PUT', `/v1/posts/${missingPost}`, { body: { authorId: missingUser, title: 't', body: 'b' } }),
          404,
          'RESOURCE_NOT_FOUND',
        );
      });

      test('a post whose author was deleted stays readable, and expands its author to null', async () => {
        const author = await makeUser();
        const post = await makePost(author.id);
        assert.equal((await call('DELETE', `/v1/users/${author.id}`)).status, 204);
        const read = await call('GET', `/v1/posts/${post.id}?expand=author`);
        assert.equal(read.status, 200, read.text);
        assert.equal(read.body.author, null);
        const patched = await call('PATCH', `/v1/posts/${post.id}`, { body: { title: 'still editable' } });
        assert.equal(patched.status, 200, patched.text);
      });
    });

    describe('events in the outbox', () => {
      test('a post written as a draft, edited, published, moved, unpublished, republished and deleted writes each event once', async () => {
        const author = await makeUser();
        const post = await makePost(author.id);
        assert.deepEqual(await eventsOf(post.id), ['post.created']);
        await call('PATCH', `/v1/posts/${post.id}`, { body: { title: 'edited draft' } });
        await call('PATCH', `/v1/posts/${post.id}`, { body: { publishedAt: '2025-04-01T00:00:00Z' } });
        await call('PATCH', `/v1/posts/${post.id}`, { body: { publishedAt: '2025-04-02T00:00:00Z' } });
        await call('PATCH', `/v1/posts/${post.id}`, { body: { title: 'edited while published' } });
        await call('PATCH', `/v1/posts/${post.id}`, { body: { publishedAt: null } });
        const current = (await call('GET', `/v1/posts/${post.id}`)).body;
        await call('PUT', `/v1/posts/${post.id}`, {
          body: { authorId: author.id, title: current.title, body: current.body, publishedAt: '2025-05-01T00:00:00Z' },
        });
        assert.equal((await call('DELETE', `/v1/posts/${post.id}`)).status, 204);
        assert.deepEqual(await eventsOf(post.id), [
          'post.created',
          'post.updated',
          'post.updated',
          'post.published',
          'post.updated',
          'post.updated',
          'post.updated',
          'post.updated',
          'post.published',
          'post.deleted',
        ]);
        const published = await payloadsOf(post.id, 'post.published');
        assert.deepEqual(
          published.map((data) => data.publishedAt),
          ['2025-04-01T00:00:00.000Z', '2025-05-01T00:00:00.000Z'],
        );
        assert.deepEqual(await payloadsOf(post.id, 'post.deleted'), [{ id: post.id }]);
      });

      test('a post created already published writes post.created then post.published, carrying the post as shown', async () => {
        const author = await makeUser();
        const post = await makePost(author.id, { tags: ['b', 'a'], publishedAt: '2025-04-01T00:00:00Z' });
        assert.deepEqual(await eventsOf(post.id), ['post.created', 'post.published']);
        const { _links, ...shown } = post;
        assert.deepEqual(await payloadsOf(post.id, 'post.created'), [shown]);
        assert.deepEqual(await payloadsOf(post.id, 'post.published'), [shown]);
      });

      test('comments write comment.created, comment.updated and comment.deleted, once each', async () => {
        const author = await makeUser();
        const post = await makePost(author.id);
        const comment = await makeComment(post.id, author.id);
        await call('PATCH', `/v1/comments/${comment.id}`, { body: { body: 'changed' } });
        await call('PUT', `/v1/comments/${comment.id}`, { body: { authorId: author.id, body: 'put' } });
        await call('DELETE', `/v1/comments/${comment.id}`);
        assert.deepEqual(await eventsOf(comment.id), [
          'comment.created',
          'comment.updated',
          'comment.updated',
          'comment.deleted',
        ]);
        assert.deepEqual(await payloadsOf(comment.id, 'comment.deleted'), [
          { id: comment.id, postId: post.id, reason: 'deleted' },
        ]);
        assert.deepEqual(await eventsOf(post.id), ['post.created'], 'a comment does not change its post');
      });

      test('deleting a post deletes its comments, each with one comment.deleted naming the post as the reason', async () => {
        const author = await makeUser();
        const post = await makePost(author.id, { tags: ['cascade'] });
        const survivor = await makePost(author.id);
        const comments = [];
        for (let i = 0; i < 3; i++) comments.push(await makeComment(post.id, author.id));
        const kept = await makeComment(survivor.id, author.id);
        assert.equal((await call('DELETE', `/v1/posts/${post.id}`)).status, 204);
        for (const comment of comments) {
          expectEnvelope(await call('GET', `/v1/comments/${comment.id}`), 404, 'RESOURCE_NOT_FOUND');
          assert.deepEqual(await eventsOf(comment.id), ['comment.created', 'comment.deleted']);
          assert.deepEqual(await payloadsOf(comment.id, 'comment.deleted'), [
            { id: comment.id, postId: post.id, reason: 'post_deleted' },
          ]);
        }
        assert.deepEqual(await eventsOf(post.id), ['post.created', 'post.deleted']);
        assert.deepEqual(await tagRows(post.id), []);
        assert.deepEqual(ids(await list('/v1/comments', { postId: post.id })), []);
        assert.equal((await call('GET', `/v1/comments/${kept.id}`)).status, 200);
        assert.deepEqual(await eventsOf(kept.id), ['comment.created']);
      });

      test('a refused write writes no event', async () => {
        const author = await makeUser();
        const post = await makePost(author.id);
        const before = await rowCount('outbox');
        await call('PATCH', `/v1/posts/${post.id}`, { body: { tags: ['Upper'] } });
        await call('PATCH', `/v1/posts/${post.id}`, {
          body: { publishedAt: '2025-01-01T00:00:00Z' },
          headers: { 'if-match': '"stale"' },
        });
        await call('POST', `/v1/posts/${post.id}/comments`, { body: { authorId: missingUser, body: 'x' } });
        assert.equal(await rowCount('outbox'), before);
      });
    });

    describe('expansion', () => {
      test('expand=author embeds each post’s author; expand=author,post embeds a comment’s author and post', async () => {
        const author = await makeUser('Embedded');
        const post = await makePost(author.id, { tags: ['embedded'] });
        const comment = await makeComment(post.id, author.id);
        const one = await call('GET', `/v1/posts/${post.id}?expand=author`);
        assert.equal(one.status, 200, one.text);
        assert.deepEqual([one.body.author.id, one.body.author.name], [author.id, 'Embedded']);
        const page = await list('/v1/posts', { tag: 'embedded', expand: 'author', fields: 'title' });
        assert.deepEqual(Object.keys(page[0]).sort(), ['_links', 'author', 'id', 'title']);
        assert.equal(page[0].author.id, author.id);
        const plain = await call('GET', `/v1/posts/${post.id}`);
        assert.equal('author' in plain.body, false, 'author appears only when expanded');
        const both = await call('GET', `/v1/comments/${comment.id}?expand=author,post`);
        assert.deepEqual(
          [both.body.author.id, both.body.post.id, both.body.post.title],
          [author.id, post.id, post.title],
        );
        const nested = await list(`/v1/posts/${post.id}/comments`, { expand: 'post' });
        assert.equal(nested[0].post.id, post.id);
        assert.equal('author' in nested[0], false);
        // What is embedded is sent byte for byte as the resource's own GET sends it.
        const [ownAuthor, ownPost] = [
          await call('GET', `/v1/users/${author.id}`),
          await call('GET', `/v1/posts/${post.id}`),
        ];
        assert.ok(one.text.includes(`"author":${ownAuthor.text}`), one.text);
        assert.ok(both.text.includes(`"author":${ownAuthor.text}`), both.text);
        assert.ok(both.text.includes(`"post":${ownPost.text}`), both.text);
      });

      test('expanding a page of 100 costs as many queries as a page of 10', async () => {
        const tag = `bulk-${unique()}`;
        const people = await call('POST', '/v1/users/batch', {
          body: {
            items: Array.from({ length: 100 }, (_, i) => ({
              email: `bulk${unique()}-${i}@content.example`,
              name: `B${i}`,
            })),
          },
        });
        assert.equal(people.status, 201, people.text);
        const authors: string[] = ids(people.body.data);
        const made = await call('POST', '/v1/posts/batch', {
          body: { items: authors.map((authorId) => ({ authorId, title: 'bulk', body: 'bulk', tags: [tag] })) },
        });
        assert.equal(made.status, 201, made.text);
        const postIds: string[] = ids(made.body.data);
        for (const postId of postIds.slice(0, 100)) await makeComment(postId, authors[0] ?? '');

        const postPage = (limit: number) => async () => {
          const page = await list('/v1/posts', { tag, limit, expand: 'author' });
          assert.equal(page.length, limit);
          assert.ok(page.every((post) => post.author?.id === post.authorId));
        };
        // What the page costs without expansion (authenticating the caller included) is the baseline.
        const plainPosts = await countQueries(() => list('/v1/posts', { tag, limit: 10 }));
        const small = await countQueries(postPage(10));
        assert.equal(await countQueries(postPage(100)), small);
        assert.equal(small, plainPosts + 1, 'one query for all the authors of the page');

        const commentPage = (limit: number) => async () => {
          const page = await list('/v1/comments', { author: authors[0] ?? '', limit, expand: 'author,post' });
          assert.equal(page.length, limit);
          assert.ok(page.every((comment) => comment.post?.id === comment.postId && comment.author?.id === authors[0]));
        };
        const plainComments = await countQueries(() => list('/v1/comments', { author: authors[0] ?? '', limit: 10 }));
        const fewComments = await countQueries(commentPage(10));
        assert.equal(await countQueries(commentPage(100)), fewComments);
        assert.equal(fewComments, plainComments + 2, 'one query for the authors and one for the posts');
      });

      test('expand of an unknown path or one deeper than two levels answers 400 naming expand', async () => {
        const author = await makeUser();
        const post = await makePost(author.id);
        const cases: Array<[string, string]> = [
          [`/v1/posts?expand=comments`, 'UNKNOWN_EXPANSION'],
          [`/v1/posts/${post.id}?expand=post`, 'UNKNOWN_EXPANSION'],
          [`/v1/comments?expand=post.author`, 'UNKNOWN_EXPANSION'],
          [`/v1/comments?expand=post.author.name`, 'TOO_DEEP'],
          [`/v1/posts/${post.id}/comments?expand=author.x.y`, 'TOO_DEEP'],
        ];
        for (const [path, code] of cases) {
          const error = expectEnvelope(await call('GET', path), 400, 'VALIDATION_ERROR');
          assert.deepEqual([error.details[0].field, error.details[0].code], ['expand', code], path);
        }
        expectEnvelope(await call('GET', '/v1/posts?expand=author;drop'), 400, 'VALIDATION_ERROR');
      });
    });

    describe('caching', () => {
      test('a published post may sit in shared caches; a draft is private; both answer 304 with the same policy', async () => {
        const author = await makeUser();
        const published = await makePost(author.id, { publishedAt: '2025-01-01T00:00:00Z' });
        const draft = await makePost(author.id);
        for (const [post, policy] of [
          [published, publicCaching],
          [draft, privateCaching],
        ] as const) {
          const first = await call('GET', `/v1/posts/${post.id}`);
          assert.equal(first.headers.get('cache-control'), policy);
          const etag = first.headers.get('etag') ?? '';
          const again = await call('GET', `/v1/posts/${post.id}`, { headers: { 'if-none-match': etag } });
          assert.equal(again.status, 304);
          assert.equal(again.headers.get('cache-control'), policy);
        }
        await call('PATCH', `/v1/posts/${published.id}`, { body: { publishedAt: null } });
        assert.equal((await call('GET', `/v1/posts/${published.id}`)).headers.get('cache-control'), privateCaching);
        const embedded = await call('GET', `/v1/posts/${draft.id}?expand=author`);
        assert.equal(embedded.headers.get('cache-control'), privateCaching);
        await call('PATCH', `/v1/posts/${draft.id}`, { body: { publishedAt: '2025-01-01T00:00:00Z' } });
        const withAuthor = await call('GET', `/v1/posts/${draft.id}?expand=author`);
        assert.equal(withAuthor.headers.get('cache-control'), privateCaching, 'an embedded user is personal data');
      });

      test('a list is public only when filtered to published posts, and never when it embeds authors', async () => {
        const cases: Array<[string, string]> = [
          ['/v1/posts', privateCaching],
          ['/v1/posts?published=false', privateCaching],
          ['/v1/posts?published=true', publicCaching],
          ['/v1/posts?published=true&tag=news&sort=publishedAt', publicCaching],
          ['/v1/posts?published=true&expand=author', privateCaching],
          ['/v1/comments', privateCaching],
        ];
        for (const [path, policy] of cases) {
          const response = await call('GET', path);
          assert.equal(response.status, 200, response.text);
          assert.equal(response.headers.get('cache-control'), policy, path);
        }
        const page = await call('GET', '/v1/posts?published=true');
        const again = await call('GET', '/v1/posts?published=true', {
          headers: { 'if-none-match': page.headers.get('etag') ?? '' },
        });
        assert.equal(again.status, 304);
      });

      test('a write answers with the new ETag and no-store', async () => {
        const author = await makeUser();
        const post = await makePost(author.id);
        const patched = await call('PATCH', `/v1/posts/${post.id}`, { body: { publishedAt: '2025-01-01T00:00:00Z' } });
        assert.equal(patched.headers.get('cache-control'), 'no-store');
        const read = await call('GET', `/v1/posts/${post.id}`);
        assert.equal(read.headers.get('etag'), patched.headers.get('etag'));
      });
    });

    describe('hostile input', () => {
      test('bad post bodies answer 400 with the offending field and change nothing', async () => {
        const author = await makeUser();
        const post = await makePost(author.id, { tags: ['stable'] });
        const valid = { authorId: author.id, title: 'ok', body: 'ok' };
        const cases: Array<[string, Record<string, unknown>, string, string]> = [
          ['an unknown field', { ...valid, views: 3 }, 'views', 'UNKNOWN_FIELD'],
          ['an id', { ...valid, id: post.id }, 'id', 'UNKNOWN_FIELD'],
          ['21 tags', { ...valid, tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, 'tags', 'TOO_MANY_ITEMS'],
          ['duplicate tags', { ...valid, tags: ['same', 'other', 'same'] }, 'tags', 'DUPLICATE_ITEMS'],
          ['an uppercase tag', { ...valid, tags: ['News'] }, 'tags.0', 'INVALID_FORMAT'],
          ['a tag with a space', { ...valid, tags: ['ok', 'two words'] }, 'tags.1', 'INVALID_FORMAT'],
          ['an empty tag', { ...valid, tags: [''] }, 'tags.0', 'TOO_SHORT'],
          ['a tag that is not a string', { ...valid, tags: [7] }, 'tags.0', 'INVALID_TYPE'],
          ['tags as a string', { ...valid, tags: 'news' }, 'tags', 'INVALID_TYPE'],
          ['a body over 50,000 characters', { ...valid, body: 'x'.repeat(50_001) }, 'body', 'TOO_LONG'],
          ['a title over 200 characters', { ...valid, title: 't'.repeat(201) }, 'title', 'TOO_LONG'],
          ['an empty title', { ...valid, title: '' }, 'title', 'TOO_SHORT'],
          ['a NUL in the title', { ...valid, title: 'a\u0000b' }, 'title', 'INVALID_FORMAT'],
          ['a NUL in the body', { ...valid, body: '\u0000' }, 'body', 'INVALID_FORMAT'],
          ['a date that is not one', { ...valid, publishedAt: 'yesterday' }, 'publishedAt', 'INVALID_VALUE'],
          ['a leap second', { ...valid, publishedAt: '2016-12-31T23:59:60Z' }, 'publishedAt', 'INVALID_FORMAT'],
          [
            'a year past 9999 in UTC',
            { ...valid, publishedAt: '9999-12-31T23:59:59-23:59' },
            'publishedAt',
            'OUT_OF_RANGE',
          ],
          ['a missing title', { authorId: author.id, body: 'x' }, 'title', 'REQUIRED'],
        ];
        const before = await snapshot();
        for (const [label, body, field, code] of cases) {
          for (const [method, path] of [
            ['POST', '/v1/posts'],
            ['PUT', `/v1/posts/${post.id}`],
          ] as const) {
            const error = expectEnvelope(await call(method, path, { body }), 400, 'VALIDATION_ERROR');
            assert.ok(
              error.details.some((detail: Body) => detail.field === field && detail.code === code),
              `${method} with ${label}: ${JSON.stringify(error.details)}`,
            );
          }
        }
        const patchError = expectEnvelope(
          await call('PATCH', `/v1/posts/${post.id}`, { body: { tags: ['a', 'a'] } }),
          400,
          'VALIDATION_ERROR',
        );
        assert.equal(patchError.details[0].code, 'DUPLICATE_ITEMS');
        expectEnvelope(await call('PATCH', `/v1/posts/${post.id}`, { body: { tags: null } }), 400, 'VALIDATION_ERROR');
        assert.deepEqual(await snapshot(), before);
        assert.deepEqual((await call('GET', `/v1/posts/${post.id}`)).body.tags, ['stable']);
      });

      test('twenty distinct tags, a 50,000-character body and a year-1 date are accepted at the limits', async () => {
        const author = await makeUser();
        const tags = Array.from({ length: 20 }, (_, i) => `tag-${20 - i}`);
        const post = await makePost(author.id, { tags, body: 'y'.repeat(50_000), publishedAt: '0001-01-01T00:00:00Z' });
        assert.deepEqual(post.tags, tags);
        assert.equal(post.body.length, 50_000);
        assert.equal(post.publishedAt, '0001-01-01T00:00:00.000Z');
        assert.equal((await call('GET', `/v1/posts/${post.id}`)).body.publishedAt, '0001-01-01T00:00:00.000Z');
      });

      test('bad comment bodies answer 400 and change nothing', async () => {
        const author = await makeUser();
        const post = await makePost(author.id);
        const before = await snapshot();
        const cases: Array<[Record<string, unknown>, string, string]> = [
          [{ authorId: author.id, body: 'x'.repeat(10_001) }, 'body', 'TOO_LONG'],
          [{ authorId: author.id, body: '' }, 'body', 'TOO_SHORT'],
          [{ authorId: author.id, body: 'x', postId: missingPost }, 'postId', 'UNKNOWN_FIELD'],
          [{ authorId: author.id, body: 'a\u0000' }, 'body', 'INVALID_FORMAT'],
          [{ body: 'x' }, 'authorId', 'REQUIRED'],
        ];
        for (const [body, field, code] of cases) {
          const error = expectEnvelope(
            await call('POST', `/v1/posts/${post.id}/comments`, { body }),
            400,
            'VALIDATION_ERROR',
          );
          assert.ok(
            error.details.some((detail: Body) => detail.field === field && detail.code === code),
            JSON.stringify(error.details),
          );
        }
        assert.deepEqual(await snapshot(), before);
      });

      test('SQL and markup in titles, bodies and comments are stored and returned verbatim', async () => {
        const author = await makeUser();
        const texts = [
          "'; DROP TABLE posts; --",
          '<script>alert(1)</script>',
          '" OR 1=1 --',
          '{{7*7}} $' + '{7*7}',
          'Zoë 李小龙 مرحبا 👩🏽‍💻',
        ];
        for (const text of texts) {
          const post = await makePost(author.id, { title: text, body: text });
          const comment = await makeComment(post.id, author.id, text);
          const read = (await call('GET', `/v1/posts/${post.id}`)).body;
          assert.deepEqual([read.title, read.body], [text, text]);
          assert.equal((await call('GET', `/v1/comments/${comment.id}`)).body.body, text);
        }
        assert.ok((await rowCount('posts')) > 0, 'the posts table is still there');
      });

      test('bad filters and sorts answer 400 naming the parameter', async () => {
        const cases: Array<[string, string]> = [
          ['/v1/posts?tag=Not%20A%20Slug', 'tag'],
          ['/v1/posts?author=nobody', 'author'],
          ['/v1/posts?sort=body', 'sort'],
          ['/v1/posts?published=1', 'published'],
          ['/v1/comments?postId=usr_x', 'postId'],
          ['/v1/posts?fields=title,secret', 'fields'],
          ['/v1/posts?views=1', 'views'],
        ];
        for (const [path, field] of cases) {
          const error = expectEnvelope(await call('GET', path), 400, 'VALIDATION_ERROR');
          assert.ok(
            error.details.some((detail: Body) => detail.field === field),
            `${path}: ${JSON.stringify(error.details)}`,
          );
        }
      });
    });
  });
}
