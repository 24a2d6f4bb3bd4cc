import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, type ErrorCode, type ErrorDetail, errorCodes } from '../errors.ts';

/** The one error envelope, as JSON text. */
export function errorBody(error: ApiError, requestId: string): string {
  return JSON.stringify({
    success: false,
    error: error.message,
    code: error.code,
    details: error.details ?? [],
    request_id: requestId,
  });
}

/** Every error response, from any route or hook, goes through here (or errorBody). */
export function sendError(reply: FastifyReply, request: FastifyRequest, error: ApiError): FastifyReply {
  if (error.headers) reply.headers(error.headers);
  return reply.code(error.status).type('application/json; charset=utf-8').send(errorBody(error, request.id));
}

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_VALIDATION: 'invalid_request',
};

/** Maps anything thrown to an ApiError; faults we did not foresee become a bare 500 (logged, never echoed). */
/** How the database reports its own troubles (see DialectAdapter). */
export interface DatabaseFaults {
  isUnavailable(error: unknown): boolean;
  isStorageFull(error: unknown): boolean;
}

export function toApiError(error: unknown, faults: DatabaseFaults): ApiError {
  if (error instanceof ApiError) return error;
  const fastifyError = error as Partial<FastifyError>;
  const mapped = fastifyError.code ? fastifyCodes[fastifyError.code] : undefined;
  if (mapped) {
    const details: ErrorDetail[] =
      mapped === 'invalid_request' && fastifyError.message
        ? [{ field: '(request)', error: fastifyError.message }]
        : [];
    return new ApiError(mapped, { details });
  }
  if (faults.isStorageFull(error)) return new ApiError('storage_full');
  if (faults.isUnavailable(error)) {
    return new ApiError('service_unavailable', { headers: { 'Retry-After': '2' } });
  }
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 404) return new ApiError('not_found');
    if (status === 413) return new ApiError('payload_too_large');
    if (status === 415) return new ApiError('unsupported_media_type');
    return new ApiError('invalid_request', { message: errorCodes.invalid_request.message });
  }
  return new ApiError('internal_error');
}

export function registerErrorHandling(app: FastifyInstance, faults: DatabaseFaults): void {
  app.setErrorHandler((error, request, reply) => {
    const apiError = toApiError(error, faults);
    if (apiError.status >= 500) request.log.error({ err: error, request_id: request.id }, 'request failed');
    return sendError(reply, request, apiError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      request,
      new ApiError('not_found', { message: `No route for ${request.method} ${request.url.split('?')[0]}` }),
    ),
  );
}
