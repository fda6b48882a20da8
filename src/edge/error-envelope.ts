// Turns an ApiError into the wire: the CONTRACT's JSON envelope, or an RFC 9457 problem document on request.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiError, ErrorCode } from '../kernel/errors.ts';
import { ErrorDetail, ErrorEnvelope, Problem } from '../kernel/schemas.ts';

const titles: Record<ErrorCode, string> = {
  VALIDATION_ERROR: 'The request is not valid',
  MALFORMED_REQUEST: 'The request could not be read',
  AUTHENTICATION_REQUIRED: 'Authentication is required',
  INSUFFICIENT_PERMISSIONS: 'Not allowed',
  RESOURCE_NOT_FOUND: 'Not found',
  METHOD_NOT_ALLOWED: 'Method not allowed',
  NOT_ACCEPTABLE: 'No acceptable representation',
  REQUEST_TIMEOUT: 'Request timeout',
  CONFLICT: 'Conflict',
  INVALID_STATE_TRANSITION: 'Invalid state transition',
  PRECONDITION_FAILED: 'Precondition failed',
  PAYLOAD_TOO_LARGE: 'Payload too large',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported media type',
  IDEMPOTENCY_KEY_MISMATCH: 'Idempotency-Key reused for another request',
  HEADERS_TOO_LARGE: 'Request header fields too large',
  RATE_LIMITED: 'Too many requests',
  INTERNAL_ERROR: 'Internal error',
  SERVICE_UNAVAILABLE: 'Service unavailable',
};

// Messages echo client input (an unknown field's name, a path): keep them within the lengths the schemas promise,
// so a 3,000-character key or 10,000 unknown fields cannot swell an error beyond what the OpenAPI document says.
const limitOf = (schema: object, keyword: 'maxLength' | 'maxItems'): number =>
  Number((schema as Record<string, unknown>)[keyword]);
const envelope = ErrorEnvelope.properties.error.properties;
const bounds = {
  message: limitOf(envelope.message, 'maxLength'),
  details: limitOf(envelope.details, 'maxItems'),
  field: limitOf(ErrorDetail.properties.field, 'maxLength'),
  detailMessage: limitOf(ErrorDetail.properties.message, 'maxLength'),
  detail: limitOf(Problem.properties.detail, 'maxLength'),
  instance: limitOf(Problem.properties.instance, 'maxLength'),
};

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

const boundedDetails = (error: ApiError) =>
  error.details.slice(0, bounds.details).map((detail) => ({
    field: clip(detail.field, bounds.field),
    message: clip(detail.message, bounds.detailMessage),
    code: detail.code,
  }));

export const documentationUrl = (publicUrl: string, code: ErrorCode): string => `${publicUrl}/docs/errors#${code}`;

export function envelopeOf(error: ApiError, requestId: string, publicUrl: string): ErrorEnvelope {
  return {
    error: {
      code: error.code,
      message: clip(error.message, bounds.message),
      details: boundedDetails(error),
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
    detail: clip(error.message, bounds.detail),
    instance: clip(request.url, bounds.instance),
    code: error.code,
    errors: boundedDetails(error),
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
  // Errors raised before the onRequest hooks (a badly encoded URL) must carry the id too (CONTRACT: Headers).
  reply.header('x-request-id', request.id);
  reply.code(error.status);
  if (wantsProblem(request)) {
    return reply
      .type('application/problem+json; charset=utf-8')
      .send(JSON.stringify(problemOf(error, request, publicUrl)));
  }
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(envelopeOf(error, request.id, publicUrl)));
}
