// Every failure, on every path, becomes the one error model: framework errors are translated, unknown errors
// become a 500 that says only "internal error" and the request id, while the log keeps the rest.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, type ErrorCode, isApiError } from '../kernel/errors.ts';
import { sendError } from './error-envelope.ts';
import { validationDetails } from './validation.ts';

const frameworkCodes: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'This endpoint takes application/json bodies.'],
  FST_ERR_CTP_BODY_TOO_LARGE: ['PAYLOAD_TOO_LARGE', 'The body is larger than the 1 MiB this API accepts.'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['MALFORMED_REQUEST', 'The body is empty but its Content-Type says JSON.'],
  FST_ERR_CTP_INVALID_JSON_BODY: ['MALFORMED_REQUEST', 'The body is not valid JSON.'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['MALFORMED_REQUEST', 'Content-Length does not match the body.'],
  FST_ERR_BAD_URL: ['MALFORMED_REQUEST', 'The URL is not validly encoded.'],
};

const statusCodes: Record<number, ErrorCode> = {
  400: 'MALFORMED_REQUEST',
  404: 'RESOURCE_NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

/** Maps anything thrown to an ApiError; `null` means it is ours to hide (a 500). */
export function toApiError(error: FastifyError | Error): ApiError | null {
  if (isApiError(error)) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const part = fastifyError.validationContext ?? 'body';
    const details = validationDetails(fastifyError.validation, part);
    const summary = details.map((d) => d.message).join(' ');
    return new ApiError('VALIDATION_ERROR', `The request is not valid: ${summary}`, { details });
  }
  const known = fastifyError.code ? frameworkCodes[fastifyError.code] : undefined;
  if (known) return new ApiError(known[0], known[1]);
  // JSON.parse failures and prototype-poisoning refusals arrive as SyntaxError with status 400.
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) {
    return new ApiError('MALFORMED_REQUEST', 'The body is not valid JSON.');
  }
  const status = fastifyError.statusCode;
  const code = status === undefined ? undefined : statusCodes[status];
  if (code) return new ApiError(code, fastifyError.message);
  return null;
}

export function installErrorHandler(app: FastifyInstance, publicUrl: string): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const apiError = toApiError(error);
    if (apiError) {
      if (apiError.status >= 500) request.log.error({ err: error }, 'request failed');
      return sendError(request, reply, apiError, publicUrl);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendError(
      request,
      reply,
      new ApiError('INTERNAL_ERROR', `An internal error occurred. Quote request id ${request.id} when you report it.`),
      publicUrl,
    );
  });
}
