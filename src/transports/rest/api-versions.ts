// One OpenAPI document per API version. Every route is registered under /v1 (edge/versioning.ts), so a later
// version's document is v1's with its paths moved and each module's changes applied; a deprecated version's
// operations are marked `deprecated`. Both carry the changelog that /docs shows.
import { type ApiVersion, deprecations, type VersionTransform } from '../../edge/versioning.ts';
import { versionDocument } from './openapi.ts';

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI documents are walked as plain JSON.
type Doc = Record<string, any>;

const methods = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options'];

/** The API changelog (markdown), newest first: what each version changed, and when the old one goes. */
export function changelog(): string {
  const v1 = deprecations.v1;
  const date = (at: Date | undefined) => at?.toISOString().slice(0, 10) ?? '';
  return [
    '## API changelog',
    '',
    `### v2 (current, ${date(v1?.deprecatedAt)})`,
    '',
    'Breaking changes, for users only; every other resource is the same in both versions:',
    '',
    '- `name` is now `fullName` (in bodies, `fields=` and `sort=`).',
    '- `location` is now an object `{ city, country }` (country may be null) instead of one string; v1 shows it as ' +
      '`"City, Country"`, or `"City"` without a country.',
    '',
    '### v1 (deprecated)',
    '',
    `Deprecated on ${date(v1?.deprecatedAt)}, switched off on ${date(v1?.sunsetAt)}. Its answers carry ` +
      '`Deprecation`, `Sunset` and a `Link` to the same resource under v2 (`rel="successor-version"`).',
    '',
    'Choose a version by path (`/v2/users`), or on unversioned paths (`/users`) by ' +
      '`Accept: application/vnd.portico.v2+json`, `X-API-Version: 2` or `?version=2`; without one, an API key ' +
      'pinned to a version gets that one, and everyone else the latest.',
  ].join('\n');
}

/** What every answer of a deprecated version carries (edge/versioning.ts). */
const deprecationHeaders = (successor: ApiVersion): Doc => ({
  Deprecation: {
    description: 'When this version was deprecated (RFC 9745): `@` and seconds since the epoch.',
    required: true,
    schema: { type: 'string', maxLength: 16, pattern: '^@[0-9]+$' },
  },
  Sunset: {
    description: `When this version stops being served (RFC 8594), as an HTTP date; move to ${successor} before.`,
    required: true,
    schema: {
      type: 'string',
      maxLength: 40,
      pattern: '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT$',
    },
  },
});

export function apiVersionDocument(
  swagger: Doc,
  version: ApiVersion,
  publicUrl: string,
  transforms: readonly VersionTransform[],
): Doc {
  const v1 = versionDocument(structuredClone(swagger), 'v1', publicUrl);
  const document: Doc = version === 'v1' ? v1 : JSON.parse(JSON.stringify(v1).replaceAll('/v1/', `/${version}/`));
  for (const transform of transforms) if (transform.version === version) transform.document(document);
  const deprecation = deprecations[version];
  if (deprecation) {
    const headers = deprecationHeaders(deprecation.successor);
    for (const item of Object.values(document.paths ?? {}) as Doc[]) {
      for (const method of methods) {
        if (!item[method]) continue;
        item[method].deprecated = true;
        for (const response of Object.values(item[method].responses ?? {}) as Doc[]) {
          response.headers = { ...response.headers, ...headers };
        }
      }
    }
  }
  const info = document.info ?? {};
  document.info = { ...info, version, description: `${info.description ?? ''}\n\n${changelog()}` };
  return document;
}
