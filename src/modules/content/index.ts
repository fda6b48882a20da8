// The content module's door: its service, its representation schemas, its routes and its bulk loaders. Nothing
// else is imported from outside.

export { commentsPath, contentRoutes, postsPath, representComment, representPost } from './http.ts';
export { insertComments, insertPosts } from './repository.ts';
export { Comment, type CommentRecord, Post, type PostRecord } from './schema.ts';
export {
  type Authors,
  buildComment,
  buildPost,
  type CommentsService,
  type ContentService,
  contentService,
  type PostsService,
} from './service.ts';
