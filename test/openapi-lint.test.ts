// The served OpenAPI document passes Spectral's `spectral:oas` and OWASP API Security rulesets without an error.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lintOpenApi, servedDocuments } from '../scripts/openapi-lint.ts';

test('the /v1 OpenAPI document has no error under the spectral:oas and OWASP API Security rulesets', async () => {
  for (const [version, text] of await servedDocuments()) {
    const errors = (await lintOpenApi(text, `/${version}/openapi.json`)).filter((f) => f.severity === 'error');
    assert.deepEqual(
      errors.map(({ rule, path, message }) => `${rule} ${path} ${message}`),
      [],
      `/${version}/openapi.json has Spectral errors`,
    );
  }
});
