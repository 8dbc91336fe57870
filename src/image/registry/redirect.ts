// Redirect following for registry requests. Registries commonly answer blob requests with a
// redirect to object storage (S3, GCS, a CDN) holding a pre-signed URL. The Authorization
// header is meant for the registry only: it is dropped as soon as a hop leaves the origin
// (scheme, host and port) of the original request, and never restored on later hops, so a
// credential cannot leak to storage, and a pre-signed URL is not confused by a second
// authorization.

import { SkiffError } from '../../errors.js';
import { header, type HttpRequest, type Send } from './transport.js';

export const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Wraps `next` so that redirects are followed, up to `max` hops. */
export function followRedirects(next: Send, max = MAX_REDIRECTS): Send {
  return async (original) => {
    let req: HttpRequest = original;
    for (let hop = 0; ; hop++) {
      const res = await next(req);
      if (!REDIRECT_STATUSES.has(res.status)) return res;
      const location = header(res, 'location');
      await res.body.dump().catch(() => undefined);
      if (location === undefined) {
        throw new SkiffError('Unavailable', `${req.url.host} answered ${res.status} without a Location header`);
      }
      if (hop >= max) {
        throw new SkiffError('Unavailable', `too many redirects (more than ${max}) fetching ${original.url.href}`);
      }
      const target = new URL(location, req.url);
      if (target.protocol !== 'http:' && target.protocol !== 'https:') {
        throw new SkiffError('Unavailable', `${req.url.host} redirected to unsupported URL scheme ${target.protocol}`);
      }
      const headers = { ...req.headers };
      if (target.origin !== original.url.origin) delete headers['authorization'];
      // 303 always turns into GET; 301/302 do too for a POST, as browsers and Go do.
      const toGet = res.status === 303 || (req.method === 'POST' && (res.status === 301 || res.status === 302));
      req = toGet
        ? { ...req, url: target, method: 'GET', headers: withoutBodyHeaders(headers), body: undefined }
        : { ...req, url: target, headers };
    }
  };
}

function withoutBodyHeaders(h: Record<string, string>): Record<string, string> {
  const out = { ...h };
  delete out['content-type'];
  delete out['content-length'];
  return out;
}
