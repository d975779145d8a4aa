// The API client: every call carries the signed-in token as a bearer header
// (never in a URL) and turns error bodies into readable messages.

const STORAGE_KEY = 'tokend.console.token';

export function storedSecret() {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function storeSecret(secret) {
  sessionStorage.setItem(STORAGE_KEY, secret);
}

export function forgetSecret() {
  sessionStorage.removeItem(STORAGE_KEY);
}

// A failed call: `status` is the HTTP status (0 when no answer came: the
// server could not be reached, or the request could not even be made),
// `message` is written for people.
export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, { body, secret, query } = {}) {
  const token = secret ?? storedSecret();
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
    }
    const text = params.toString();
    if (text) url += `?${text}`;
  }
  const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  // Building the request first tells a request the browser refuses to make
  // (a header value outside ISO-8859-1, which only the token can bring) from
  // a network failure: fetch rejects both with the same TypeError.
  let request;
  try {
    request = new Request(url, init);
  } catch {
    throw new ApiError(0,
      'The token could not be sent: it holds a character no tokend token has. ' +
      'Sign out, then sign in with the token exactly as it was shown.', 'unsendable');
  }
  let response;
  try {
    response = await fetch(request);
  } catch {
    throw new ApiError(0, 'The server could not be reached. Check that tokend is running, then try again.');
  }
  const text = await response.text();
  let data = null;
  let readable = true;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      readable = false;
    }
  }
  if (!response.ok) {
    const message =
      data && typeof data.message === 'string' && data.message
        ? data.message
        : `The server answered ${response.status} ${response.statusText}.`;
    throw new ApiError(response.status, message, data && data.code);
  }
  // A success that is not JSON (a proxy's or a portal's page answered in
  // tokend's stead) must fail here, not deep in a screen that reads it.
  if (!readable) throw unreadable(response.status);
  return data;
}

function unreadable(status) {
  return new ApiError(status,
    'The server\'s answer could not be read: it is not what tokend sends. ' +
    'Something between this browser and tokend (a proxy, a login page) may have answered instead.',
    'unreadable');
}

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
const isToken = (value) => isObject(value) && typeof value.id === 'string' && typeof value.type === 'string';
const isPage = (value) =>
  isObject(value) && Array.isArray(value.content) && value.content.every(isObject) &&
  Number.isInteger(value.totalPages) && Number.isInteger(value.totalElements);
const isSecret = (value) => isToken(value) && typeof value.token === 'string' && value.token !== '';

// Resolves to the answer when it has the shape a screen reads, and fails
// like an unreadable answer otherwise.
async function shaped(answer, valid) {
  const data = await answer;
  if (!valid(data)) throw unreadable(200);
  return data;
}

const enc = encodeURIComponent;

export const api = {
  self: (secret) => shaped(call('GET', '/api/v2/token/self', { secret }), isToken),
  policy: () => shaped(call('GET', '/api/v2/token/policy'), isObject),
  query: (query) => shaped(call('GET', '/api/v2/token/query', { query }), isPage),
  get: (id) => shaped(call('GET', `/api/v2/token/${enc(id)}`), isToken),
  create: (request) => shaped(call('POST', '/api/v2/token', { body: request }), isSecret),
  revoke: (id) => call('DELETE', `/api/v2/token/${enc(id)}`),
  rotate: (id, body) => shaped(call('POST', `/api/v2/token/${enc(id)}/rotate`, { body }), isSecret),
  // The signed-in token's own rotation needs no permission and is bounded
  // by its own lifetime, where /{id}/rotate holds the new token to the
  // caller's expiry and permissions like a create.
  rotateSelf: (body) => shaped(call('POST', '/api/v2/token/self/rotate', { body }), isSecret),
  audit: (query) => shaped(call('GET', '/api/v2/token/audit', { query }), isPage),
};
