// Turns an ApiError into the wire: the CONTRACT's JSON envelope, or an RFC 9457 problem document on request.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiError, ErrorCode } from '../kernel/errors.ts';
import type { ErrorEnvelope } from '../kernel/schemas.ts';

const titles: Record<ErrorCode, string> = {
  VALIDATION_ERROR: 'The request is not valid',
  MALFORMED_REQUEST: 'The request could not be read',
  AUTHENTICATION_REQUIRED: 'Authentication is required',
  INSUFFICIENT_PERMISSIONS: 'Not allowed',
  RESOURCE_NOT_FOUND: 'Not found',
  METHOD_NOT_ALLOWED: 'Method not allowed',
  NOT_ACCEPTABLE: 'No acceptable representation',
  CONFLICT: 'Conflict',
  INVALID_STATE_TRANSITION: 'Invalid state transition',
  PRECONDITION_FAILED: 'Precondition failed',
  PAYLOAD_TOO_LARGE: 'Payload too large',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported media type',
  PRECONDITION_REQUIRED: 'Precondition required',
  RATE_LIMITED: 'Too many requests',
  INTERNAL_ERROR: 'Internal error',
  SERVICE_UNAVAILABLE: 'Service unavailable',
};

export const documentationUrl = (publicUrl: string, code: ErrorCode): string => `${publicUrl}/docs/errors#${code}`;

export function envelopeOf(error: ApiError, requestId: string, publicUrl: string): ErrorEnvelope {
  return {
    error: {
      code: error.code,
      message: error.message,
      details: error.details,
      requestId,
      documentationUrl: documentationUrl(publicUrl, error.code),
    },
  };
}

/** RFC 9457 §3: `type` names the problem; `code`, `errors` and `requestId` are extension members. */
function problemOf(error: ApiError, request: FastifyRequest, publicUrl: string) {
  return {
    type: documentationUrl(publicUrl, error.code),
    title: titles[error.code],
    status: error.status,
    detail: error.message,
    instance: request.url,
    code: error.code,
    errors: error.details,
    requestId: request.id,
  };
}

const wantsProblem = (request: FastifyRequest): boolean =>
  (request.headers.accept ?? '').toLowerCase().includes('application/problem+json');

/** Sends the error already serialized, so no route's success schema can reshape it. */
export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  error: ApiError,
  publicUrl: string,
): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  reply.code(error.status);
  if (wantsProblem(request)) {
    return reply
      .type('application/problem+json; charset=utf-8')
      .send(JSON.stringify(problemOf(error, request, publicUrl)));
  }
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(envelopeOf(error, request.id, publicUrl)));
}
