import type { HttpRequest } from './serve';

/*
 * The HTTP request inside a Lambda event: a Function URL (payload 2.0) or an
 * API Gateway REST proxy (payload 1.0). Bodies may come base64-encoded.
 */

interface HttpEvent {
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
  readonly headers?: Readonly<Record<string, string | undefined>> | null;
  readonly httpMethod?: string;
  readonly requestContext?: { readonly requestId?: string; readonly http?: { readonly method?: string } };
}

/** The request of a Function URL or API Gateway event; `fallbackId` names it when the event carries no request id. */
export function httpRequest(event: unknown, fallbackId: string): HttpRequest {
  const e = (event ?? {}) as HttpEvent;
  const method = (e.requestContext?.http?.method ?? e.httpMethod ?? 'POST').toUpperCase();
  const headers = e.headers ?? {};
  const contentType = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
  const body = typeof e.body === 'string' ? (e.isBase64Encoded ? Buffer.from(e.body, 'base64').toString('utf8') : e.body) : undefined;
  return { method, ...(body !== undefined ? { body } : {}), ...(contentType ? { contentType } : {}), requestId: e.requestContext?.requestId ?? fallbackId };
}
