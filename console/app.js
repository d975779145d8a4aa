// The tokend console: sign-in, the token list, create, the one-time secret,
// details, rotate, revoke and sign-out. Screens are chosen by the URL's hash
// (#/tokens, #/create, #/token/<id>); the secret of the signed-in token lives
// only in sessionStorage and travels only in the Authorization header.

import { api, ApiError, forgetSecret, storeSecret, storedSecret } from './api.js';
import { h, plainText, replace, uid, user } from './dom.js';
import { dayOf, duration, formatDate, relative, startOfDay, tokenState } from './format.js';

const RESOURCES = [
  'system', 'workflow', 'workflowrun', 'workflowtemplate', 'taskrun', 'task', 'action', 'user',
  'team', 'token', 'parameter', 'schedule', 'insights', 'integration', 'webhook', '**',
];
const ACTIONS = ['read', 'write', 'action', 'delete', '**'];
const CREATE_TYPES = ['team', 'user', 'workflow', 'global'];
const ALL_TYPES = ['global', 'team', 'workflow', 'user', 'session'];
const ROLES = {
  global: { admin: 'admin: everything', operator: 'operator: read, write, action' },
  team: {
    owner: 'owner: everything',
    editor: 'editor: read, write, action',
    reader: 'reader: read only',
  },
};
const PAGE_SIZES = [10, 20, 50, 100];
const OVERLAPS = [0, 300, 3600, 86400, 604800];
const TOKEN_ID = /^[0-9a-f]{24}$/;
// The API's limits, in Unicode code points.
const NAME_LIMIT = 256;
const DESCRIPTION_LIMIT = 1024;

const view = document.getElementById('view');
const alertBox = document.getElementById('alert');
const statusBox = document.getElementById('status');
const nav = document.getElementById('nav');
const whoami = document.getElementById('whoami');

const LIST_DEFAULTS = { type: '', principal: '', lastUsedBefore: '', sort: 'creationDate', order: 'DESC', page: 0, size: 20 };

const state = {
  self: null,
  policy: null,
  list: { ...LIST_DEFAULTS },
};

// Trims what the server itself counts as whitespace (ASCII space, tab, LF,
// VT, FF, CR) and trims its `principals` items of: a non-breaking or
// ideographic space at the ends of a principal is part of it.
function trimAscii(text) {
  return text.replace(/^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g, '');
}

// ---- messages ------------------------------------------------------------

function showError(message) {
  alertBox.textContent = message;
  alertBox.hidden = false;
}

function clearMessages() {
  alertBox.textContent = '';
  alertBox.hidden = true;
  statusBox.textContent = '';
}

// `parts`: text, and user strings made with user().
function announce(...parts) {
  replace(statusBox, ...parts);
}

// A call failed: a token that is no longer accepted ends the session,
// anything else is shown in the alert.
function failed(error) {
  if (error instanceof ApiError && error.status === 401) {
    signOut('Your session ended: the token is no longer accepted (it expired or was revoked). Sign in with a valid token.');
    return;
  }
  showError(error instanceof ApiError ? error.message : `Something went wrong: ${error.message}`);
}

// Puts a screen in place and moves focus to its heading, so keyboard and
// screen reader users start at the top of the new screen. `title` is text,
// or an array of text and user strings made with user().
// Each screen put in place (or begun, by loading) has a number: a screen
// whose data arrives after another took its place leaves that one alone.
let screen = 0;

function show(title, ...content) {
  screen += 1;
  const heading = h('h1', { tabindex: '-1', class: 'screen-title' }, title);
  replace(view, heading, ...content);
  document.title = `${plainText(title)} · tokend console`;
  heading.focus();
  return heading;
}

// Begins a screen whose data is on its way; returns its number, to check
// with stillShown once the data is there.
function loading(title) {
  screen += 1;
  replace(view, h('h1', { class: 'screen-title' }, title), h('p', { class: 'muted' }, 'Loading…'));
  return screen;
}

function stillShown(ticket) {
  return ticket === screen;
}

// ---- session -------------------------------------------------------------

function signedIn(self) {
  state.self = self;
  nav.hidden = false;
  replace(whoami, 'Signed in as ', user(self.name),
    ` (${self.type}`, self.principal ? [': ', user(self.principal)] : null, ')');
}

// This console's other tabs of the same origin: a duplicated tab holds the
// same secret in its own sessionStorage, and once this tab rotates that
// token away the other tab would present the retired secret, which the
// server takes for reuse, revoking the whole family. A tab takes the
// successor's secret only when it holds the retired one, so no tab learns
// a secret whose token it could not already use.
const otherTabs = typeof BroadcastChannel === 'function' ? new BroadcastChannel('tokend.console') : null;

function tellOtherTabs(retired, rotated, from) {
  otherTabs?.postMessage({
    kind: 'rotated', retired, secret: rotated.token, id: rotated.id,
    expirationDate: rotated.expirationDate ?? null, rotatedFrom: from,
  });
}

otherTabs?.addEventListener('message', (event) => {
  const message = event.data;
  if (message?.kind !== 'rotated' || typeof message.secret !== 'string' || !message.secret) return;
  if (!message.retired || storedSecret() !== message.retired) return;
  storeSecret(message.secret);
  if (state.self) {
    state.self = { ...state.self, id: message.id, expirationDate: message.expirationDate, rotatedFrom: message.rotatedFrom };
  }
  announce('The token you are signed in with was rotated in another tab; this tab now uses the new one.');
});

function signOut(message) {
  forgetSecret();
  state.self = null;
  state.policy = null;
  state.list = { ...LIST_DEFAULTS };
  nav.hidden = true;
  whoami.textContent = '';
  if (location.hash) history.replaceState(null, '', location.pathname);
  renderSignIn();
  if (message) showError(message);
}

function renderSignIn(note) {
  const fieldId = uid('token');
  const input = h('input', {
    id: fieldId, name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
    autocapitalize: 'off', class: 'input mono', 'aria-describedby': `${fieldId}-hint`,
  });
  const form = h('form', { class: 'card narrow', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: fieldId }, 'Token'),
      input,
      h('p', { class: 'hint', id: `${fieldId}-hint` },
        'Paste a tokend token. It stays in this tab only and is forgotten when you sign out or close the tab.')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Sign in')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    const secret = trimAscii(input.value);
    if (!secret) {
      showError('Paste a token into the Token field to sign in.');
      input.focus();
      return;
    }
    // A tokend secret is printable ASCII. Anything else (an accent, a
    // non-breaking or zero-width space picked up by a copy) cannot be one,
    // and most such characters the browser would not even put in a header.
    if (/[^\x21-\x7e]/.test(secret)) {
      showError('This is not a tokend token: it holds a space, an accented, invisible or other character ' +
        'outside printable ASCII, which no token has. Paste the token exactly as it was shown.');
      input.focus();
      input.select();
      return;
    }
    try {
      const self = await api.self(secret);
      storeSecret(secret);
      input.value = '';
      signedIn(self);
      // The screen the address names (a link opened in a new tab) comes
      // after the sign-in it asked for; any other address is the list's.
      if (knownRoute(location.hash)) renderRoute();
      else location.hash = '#/tokens';
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        showError('This token was not accepted: it is unknown, expired or revoked. Check it and try again.');
      } else {
        failed(error);
      }
      input.focus();
      input.select();
    }
  });
  show('Sign in', h('p', { class: 'lead' }, 'Manage tokend tokens: create, inspect, rotate and revoke them.'), form);
  if (note) announce(note);
  input.focus();
}

async function policy() {
  if (!state.policy) state.policy = await api.policy();
  return state.policy;
}

// ---- list ----------------------------------------------------------------

function stateBadge(token) {
  const s = tokenState(token);
  return h('span', { class: `badge badge-${s.key}` }, s.label);
}

function selectField(label, options, value, onChange, extra = {}) {
  const id = uid('field');
  const select = h('select', { id, class: 'input', ...extra },
    options.map(([optionValue, text]) => {
      const option = h('option', { value: optionValue }, text);
      if (optionValue === value) option.selected = true;
      return option;
    }));
  select.addEventListener('change', () => onChange(select.value));
  return h('div', { class: 'field' }, h('label', { for: id }, label), select);
}

// A date field typed by keyboard changes its value once per part typed
// (0002-12-25, 0020-12-25, ... on the way to 2026-12-25): while the field
// is being typed in, only a day from 1970 on counts as meant.
function plausibleDay(day) {
  const millis = startOfDay(day);
  return millis !== null && millis >= 0;
}

// The list screen: its heading, toolbar and filters stay in place while
// the rows and the pager below them reload, so that a filter being edited
// (a date half typed) is never rebuilt under the person's hands.
function renderList() {
  const list = state.list;
  const results = h('div', { class: 'results' });
  // Which page control asked for the load under way, to give it the focus
  // back once the pager holding it is rebuilt.
  let focusKey;
  let loads = 0;
  let listed = null;

  const reload = (change, focus) => {
    // A field left as another screen replaces this one (blur) changes
    // nothing there.
    if (listed !== screen) return;
    Object.assign(list, change);
    focusKey = focus;
    clearMessages();
    load();
  };

  const principalId = uid('field');
  const principal = h('input', {
    id: principalId, class: 'input', type: 'search', value: list.principal, autocomplete: 'off',
    placeholder: 'any',
  });
  const applyPrincipal = () => {
    const value = trimAscii(principal.value);
    // The API splits `principals` at every comma and has no escape, so a
    // principal holding one would silently match others.
    if (value.includes(',')) {
      showError('Principal: a principal containing a comma cannot be filtered; the list is unchanged.');
      principal.setAttribute('aria-invalid', 'true');
      principal.focus();
      return;
    }
    if (principal.hasAttribute('aria-invalid')) {
      principal.removeAttribute('aria-invalid');
      clearMessages();
    }
    if (value !== list.principal) reload({ principal: value, page: 0 });
  };
  principal.addEventListener('change', applyPrincipal);
  principal.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      applyPrincipal();
    }
  });
  const lastUsedId = uid('field');
  const lastUsed = h('input', {
    id: lastUsedId, class: 'input', type: 'date', value: list.lastUsedBefore,
    'aria-describedby': `${lastUsedId}-hint`,
  });
  // A change applies an emptied field or a plausible day; leaving the field
  // or Enter applies any whole day. A field typed in part (badInput) waits.
  const applyLastUsed = (typing) => {
    if (lastUsed.validity.badInput) return;
    const value = lastUsed.value;
    if (typing && value && !plausibleDay(value)) return;
    if (value !== list.lastUsedBefore) reload({ lastUsedBefore: value, page: 0 });
  };
  lastUsed.addEventListener('change', () => applyLastUsed(true));
  lastUsed.addEventListener('blur', () => applyLastUsed(false));
  lastUsed.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      applyLastUsed(false);
    }
  });

  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter tokens', novalidate: true },
    selectField('Type', [['', 'All types'], ...ALL_TYPES.map((t) => [t, t])], list.type,
      (value) => reload({ type: value, page: 0 })),
    h('div', { class: 'field' }, h('label', { for: principalId }, 'Principal'), principal),
    h('div', { class: 'field' }, h('label', { for: lastUsedId }, 'Last used before'), lastUsed,
      h('p', { class: 'hint', id: `${lastUsedId}-hint` }, 'Includes tokens never used.')),
    selectField('Sort by', [
      ['creationDate', 'Created'], ['expirationDate', 'Expires'], ['lastUsedDate', 'Last used'],
      ['name', 'Name'], ['type', 'Type'], ['principal', 'Principal'],
    ], list.sort, (value) => reload({ sort: value, page: 0 })),
    selectField('Order', [['DESC', 'Newest / Z first'], ['ASC', 'Oldest / A first']], list.order,
      (value) => reload({ order: value, page: 0 })));
  filters.addEventListener('submit', (event) => event.preventDefault());

  // Puts the rows (or the failure) in place; focus that was on a control
  // of the old rows goes to its successor, or to the heading.
  const place = (...content) => {
    const hadFocus = results.contains(document.activeElement);
    replace(results, ...content);
    results.removeAttribute('aria-busy');
    if (!hadFocus) return;
    let target = focusKey ? results.querySelector(`[data-focus="${focusKey}"]`) : null;
    if (target && target.disabled) {
      target = results.querySelector(`[data-focus="${focusKey === 'next' ? 'previous' : 'next'}"]`);
    }
    if (!target || target.disabled) target = heading;
    target.focus();
  };

  const load = async () => {
    const shown = screen;
    loads += 1;
    const ticket = loads;
    const current = () => shown === screen && ticket === loads;
    results.setAttribute('aria-busy', 'true');
    if (!results.hasChildNodes()) replace(results, h('p', { class: 'muted' }, 'Loading…'));
    const query = { limit: list.size, page: list.page, sort: list.sort, order: list.order };
    if (list.type) query.types = list.type;
    if (list.principal) query.principals = list.principal;
    const before = startOfDay(list.lastUsedBefore);
    if (before !== null) query.lastUsedBefore = before;
    const filtered = list.type || list.principal || list.lastUsedBefore;
    let page;
    try {
      page = await api.query(query);
    } catch (error) {
      if (!current()) return;
      // The filters above stay editable; these undo what may have caused
      // the failure (a filter the server refuses) or try again as it is.
      const retry = h('button', { type: 'button', class: 'button primary', 'data-focus': 'retry' }, 'Try again');
      retry.addEventListener('click', () => reload({}, 'retry'));
      const reset = h('button', { type: 'button', class: 'button' }, 'Clear the filters');
      reset.addEventListener('click', () => {
        clearMessages();
        Object.assign(list, { type: '', principal: '', lastUsedBefore: '', page: 0 });
        renderList();
      });
      focusKey = 'retry';
      place(h('div', { class: 'empty' },
        h('p', {}, 'The tokens could not be loaded.'),
        h('div', { class: 'actions' }, retry, filtered || list.page > 0 ? reset : null)));
      failed(error);
      return;
    }
    if (!current()) return;
    if (page.totalPages > 0 && list.page >= page.totalPages) {
      list.page = page.totalPages - 1;
      load();
      return;
    }
    let body;
    if (page.content.length === 0) {
      body = h('div', { class: 'empty' },
        filtered
          ? h('p', {}, 'No token matches these filters. Clear a filter to see more.')
          : h('p', {}, 'There are no tokens you can see yet. Create one to get started.'));
    } else {
      body = h('div', { class: 'table-wrap' },
        h('table', { class: 'tokens' },
          h('caption', { class: 'visually-hidden' }, 'Tokens'),
          h('thead', {}, h('tr', {},
            ['Name', 'Type', 'Principal', 'State', 'Expires', 'Last used', 'Created'].map((name) =>
              h('th', { scope: 'col' }, name)))),
          h('tbody', {}, page.content.map((token) => h('tr', {},
            h('th', { scope: 'row', class: 'name' }, h('a', { href: `#/token/${encodeURIComponent(token.id)}` }, user(token.name))),
            h('td', { 'data-label': 'Type' }, token.type),
            h('td', { 'data-label': 'Principal' }, token.principal == null ? '—' : user(token.principal)),
            h('td', { 'data-label': 'State' }, stateBadge(token)),
            h('td', { 'data-label': 'Expires' }, token.expirationDate
              ? h('time', { datetime: token.expirationDate, title: formatDate(token.expirationDate) }, relative(token.expirationDate))
              : h('span', { class: 'muted' }, 'Never')),
            h('td', { 'data-label': 'Last used' }, token.lastUsedDate
              ? h('time', { datetime: token.lastUsedDate, title: formatDate(token.lastUsedDate) }, relative(token.lastUsedDate))
              : h('span', { class: 'muted' }, 'Never')),
            h('td', { 'data-label': 'Created' },
              h('time', { datetime: token.creationDate, title: formatDate(token.creationDate) }, relative(token.creationDate))))))));
    }
    const totalPages = Math.max(page.totalPages, 1);
    const previous = h('button', { type: 'button', class: 'button', disabled: list.page <= 0, 'data-focus': 'previous' }, 'Previous page');
    const next = h('button', { type: 'button', class: 'button', disabled: list.page + 1 >= totalPages, 'data-focus': 'next' }, 'Next page');
    previous.addEventListener('click', () => reload({ page: list.page - 1 }, 'previous'));
    next.addEventListener('click', () => reload({ page: list.page + 1 }, 'next'));
    const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' },
      previous,
      h('span', { class: 'pager-text' },
        `Page ${list.page + 1} of ${totalPages} · ${page.totalElements} token${page.totalElements === 1 ? '' : 's'}`),
      next,
      selectField('Rows per page', PAGE_SIZES.map((n) => [String(n), String(n)]), String(list.size),
        (value) => reload({ size: Number(value), page: 0 }, 'size'), { 'data-focus': 'size' }));
    place(body, pager);
  };

  const create = h('button', { type: 'button', class: 'button primary' }, 'Create token');
  create.addEventListener('click', () => { location.hash = '#/create'; });
  const heading = show('Tokens', h('div', { class: 'toolbar' }, create), filters, results);
  listed = screen;
  load();
}

// ---- create --------------------------------------------------------------

async function renderCreate() {
  const ticket = loading('Create token');
  let limits;
  try {
    limits = await policy();
  } catch (error) {
    if (!stillShown(ticket)) return;
    show('Create token', h('p', { class: 'empty' }, 'The expiry policy could not be loaded, so no token can be created now.'));
    failed(error);
    return;
  }
  if (!stillShown(ticket)) return;
  const form = h('form', { class: 'card', novalidate: true });
  const ids = { type: uid('f'), name: uid('f'), principal: uid('f'), description: uid('f'), expires: uid('f'), role: uid('f') };
  const type = h('select', { id: ids.type, class: 'input' }, CREATE_TYPES.map((t) => h('option', { value: t }, t)));
  const name = h('input', { id: ids.name, class: 'input', type: 'text', autocomplete: 'off' });
  const principal = h('input', { id: ids.principal, class: 'input', type: 'text', autocomplete: 'off', 'aria-describedby': `${ids.principal}-hint` });
  const principalHint = h('p', { class: 'hint', id: `${ids.principal}-hint` });
  const description = h('textarea', { id: ids.description, class: 'input', rows: '2' });
  const expires = h('input', { id: ids.expires, class: 'input', type: 'date', 'aria-describedby': `${ids.expires}-hint` });
  const expiresHint = h('p', { class: 'hint', id: `${ids.expires}-hint` });
  const role = h('select', { id: ids.role, class: 'input' });
  const roleField = h('div', { class: 'field' }, h('label', { for: ids.role }, 'Role'), role,
    h('p', { class: 'hint' }, 'A role grants its permissions in addition to those ticked below.'));

  const boxes = new Map();
  const grid = h('table', { class: 'grid' },
    h('caption', {}, 'Permissions'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Resource'),
      ACTIONS.map((action) => h('th', { scope: 'col' }, action === '**' ? 'all (**)' : action)))),
    h('tbody', {}, RESOURCES.map((resource) => h('tr', {},
      h('th', { scope: 'row' }, resource === '**' ? 'all (**)' : resource),
      ACTIONS.map((action) => {
        const permission = `${resource}/${action}`;
        const box = h('input', { type: 'checkbox', 'aria-label': permission, value: permission });
        boxes.set(permission, box);
        return h('td', {}, box);
      })))));

  const update = () => {
    const t = type.value;
    const limit = (limits.types ?? {})[t] ?? {};
    // A chosen day means 00:00 UTC of it: the first allowed is tomorrow,
    // the last the day of now + the maximum, and no later than the day the
    // signed-in token itself expires, since a new token may not outlive its
    // creator. A last day before tomorrow allows no day at all.
    const now = Date.now();
    const first = dayOf(now + 86400000);
    const policyLast = limit.maxLifetimeSeconds ? dayOf(now + limit.maxLifetimeSeconds * 1000) : null;
    const own = state.self?.expirationDate ? Date.parse(state.self.expirationDate) : NaN;
    const ownLast = Number.isNaN(own) ? null : dayOf(own);
    const last = ownLast !== null && (policyLast === null || ownLast < policyLast) ? ownLast : policyLast;
    const noDay = last !== null && last < first;
    expires.disabled = noDay;
    if (noDay) {
      expires.value = '';
      expires.removeAttribute('min');
      expires.removeAttribute('max');
    } else {
      expires.min = first;
      if (last) expires.max = last;
      else expires.removeAttribute('max');
      if (expires.value && last && expires.value > last) expires.value = last;
    }
    // What the server fills in for an empty field, which it then holds
    // against the signed-in token's own expiry like a chosen day.
    const filled = limit.defaultLifetimeSeconds ?? limit.maxLifetimeSeconds ?? null;
    const emptyRefused = ownLast !== null && (filled === null || now + filled * 1000 > own);
    const parts = [];
    const bound = last === ownLast
      ? `Your own token expires ${formatDate(own)}, and a new token may not outlive it`
      : `At most ${duration(limit.maxLifetimeSeconds)} for ${t} tokens`;
    if (noDay) {
      parts.push(emptyRefused
        ? `${bound}, which ends before tomorrow: no day can be chosen, and no token of this type can be created now.`
        : `${bound}, which ends before tomorrow: no day can be chosen, leave the field empty.`);
    } else if (last) {
      parts.push(`${bound}: ${last} at the latest.`);
    }
    if (emptyRefused) {
      if (!noDay) {
        parts.push(filled === null
          ? 'Left empty, the token would never expire, which your own token does: choose a day.'
          : `Left empty, the token would expire in ${duration(filled)}, after your own token: choose a day.`);
      }
    } else if (filled !== null) {
      parts.push(`Left empty: expires in ${duration(filled)}.`);
    } else {
      parts.push('Left empty: never expires.');
    }
    if (!noDay) parts.push('The token expires at 00:00 UTC of the chosen day.');
    expiresHint.textContent = parts.join(' ');
    principal.disabled = t === 'global';
    principalHint.textContent = t === 'global'
      ? 'Global tokens have no principal.'
      : t === 'team' ? 'The team this token acts for.'
        : t === 'user' ? 'The user this token acts as. Without permissions it has all of the user’s.'
          : 'The workflow this token belongs to.';
    const roles = ROLES[t] ?? {};
    replace(role, h('option', { value: '' }, 'No role'),
      Object.entries(roles).map(([value, text]) => h('option', { value }, text)));
    roleField.hidden = Object.keys(roles).length === 0;
  };
  type.addEventListener('change', update);
  update();

  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Create');
  const cancel = h('a', { href: '#/tokens', class: 'button' }, 'Cancel');
  replace(form,
    h('div', { class: 'form-grid' },
      h('div', { class: 'field' }, h('label', { for: ids.type }, 'Type'), type),
      h('div', { class: 'field' }, h('label', { for: ids.name }, 'Name'), name),
      h('div', { class: 'field' }, h('label', { for: ids.principal }, 'Principal'), principal, principalHint),
      h('div', { class: 'field' }, h('label', { for: ids.expires }, 'Expires'), expires, expiresHint),
      h('div', { class: 'field wide' }, h('label', { for: ids.description }, 'Description'), description),
      roleField),
    h('div', { class: 'grid-wrap' }, grid),
    h('div', { class: 'actions' }, submit, cancel));

  // Busy rather than `disabled`, which would take the focus from the
  // button the person pressed and leave it nowhere when the create fails.
  let busy = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy) return;
    clearMessages();
    for (const field of [name, description]) field.removeAttribute('aria-invalid');
    // Checked here rather than with maxlength, which counts UTF-16 units and
    // cuts a paste short without a word; the API counts code points.
    for (const [field, label, limit] of [[name, 'Name', NAME_LIMIT], [description, 'Description', DESCRIPTION_LIMIT]]) {
      const length = [...field.value].length;
      if (length > limit) {
        showError(`${label}: at most ${limit} characters; this one has ${length}.`);
        field.setAttribute('aria-invalid', 'true');
        field.focus();
        return;
      }
    }
    const request = { type: type.value, name: name.value };
    if (type.value !== 'global') request.principal = principal.value;
    if (description.value) request.description = description.value;
    if (expires.value) {
      const millis = startOfDay(expires.value);
      if (millis === null) {
        showError('Expires: choose a day, or leave the field empty.');
        expires.focus();
        return;
      }
      request.expirationDate = millis;
    }
    const permissions = [...boxes.values()].filter((box) => box.checked).map((box) => box.value);
    if (permissions.length) request.permissions = permissions;
    if (role.value && !roleField.hidden) request.role = role.value;
    busy = true;
    submit.setAttribute('aria-disabled', 'true');
    try {
      const created = await api.create(request);
      renderSecret(created, ['Token “', user(request.name), '” created']);
    } catch (error) {
      busy = false;
      submit.removeAttribute('aria-disabled');
      failed(error);
    }
  });
  show('Create token', form);
}

// ---- the one-time secret ---------------------------------------------------

// Shows a new secret once. It exists only in this screen's field: Done
// removes the field, and nothing else keeps it, except the session's
// storage when it succeeds the signed-in token (`note` then says so).
function renderSecret(created, title, note) {
  const fieldId = uid('secret');
  const secret = h('input', {
    id: fieldId, class: 'input mono secret', type: 'text', readonly: true, value: created.token,
    autocomplete: 'off', spellcheck: 'false', 'aria-describedby': `${fieldId}-hint`,
  });
  const copy = h('button', { type: 'button', class: 'button' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret.value);
      announce('The secret was copied to the clipboard.');
    } catch {
      secret.select();
      announce('Copying is not allowed here: the secret is selected, copy it with Ctrl+C.');
    }
  });
  const done = h('button', { type: 'button', class: 'button primary' }, 'Done');
  done.addEventListener('click', () => {
    secret.value = '';
    replace(view);
    clearMessages();
    // A hash change renders the list; only when the hash is already there
    // (no change, no event) is it rendered here.
    if (location.hash === '#/tokens') renderRoute();
    else location.hash = '#/tokens';
  });
  const details = [
    ['Id', created.id],
    ['Type', created.type],
    ['Expires', created.expirationDate ? `${formatDate(created.expirationDate)} (${relative(created.expirationDate)})` : 'Never'],
  ];
  if (created.rotatedFrom) details.push(['Replaces', created.rotatedFrom]);
  show(title,
    h('div', { class: 'card secret-card' },
      h('p', { class: 'warning', id: `${fieldId}-hint` },
        'Copy this secret now. It is shown only once: tokend keeps only a hash of it.'),
      note ? h('p', { class: 'note' }, note) : null,
      h('div', { class: 'field' }, h('label', { for: fieldId }, 'Secret'),
        h('div', { class: 'secret-row' }, secret, copy)),
      h('dl', { class: 'facts' }, details.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])),
      h('div', { class: 'actions' }, done)));
  history.replaceState(null, '', '#/secret');
}

// ---- details ---------------------------------------------------------------

function permissionsText(token) {
  return (token.permissions ?? []).map((p) =>
    h('li', {}, h('span', { class: 'muted' }, p.scope, p.principal ? [' ', user(p.principal)] : null, ': '),
      (p.actions ?? []).map((a) => h('code', { class: 'perm' }, a))));
}

async function chainOf(token) {
  const older = [];
  let cursor = token;
  let missingOlder = false;
  for (let hops = 0; cursor.rotatedFrom && hops < 20; hops += 1) {
    try {
      cursor = await api.get(cursor.rotatedFrom);
      older.unshift(cursor);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        missingOlder = true;
        break;
      }
      throw error;
    }
  }
  const newer = [];
  cursor = token;
  for (let hops = 0; cursor.rotatedTo && hops < 20; hops += 1) {
    try {
      cursor = await api.get(cursor.rotatedTo);
      newer.push(cursor);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) break;
      throw error;
    }
  }
  return { older, newer, missingOlder };
}

function chainSection(token, chain) {
  const section = h('section', { class: 'card', 'aria-labelledby': 'chain-title' },
    h('h2', { id: 'chain-title' }, 'Rotation chain'));
  if (!chain) {
    section.append(h('p', { class: 'muted' }, 'The rotation chain could not be loaded.'));
    return section;
  }
  if (!chain.older.length && !chain.newer.length && !chain.missingOlder) {
    section.append(h('p', { class: 'muted' }, 'This token has not been rotated.'));
    return section;
  }
  const item = (t, current) => h('li', { class: current ? 'current' : '' },
    current ? h('strong', {}, user(t.name), ' (this token)') : h('a', { href: `#/token/${encodeURIComponent(t.id)}` }, user(t.name)),
    ' ', stateBadge(t), ' ', h('span', { class: 'muted' }, `created ${formatDate(t.creationDate)}`));
  section.append(h('ol', { class: 'chain' },
    chain.missingOlder ? h('li', { class: 'muted' }, 'Older tokens of this chain are gone (rotated away or revoked).') : null,
    chain.older.map((t) => item(t, false)), item(token, true), chain.newer.map((t) => item(t, false))));
  return section;
}

async function auditSection(token) {
  const section = h('section', { class: 'card', 'aria-labelledby': 'audit-title' },
    h('h2', { id: 'audit-title' }, 'Audit events'));
  try {
    const page = await api.audit({ tokenId: token.id, limit: 50, order: 'DESC' });
    const events = page?.content ?? [];
    if (!events.length) {
      section.append(h('p', { class: 'muted' }, 'No events recorded for this token yet.'));
    } else {
      section.append(h('div', { class: 'table-wrap' }, h('table', { class: 'events' },
        h('thead', {}, h('tr', {}, ['Time', 'Action', 'By', 'From', 'Reason'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, events.map((e) => h('tr', {},
          h('td', {}, formatDate(e.time)),
          h('td', {}, h('code', {}, e.action)),
          h('td', {}, e.actor ? [e.actor.type, e.actor.principal ? [' ', user(e.actor.principal)] : null] : 'tokend'),
          h('td', {}, e.remoteAddress ?? '—'),
          h('td', {}, e.reason ?? '')))))));
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      section.append(h('p', { class: 'muted' }, 'This server keeps no audit trail yet, so there are no events to show.'));
    } else if (error instanceof ApiError && error.status === 403) {
      section.append(h('p', { class: 'muted' }, 'Your token may not read audit events.'));
    } else if (error instanceof ApiError && error.status === 401) {
      throw error;
    } else {
      section.append(h('p', { class: 'muted' }, `The audit events could not be loaded: ${error.message}`));
    }
  }
  return section;
}

// The one confirmation dialog open, if any: a second click (a double
// click, a click while the first dialog's data loads) opens no second one.
// `onConfirm` does the action and may return what to do once the dialog
// has closed (show the next screen).
let openedDialog = null;

function openDialog(title, description, confirmLabel, extra, onConfirm) {
  if (openedDialog) return openedDialog;
  const titleId = uid('dialog');
  const confirm = h('button', { type: 'button', class: `button ${confirmLabel === 'Revoke' ? 'danger' : 'primary'}` }, confirmLabel);
  const cancel = h('button', { type: 'button', class: 'button' }, 'Cancel');
  const error = h('p', { role: 'alert', class: 'alert', hidden: true });
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, title), h('p', {}, description), extra, error,
    h('div', { class: 'actions' }, confirm, cancel));
  // The page behind a modal dialog is inert for the keyboard already; hide it
  // from assistive technology too, so that "Revoke" names one button only.
  const behind = [document.querySelector('.topbar'), document.querySelector('.messages'), view];
  // The page comes back when this, the only dialog, is gone: at once when
  // Cancel or its action closes it, on the close event after Escape.
  const gone = () => {
    if (openedDialog !== dialog) return;
    openedDialog = null;
    dialog.remove();
    for (const element of behind) element.removeAttribute('aria-hidden');
  };
  dialog.addEventListener('close', gone);
  const close = () => {
    dialog.close();
    gone();
  };
  cancel.addEventListener('click', close);
  // Busy rather than `disabled`: a disabled button loses the focus, and a
  // failure would leave it on nothing inside the open dialog.
  let busy = false;
  confirm.addEventListener('click', async () => {
    if (busy) return;
    busy = true;
    confirm.setAttribute('aria-disabled', 'true');
    let then;
    try {
      then = await onConfirm();
    } catch (failure) {
      busy = false;
      confirm.removeAttribute('aria-disabled');
      if (failure instanceof ApiError && failure.status === 401) {
        close();
        failed(failure);
        return;
      }
      error.textContent = failure.message;
      error.hidden = false;
      if (dialog.open && !dialog.contains(document.activeElement)) confirm.focus();
      return;
    }
    // The action's next screen comes once the dialog is gone: while it is
    // open the page behind is inert, and its heading could not take the
    // focus, which closing would then hand back to a button no longer there.
    close();
    if (typeof then === 'function') then();
  });
  document.body.append(dialog);
  openedDialog = dialog;
  dialog.showModal();
  for (const element of behind) element.setAttribute('aria-hidden', 'true');
  cancel.focus();
  return dialog;
}

function renderNotFound(message) {
  show('Token not found', h('p', { class: 'empty' },
    'This token does not exist any more (it was revoked, deleted or rotated away), or you may not see it. ',
    h('a', { href: '#/tokens' }, 'Back to the tokens')));
  showError(message);
}

async function renderDetails(id) {
  const ticket = loading('Token');
  let token;
  try {
    token = await api.get(id);
  } catch (error) {
    if (!stillShown(ticket)) return;
    if (error instanceof ApiError && error.status === 404) {
      renderNotFound('No token with this id exists or is visible to you.');
    } else {
      show('Token', h('p', { class: 'empty' }, 'The token could not be loaded.'));
      failed(error);
    }
    return;
  }
  let chain = null;
  let audit;
  try {
    [chain, audit] = await Promise.all([chainOf(token).catch(() => null), auditSection(token)]);
  } catch (error) {
    if (stillShown(ticket)) failed(error);
    return;
  }
  if (!stillShown(ticket)) return;
  const facts = [
    ['Id', h('code', {}, token.id)],
    ['State', stateBadge(token)],
    ['Type', token.type],
    ['Principal', token.principal == null ? '—' : user(token.principal)],
    ['Description', token.description ? user(token.description) : h('span', { class: 'muted' }, 'None')],
    ['Created', formatDate(token.creationDate)],
    ['Expires', token.expirationDate ? `${formatDate(token.expirationDate)} (${relative(token.expirationDate)})` : 'Never'],
    ['Last used', token.lastUsedDate ? `${formatDate(token.lastUsedDate)} (${relative(token.lastUsedDate)})` : 'Never'],
    ['Permissions', h('ul', { class: 'perms' }, permissionsText(token))],
  ];
  if (token.rotatedFrom) facts.push(['Rotated from', h('a', { href: `#/token/${encodeURIComponent(token.rotatedFrom)}` }, token.rotatedFrom)]);
  if (token.rotatedTo) facts.push(['Rotated to', h('a', { href: `#/token/${encodeURIComponent(token.rotatedTo)}` }, token.rotatedTo)]);

  const rotate = h('button', { type: 'button', class: 'button' }, 'Rotate');
  const revoke = h('button', { type: 'button', class: 'button danger' }, 'Revoke');
  // Set while the policy loads, so that a second click waits for the one
  // dialog instead of opening another. (Not `disabled`, which would take
  // the focus away from the button, and not give it back.)
  let opening = false;
  rotate.addEventListener('click', async () => {
    if (openedDialog || opening) return;
    opening = true;
    let maxOverlap = 604800;
    try {
      maxOverlap = (await policy()).maxRotationOverlapSeconds ?? maxOverlap;
    } catch (error) {
      failed(error);
      return;
    } finally {
      opening = false;
    }
    if (!rotate.isConnected) return;
    const overlapId = uid('overlap');
    const overlap = h('select', { id: overlapId, class: 'input', 'aria-describedby': `${overlapId}-hint` },
      OVERLAPS.filter((s) => s <= maxOverlap).map((s) =>
        h('option', { value: String(s) }, s === 0 ? 'None: the old token stops at once' : `${duration(s)}: the old token keeps working meanwhile`)));
    openDialog('Rotate token',
      ['A new token with the same type, principal and permissions replaces “', user(token.name), '”. Its secret is shown once.'],
      'Rotate',
      h('div', { class: 'field' }, h('label', { for: overlapId }, 'Overlap'), overlap,
        h('p', { class: 'hint', id: `${overlapId}-hint` }, 'How long the old secret keeps working, so that clients can switch.')),
      async () => {
        const body = { overlapSeconds: Number(overlap.value) };
        const own = state.self?.id === token.id;
        const rotated = own ? await api.rotateSelf(body) : await api.rotate(token.id, body);
        // The signed-in token was rotated: its successor becomes the
        // session's token before any other call, here and in this
        // console's other tabs holding the same secret. The old secret,
        // presented once it stops working, would be taken for a leak and
        // revoke the whole family, the new token with it.
        if (own) {
          const retired = storedSecret();
          storeSecret(rotated.token);
          state.self = { ...state.self, id: rotated.id, expirationDate: rotated.expirationDate ?? null, rotatedFrom: token.id };
          tellOtherTabs(retired, rotated, token.id);
        }
        return () => renderSecret(rotated, ['Token “', user(token.name), '” rotated'],
          own ? 'You rotated the token you are signed in with; the console now uses the new one.' : null);
      });
  });
  revoke.addEventListener('click', () => {
    if (openedDialog) return;
    // Revoking the signed-in token ends the session: said before, and after
    // in words of its own, not as a session that ended by surprise.
    const own = state.self?.id === token.id;
    openDialog('Revoke token',
      own
        ? ['“', user(token.name), '” is the token you are signed in with. It stops working at once, everywhere, and you will be signed out. This cannot be undone.']
        : ['“', user(token.name), '” stops working at once, everywhere. This cannot be undone.'],
      'Revoke', null,
      async () => {
        await api.revoke(token.id);
        if (own) {
          return () => {
            signOut();
            announce('You revoked “', user(token.name), '”, the token you were signed in with, and were signed out. Sign in with another token.');
          };
        }
        return () => {
          location.hash = '#/tokens';
          announce('Token “', user(token.name), '” was revoked.');
        };
      });
  });
  show([user(token.name)],
    h('div', { class: 'toolbar' }, rotate, revoke),
    h('section', { class: 'card', 'aria-label': 'Details' },
      h('dl', { class: 'facts' }, facts.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]))),
    chainSection(token, chain),
    audit);
}

// ---- routing -----------------------------------------------------------------

// Whether the hash names a screen of its own (the list's included), as
// opposed to none or one that cannot be come back to (#/secret).
function knownRoute(hash) {
  return hash === '' || hash === '#/tokens' || hash === '#/create' || hash.startsWith('#/token/');
}

function renderRoute() {
  if (!storedSecret()) {
    renderSignIn();
    return;
  }
  if (!state.self) {
    resume();
    return;
  }
  const hash = location.hash;
  if (hash === '#/create') {
    renderCreate();
  } else if (hash.startsWith('#/token/')) {
    const id = tokenIdOf(hash.slice('#/token/'.length));
    if (id) renderDetails(id);
    else renderNotFound('This address names no token: a token id is 24 characters 0-9 and a-f.');
  } else {
    renderList();
  }
}

// The id in a #/token/<id> URL, or null when it is none: a malformed
// escape, or anything but 24 lowercase hex digits (such as "query", which
// the API would answer as another route).
function tokenIdOf(text) {
  let id;
  try {
    id = decodeURIComponent(text);
  } catch {
    return null;
  }
  return TOKEN_ID.test(id) ? id : null;
}

function routeChanged() {
  const kept = [...statusBox.childNodes];
  const keptText = statusBox.textContent;
  alertBox.hidden = true;
  alertBox.textContent = '';
  renderRoute();
  replace(statusBox, ...kept);
  setTimeout(() => { if (statusBox.textContent === keptText) statusBox.textContent = ''; }, 6000);
}

window.addEventListener('hashchange', routeChanged);

// A link to the list loads it again even when the address is the list's
// already (no hashchange then): the way back from a list that failed.
document.addEventListener('click', (event) => {
  const link = event.target instanceof Element ? event.target.closest('a[href="#/tokens"]') : null;
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  if (location.hash !== '#/tokens') return;
  event.preventDefault();
  routeChanged();
});

document.getElementById('sign-out').addEventListener('click', () => {
  clearMessages();
  signOut();
  announce('You are signed out. The token was forgotten.');
});

// A token kept from before (a reload, or a check that failed) is checked
// with /self before any screen. A 401 ends the session; any other failure
// keeps it, signed in with its navigation (Sign out included), and offers
// to try again: the token may be fine and tokend briefly unavailable.
async function resume() {
  const ticket = loading('Signing in');
  let self;
  try {
    self = await api.self();
  } catch (error) {
    if (!stillShown(ticket)) return;
    if (error instanceof ApiError && error.status === 401) {
      failed(error);
      return;
    }
    nav.hidden = false;
    whoami.textContent = 'Signed in (the token could not be checked)';
    const retry = h('button', { type: 'button', class: 'button primary' }, 'Retry');
    retry.addEventListener('click', () => {
      clearMessages();
      resume();
    });
    show('Could not check your token',
      h('p', { class: 'empty' },
        'Your session is kept, but nothing can be shown until tokend answers for your token. ',
        'Try again, or sign out.'),
      h('div', { class: 'actions' }, retry));
    failed(error);
    return;
  }
  if (!stillShown(ticket)) return;
  signedIn(self);
  renderRoute();
}

renderRoute();
