import { DEFAULT_CATALOG } from '../../domain/index.js';
import { httpHandler, routeOf } from '../lib/http.js';
import { catalogView } from '../lib/views.js';

/** GET /v1/catalog (anyone authenticated): plans, packs and rates in credits and US dollars, and the catalog version. */
const body = catalogView(DEFAULT_CATALOG);

export const handler = httpHandler({
  route: routeOf('GET', '/v1/catalog'),
  handle: async () => ({ statusCode: 200, body }),
});
