// The optional plain-HTTP listener (HTTP_REDIRECT_PORT): every request is answered with a 308 to the same path on the
// HTTPS URL, which a client repeats with the same method and body (RFC 9110 §15.4.9). Nothing is served over plain
// HTTP, and no Strict-Transport-Security is sent here (RFC 6797 §7.2).
import { createServer, type Server } from 'node:http';

export function httpsRedirectServer(publicUrl: string): Server {
  return createServer((request, response) => {
    // An absolute-form target (`GET http://elsewhere/`) is not a path of ours: it goes to the root.
    const path = request.url?.startsWith('/') ? request.url : '/';
    response.writeHead(308, { location: `${publicUrl}${path}`, 'content-length': '0', connection: 'close' });
    response.end();
  });
}
