// Renders docs/errors.md as the HTML page that every error's documentationUrl points into, one anchor per code.
import { sha256Source } from '../../edge/security-headers.ts';

const escapeHtml = (text: string): string =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

const inline = (text: string): string => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');

const style =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}h2{margin-top:2rem}';

/** The page has no script, and its one style block is allowed by its hash. */
export const errorsPageSecurityPolicy = [
  "default-src 'none'",
  `style-src ${sha256Source(style)}`,
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** Understands the little Markdown errors.md uses: headings, paragraphs and inline code. */
export function renderErrorsPage(markdown: string): string {
  const blocks = markdown
    .split(/\n\s*\n/)
    .map((block) => block.trim())
    .filter((block) => block.length > 0);
  const body = blocks
    .map((block) => {
      const heading = /^(#{1,3}) (.+)$/.exec(block);
      if (heading) {
        const level = heading[1]?.length ?? 1;
        const text = heading[2] ?? '';
        const id = /^[A-Z_]+$/.test(text) ? ` id="${text}"` : '';
        return `<h${level}${id}>${inline(text)}</h${level}>`;
      }
      return `<p>${inline(block.replace(/\n/g, ' '))}</p>`;
    })
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Portico errors</title>
<style>${style}</style>
</head><body>${body}</body></html>`;
}
