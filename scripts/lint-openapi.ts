// `npm run lint:openapi`: prints every Spectral finding on the served OpenAPI documents and fails on any error.
import { lintOpenApi, servedDocuments } from './openapi-lint.ts';

let errors = 0;
for (const [version, text] of await servedDocuments()) {
  const findings = await lintOpenApi(text, `/${version}/openapi.json`);
  for (const { severity, rule, path, message } of findings) console.log(`${severity} ${rule} ${path} ${message}`);
  const count = (severity: string) => findings.filter((finding) => finding.severity === severity).length;
  errors += count('error');
  console.log(
    `/${version}/openapi.json: ${count('error')} errors, ${count('warning')} warnings, ${count('info')} infos`,
  );
}
process.exitCode = errors > 0 ? 1 : 0;
