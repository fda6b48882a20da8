// Posts and their comments: the stored records, the v1 representations, and the bodies that create, replace and
// patch them.
import { Type } from 'typebox';
import { Links, StringEnum, Timestamp } from '../../kernel/schemas.ts';

// PostgreSQL text cannot hold U+0000, so no string may carry it on either storage (a 400, never a 500).
const noNul = '^[^\\u0000]*$';

const idOf = (prefix: string, example: string) => (description?: string) =>
  Type.String({
    maxLength: 64,
    pattern: `^${prefix}_[0-9a-z]{26}$`,
    examples: [`${prefix}_${example}`],
    ...(description === undefined ? {} : { description }),
  });
const postId = idOf('pst', '01jd2gq6f1e8x9v3k4m5n6p7q8');
const commentId = idOf('cmt', '01jd2gq7a2b3c4d5e6f7g8h9j0');
/** A user of the users module; the content module asks that module's service whether it exists. */
const userId = idOf('usr', '01jd2gq6f1e8x9v3k4m5n6p7q8');

export const maxTags = 20;
const title = Type.String({ minLength: 1, maxLength: 200, pattern: noNul, examples: ['Keyset pagination, explained'] });
const postBody = Type.String({
  minLength: 1,
  maxLength: 50_000,
  pattern: noNul,
  examples: ['Offsets skip and repeat rows when the table changes; a cursor over (createdAt, id) does not.'],
});
const tag = (description: string) =>
  Type.String({
    minLength: 1,
    maxLength: 50,
    pattern: '^[a-z0-9]+(-[a-z0-9]+)*$',
    description,
    examples: ['api-design'],
  });
const tags = Type.Array(tag('A lowercase slug: letters, digits and single hyphens.'), {
  maxItems: maxTags,
  uniqueItems: true,
  description: `At most ${maxTags} distinct tags, kept in the order given.`,
});
const publishedAt = Type.Union([Type.String({ format: 'date-time', maxLength: 30 }), Type.Null()], {
  description: 'When the post was published (any offset is accepted, and stored as UTC); null for a draft.',
});
/** An embedded resource, present only when `expand` names it. */
const expanded = (id: string, description: string) =>
  Type.Optional(Type.Union([Type.Ref(id), Type.Null()], { description }));
const commentBody = Type.String({
  minLength: 1,
  maxLength: 10_000,
  pattern: noNul,
  examples: ['Thanks, the part about ties on the sort key helped.'],
});

export const Post = Type.Object(
  {
    id: postId(),
    authorId: userId(),
    title,
    body: postBody,
    tags,
    publishedAt,
    createdAt: Timestamp,
    updatedAt: Timestamp,
    _links: Links,
    author: expanded('User', 'With `expand=author`: the author, or null if that user was deleted.'),
  },
  { $id: 'Post', additionalProperties: false },
);

export interface PostRecord {
  id: string;
  authorId: string;
  title: string;
  body: string;
  tags: string[];
  publishedAt: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export const PostCreate = Type.Object(
  {
    authorId: userId(),
    title,
    body: postBody,
    tags: Type.Optional(tags),
    publishedAt: Type.Optional(publishedAt),
  },
  {
    additionalProperties: false,
    title: 'PostCreate',
    description:
      'Also the body of PUT: what is left out takes its default (tags [], publishedAt null, a draft). The author ' +
      'must be an existing user.',
  },
);
export interface PostCreate {
  authorId: string;
  title: string;
  body: string;
  tags?: string[];
  publishedAt?: string | null;
}

export const PostPatch = Type.Object(
  {
    authorId: Type.Optional(userId()),
    title: Type.Optional(title),
    body: Type.Optional(postBody),
    tags: Type.Optional(tags),
    publishedAt: Type.Optional(publishedAt),
  },
  {
    additionalProperties: false,
    title: 'PostPatch',
    description: 'tags replace the whole list; publishedAt null turns the post back into a draft.',
  },
);
export type PostPatch = Partial<PostCreate>;

export const postFilters = {
  author: Type.Optional(userId('Only posts by this user.')),
  tag: Type.Optional(tag('Only posts carrying this tag.')),
  published: Type.Optional(
    StringEnum(['true', 'false'], { description: 'true: only published posts; false: only drafts.' }),
  ),
};
export interface PostFilters {
  /** Set by access control, never by the query: published posts and this user's drafts. */
  visibleTo?: string;
  author?: string;
  tag?: string;
  published?: 'true' | 'false';
  createdFrom?: string;
  createdTo?: string;
}

/** `publishedAt` sorts only published posts (`published=true`): a draft has no place on that axis. */
export const postSortFields = ['createdAt', 'updatedAt', 'title', 'publishedAt'] as const;

export const Comment = Type.Object(
  {
    id: commentId(),
    postId: postId(),
    authorId: userId(),
    body: commentBody,
    createdAt: Timestamp,
    updatedAt: Timestamp,
    _links: Links,
    author: expanded('User', 'With `expand=author`: the author, or null if that user was deleted.'),
    post: expanded('Post', 'With `expand=post`: the post.'),
  },
  { $id: 'Comment', additionalProperties: false },
);

export interface CommentRecord {
  id: string;
  postId: string;
  authorId: string;
  body: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export const CommentCreate = Type.Object(
  { authorId: userId(), body: commentBody },
  {
    additionalProperties: false,
    title: 'CommentCreate',
    description: 'Also the body of PUT. The post comes from the URL; the author must be an existing user.',
  },
);
export interface CommentCreate {
  authorId: string;
  body: string;
}

export const CommentPatch = Type.Object(
  { authorId: Type.Optional(userId()), body: Type.Optional(commentBody) },
  { additionalProperties: false, title: 'CommentPatch' },
);
export type CommentPatch = Partial<CommentCreate>;

/** The comments of one post take the author filter; the flat collection can also pick the post. */
export const postCommentFilters = { author: Type.Optional(userId('Only comments by this user.')) };
export const commentFilters = {
  postId: Type.Optional(postId('Only comments on this post.')),
  ...postCommentFilters,
};
export interface CommentFilters {
  postId?: string;
  author?: string;
  createdFrom?: string;
  createdTo?: string;
}

export const commentSortFields = ['createdAt', 'updatedAt'] as const;
