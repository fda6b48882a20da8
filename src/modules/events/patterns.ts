// Event types and the patterns that select them: exact types (`order.paid`) and wildcards (`order.*`, or `*` for
// all). One matcher validates webhook patterns, picks endpoints at fan-out and filters the events API.

/** Every event type the modules emit (their events.ts); a pattern must name at least one of them. */
export const eventTypes = [
  'user.created',
  'user.updated',
  'user.deleted',
  'product.created',
  'product.updated',
  'product.price_changed',
  'product.deleted',
  'order.created',
  'order.paid',
  'order.cancelled',
  'order.shipped',
  'order.delivered',
  'order.returned',
  'order.refunded',
  'post.created',
  'post.updated',
  'post.published',
  'post.deleted',
  'comment.created',
  'comment.updated',
  'comment.deleted',
  // What the delivery worker tells an endpoint's owner about the endpoint itself.
  'webhook_endpoint.delivery_failed',
  'webhook_endpoint.disabled',
  'webhook_endpoint.test',
] as const;

/** `a.b`, `a.*`, `a.b.*`, or `*`: a `*` stands for one or more whole trailing segments. */
export const patternSource = '^(\\*|[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*(\\.\\*)?)$';
const patternSyntax = new RegExp(patternSource);

export const isPatternSyntax = (pattern: string): boolean => patternSyntax.test(pattern);

export function matches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

export const matchesAny = (patterns: readonly string[], type: string): boolean =>
  patterns.some((pattern) => matches(pattern, type));

/** Why the pattern is refused, or null when it names at least one known event type. */
export function patternProblem(pattern: string): string | null {
  if (!isPatternSyntax(pattern)) {
    return `'${pattern}' is not an event type or a wildcard such as 'order.*' (lower case, dot-separated).`;
  }
  if (!eventTypes.some((type) => matches(pattern, type))) {
    return `'${pattern}' matches no event type; see GET /v1/events for the types there are.`;
  }
  return null;
}
