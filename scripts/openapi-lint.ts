// Lints the served OpenAPI documents with Spectral's `spectral:oas` and the OWASP API Security rulesets; shared by
// `npm run lint:openapi` and the test that keeps the documents free of error-severity findings.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Document, type ISpectralDiagnostic, Spectral } from '@stoplight/spectral-core';
import owasp from '@stoplight/spectral-owasp-ruleset';
import Parsers from '@stoplight/spectral-parsers';
import { oas } from '@stoplight/spectral-rulesets';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { openStorage } from '../src/storage/database.ts';
import { migrateToLatest } from '../src/storage/migrate.ts';

export interface Finding {
  severity: 'error' | 'warning' | 'info' | 'hint';
  rule: string;
  path: string;
  message: string;
}

// Spectral's DiagnosticSeverity: 0 error, 1 warning, 2 information, 3 hint.
const severities = ['error', 'warning', 'info', 'hint'] as const;

/** The OpenAPI document of each version the API root lists, as a client gets it, from an app on a throw-away database. */
export async function servedDocuments(): Promise<Map<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-openapi-'));
  const databaseUrl = `sqlite:${join(dir, 'portico.sqlite')}`;
  const storage = openStorage(databaseUrl);
  try {
    await migrateToLatest(storage);
    const app = await buildApp({ config: loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }), storage });
    try {
      const documents = new Map<string, string>();
      const { versions } = (await app.inject({ method: 'GET', url: '/' })).json<{ versions: string[] }>();
      for (const version of versions) {
        const response = await app.inject({ method: 'GET', url: `/${version}/openapi.json` });
        if (response.statusCode !== 200) throw new Error(`/${version}/openapi.json answered ${response.statusCode}`);
        documents.set(version, response.body);
      }
      return documents;
    } finally {
      await app.close();
    }
  } finally {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every finding of both rulesets on one document's JSON text, errors first. */
export async function lintOpenApi(text: string, source = 'openapi.json'): Promise<Finding[]> {
  const spectral = new Spectral();
  // The OWASP ruleset ships as a plain object, typed with its own copy of Spectral's types.
  spectral.setRuleset({ extends: [[oas, 'recommended'], owasp] } as unknown as Parameters<
    typeof spectral.setRuleset
  >[0]);
  const diagnostics: ISpectralDiagnostic[] = await spectral.run(new Document(text, Parsers.Json, source));
  return diagnostics
    .map((d) => ({
      severity: severities[d.severity] ?? 'hint',
      rule: String(d.code),
      path: d.path.join('.'),
      message: d.message,
    }))
    .sort((a, b) => severities.indexOf(a.severity) - severities.indexOf(b.severity) || a.path.localeCompare(b.path));
}
