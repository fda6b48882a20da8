// Requests Node's HTTP parser refuses before Fastify sees them (malformed HTTP, headers over 16 KiB, a request too
// slow to arrive) still get the error envelope and a request id, written to the socket, and the connection closes.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { ApiError } from '../kernel/errors.ts';
import { newId } from '../kernel/ids.ts';
import { envelopeOf } from './error-envelope.ts';

/** What every operation may answer before any route runs; the OpenAPI documents show these as they are. */
export const headersTooLarge = new ApiError(
  'HEADERS_TOO_LARGE',
  'The request line and headers are larger than the 16 KiB this server reads.',
);
export const requestTimeout = new ApiError('REQUEST_TIMEOUT', 'The request did not arrive in time.');

const parserErrors: Record<string, ApiError> = {
  HPE_HEADER_OVERFLOW: headersTooLarge,
  ERR_HTTP_REQUEST_TIMEOUT: requestTimeout,
};
const malformed = new ApiError('MALFORMED_REQUEST', 'The request is not well-formed HTTP.');

export function clientErrorHandler(publicUrl: string) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    // A peer that went away cannot be answered.
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const apiError = parserErrors[error.code ?? ''] ?? malformed;
    const requestId = newId('req');
    const body = JSON.stringify(envelopeOf(apiError, requestId, publicUrl));
    socket.end(
      `HTTP/1.1 ${apiError.status} ${STATUS_CODES[apiError.status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  };
}
