// Entity tags and the conditional-request rules of RFC 9110 §13.
import { hash } from 'node:crypto';

/**
 * A strong validator for one representation: a resource's id and version, plus what shapes the bytes
 * (a sparse fieldset), so two different representations never share a tag (RFC 9110 §8.8.3).
 */
export function entityTag(id: string, version: number, variant = ''): string {
  return `"${hash('sha256', `${id}\u0000${version}\u0000${variant}`, 'base64url').slice(0, 27)}"`;
}

/** A strong validator for arbitrary bytes, for representations without a version (collections). */
export function contentTag(body: string | Uint8Array): string {
  return `"${hash('sha256', body, 'base64url').slice(0, 27)}"`;
}

function listTags(header: string): string[] {
  return header
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag.length > 0);
}

const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);

/** If-None-Match uses the weak comparison (RFC 9110 §13.1.2). */
export function noneMatch(header: string | undefined, current: string): boolean {
  if (header === undefined) return true;
  const tags = listTags(header);
  if (tags.includes('*')) return false;
  return !tags.some((tag) => opaque(tag) === opaque(current));
}

/** If-Match uses the strong comparison: a weak tag never matches (RFC 9110 §13.1.1). */
export function ifMatch(header: string | undefined, current: string): boolean {
  if (header === undefined) return true;
  const tags = listTags(header);
  return tags.includes('*') || tags.some((tag) => !tag.startsWith('W/') && tag === current);
}
