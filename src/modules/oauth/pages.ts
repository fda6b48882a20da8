// The sign-in and consent pages a browser sees during the authorization code flow: plain server-rendered forms,
// every value escaped, no script at all, and a Content-Security-Policy that allows only the one style block.
import { createHash } from 'node:crypto';

const escapeMap: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => escapeMap[c] ?? c);

const style = `body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#1d1d1f}
label{display:block;margin:.8rem 0 .3rem}input{width:100%;padding:.5rem;box-sizing:border-box}
button{margin:1rem .5rem 0 0;padding:.5rem 1.2rem}.error{color:#b00020}li{margin:.2rem 0}`;

/**
 * No form-action directive: browsers apply it to the redirects that follow a form post, and the flow ends with a
 * redirect to the client's own site.
 */
export const pageSecurityPolicy = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'`,
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · Portico</title><style>${style}</style></head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

const errorLine = (error?: string) => (error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '');

export function loginPage(input: { action: string; clientName: string; email?: string; error?: string }): string {
  return page(
    'Sign in',
    `<p>Sign in to continue to <strong>${escapeHtml(input.clientName)}</strong>.</p>
${errorLine(input.error)}
<form method="post" action="${escapeHtml(input.action)}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="${escapeHtml(input.email ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`,
  );
}

export function consentPage(input: {
  confirm: string;
  abort: string;
  clientName: string;
  scopes: readonly string[];
}): string {
  const list =
    input.scopes.length > 0
      ? `<ul>${input.scopes.map((scope) => `<li><code>${escapeHtml(scope)}</code></li>`).join('')}</ul>`
      : '<p>No access to your data.</p>';
  return page(
    'Allow access?',
    `<p><strong>${escapeHtml(input.clientName)}</strong> asks for:</p>
${list}
<form method="post" action="${escapeHtml(input.confirm)}"><button type="submit">Allow</button></form>
<form method="post" action="${escapeHtml(input.abort)}"><button type="submit">Deny</button></form>`,
  );
}

export function errorPage(message: string): string {
  return page('Sign-in failed', `${errorLine(message)}<p>Go back to the application and start again.</p>`);
}
