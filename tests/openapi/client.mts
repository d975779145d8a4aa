// A client generated from the OpenAPI document (types by openapi-typescript,
// calls by openapi-fetch), compiled strict, against a running tokend: create,
// query, introspect and delete. The base URL is the validating proxy's, so
// every call is also checked against the document (its `sl-violations`
// header must be absent).
import createClient from 'openapi-fetch';
import type { paths } from './schema.js';

// The two members of node's `process` used here (no @types/node needed).
declare const process: { env: Record<string, string | undefined>; pid: number };

const baseUrl = process.env.TOKEND_URL;
const secret = process.env.TOKEND_SECRET;
if (!baseUrl || !secret) throw new Error('TOKEND_URL and TOKEND_SECRET are required');

const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${secret}` } });

function check(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`generated client: ${what}`);
}

function noViolations(response: Response, call: string): void {
  const violations = response.headers.get('sl-violations');
  check(violations === null, `${call}: the document does not describe the exchange: ${violations}`);
}

const principal = `client-${process.pid}`;

const created = await client.POST('/api/v2/token', {
  body: { type: 'user', name: 'generated client', principal, permissions: ['workflow/read'] },
});
noViolations(created.response, 'create');
check(created.data, `create answered ${created.response.status}`);
const { id, token } = created.data;
check(/^[0-9a-f]{24}$/.test(id) && token.startsWith('bfu_'), 'create: id and secret');

const page = await client.GET('/api/v2/token/query', {
  params: { query: { types: ['user,session'], principals: [principal], order: 'desc', limit: 10 } },
});
noViolations(page.response, 'query');
check(page.data, `query answered ${page.response.status}`);
check(page.data.totalElements === 1 && page.data.content[0]?.id === id, 'query finds the new token');

const active = await client.POST('/api/v2/token/introspect', { body: { token } });
noViolations(active.response, 'introspect');
check(active.data?.active === true && active.data.id === id, 'introspect: active');

const deleted = await client.DELETE('/api/v2/token/{id}', { params: { path: { id } } });
noViolations(deleted.response, 'delete');
check(deleted.response.status === 200, `delete answered ${deleted.response.status}`);

const inactive = await client.POST('/api/v2/token/introspect', { body: { token } });
noViolations(inactive.response, 'introspect after delete');
check(inactive.data?.active === false, 'introspect after delete: inactive');

const gone = await client.GET('/api/v2/token/{id}', { params: { path: { id } } });
noViolations(gone.response, 'get after delete');
check(gone.response.status === 404 && gone.error?.code === 9001, 'get after delete: 404');

console.log('generated client: create, query, introspect, delete: ok');
