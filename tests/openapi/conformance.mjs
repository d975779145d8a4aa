// Drives the requests of a request list through a validating proxy that sits
// in front of a running tokend, and counts what the proxy reports:
//   - refused: a request the contract allows that the OpenAPI document
//     refuses (a request-side violation on a request not marked `refused`);
//   - undescribed: an answer the document does not describe (any
//     response-side violation, a status the operation does not list, or a
//     request the document has no operation for).
// The proxy reports both in its `sl-violations` response header and forwards
// every request unchanged, so the answer itself is tokend's.
//
// Usage: node conformance.mjs --proxy URL --requests FILE --document FILE
//          --var name=value...
//          [--phase NAME] [--vars-out FILE] [--expect-violations]
// Exits 0 when every request got its expected status and both counts are
// zero; with --expect-violations, exits 0 only when both counts are non-zero
// (a wrong document must be caught).
import fs from 'node:fs';

function parseArgs(argv) {
  const args = { vars: {}, phase: 'live', expectViolations: false };
  for (let i = 0; i < argv.length; ++i) {
    const flag = argv[i];
    const next = () => argv[++i];
    if (flag === '--proxy') args.proxy = next();
    else if (flag === '--requests') args.requests = next();
    else if (flag === '--document') args.document = next();
    else if (flag === '--phase') args.phase = next();
    else if (flag === '--vars-in') Object.assign(args.vars, JSON.parse(fs.readFileSync(next(), 'utf8')));
    else if (flag === '--vars-out') args.varsOut = next();
    else if (flag === '--expect-violations') args.expectViolations = true;
    else if (flag === '--var') {
      const [name, ...rest] = next().split('=');
      args.vars[name] = rest.join('=');
    } else throw new Error(`unknown argument ${flag}`);
  }
  if (!args.proxy || !args.requests || !args.document) {
    throw new Error('--proxy, --requests and --document are required');
  }
  return args;
}

// "${name}" in a string is replaced by the variable; an unknown one is an
// error in the request list.
function expand(value, vars) {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, name) => {
      if (!(name in vars)) throw new Error(`unknown variable \${${name}}`);
      return vars[name];
    });
  }
  if (Array.isArray(value)) return value.map((item) => expand(item, vars));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v, vars)]));
  }
  return value;
}

// The request's body and Content-Type, from whichever body field it has.
function bodyOf(request, vars) {
  if ('json' in request) return ['application/json', JSON.stringify(expand(request.json, vars))];
  if ('form' in request) return ['application/x-www-form-urlencoded', expand(request.form, vars)];
  if ('body' in request) return [request.contentType, expand(request.body, vars)];
  if ('jsonOfSize' in request) {
    // A JSON object whose serialization is exactly `jsonOfSize` bytes.
    const frame = JSON.stringify({ name: '' });
    return ['application/json', JSON.stringify({ name: 'x'.repeat(request.jsonOfSize - frame.length) })];
  }
  return [undefined, undefined];
}

const kMethods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// The methods the document declares for a concrete path, over every path
// template that matches it (as the server's Allow header lists them).
function documentedMethods(document, path) {
  const methods = new Set();
  for (const [template, item] of Object.entries(document.paths)) {
    const pattern = new RegExp('^' + template.replace(/\{[^}]+\}/g, '[^/]+') + '$');
    if (!pattern.test(path)) continue;
    for (const method of kMethods) if (item[method]) methods.add(method.toUpperCase());
  }
  return methods;
}

function violationsOf(response) {
  const header = response.headers.get('sl-violations');
  if (!header) return [];
  if (header.startsWith('Too many violations!')) {
    // The proxy cuts a long list; request violations come first, so the
    // complete entries before the cut are still read.
    const entries = [...header.matchAll(/\{"location":\[([^\]]*)\],"severity":"(\w+)"[^{}]*?"message":"((?:[^"\\]|\\.)*)"\}/g)];
    return entries
      .map((m) => ({ location: JSON.parse(`[${m[1]}]`), severity: m[2], message: JSON.parse(`"${m[3]}"`) }))
      .concat([{ location: ['response'], severity: 'Error', message: 'too many violations to list' }]);
  }
  return JSON.parse(header);
}

function describe(violation) {
  return `${violation.severity} ${(violation.location || []).join('.')}: ${violation.message}`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const list = JSON.parse(fs.readFileSync(args.requests, 'utf8'));
  const document = JSON.parse(fs.readFileSync(args.document, 'utf8'));
  const vars = { ...args.vars };
  const counts = { requests: 0, refused: 0, undescribed: 0, unexpectedStatus: 0, badRequests: 0, badRequestsRefused: 0 };
  const statuses = new Set();
  const accepted = [];
  for (const request of list.requests) {
    if ((request.phase || 'live') !== args.phase) continue;
    counts.requests += 1;
    const label = `${request.method} ${request.path}${request.query ? '?' + request.query : ''} (${request.name})`;
    const headers = expand(request.headers || {}, vars);
    if (request.bearer) headers.authorization = `Bearer ${expand(request.bearer, vars)}`;
    const [contentType, body] = bodyOf(request, vars);
    if (contentType !== undefined) headers['content-type'] = contentType;
    const url = args.proxy + expand(request.path, vars) + (request.query ? '?' + expand(request.query, vars) : '');
    let response;
    try {
      response = await fetch(url, { method: request.method, headers, body });
    } catch (error) {
      console.log(`FAIL ${label}: no answer: ${error.cause ? error.cause.message : error.message}`);
      counts.unexpectedStatus += 1;
      continue;
    }
    const text = await response.text();
    statuses.add(response.status);
    const problems = [];
    if (response.status !== request.expect) {
      counts.unexpectedStatus += 1;
      problems.push(`status ${response.status}, expected ${request.expect}: ${text.slice(0, 200)}`);
    }
    for (const [name, value] of Object.entries(request.expectHeaders || {})) {
      if (response.headers.get(name) !== value) {
        counts.unexpectedStatus += 1;
        problems.push(`header ${name}: ${response.headers.get(name)}, expected ${value}`);
      }
    }
    if (request.methodNotAllowed) {
      // No operation can describe a method the path does not have: the
      // document describes the 405 by the methods it lists, which the Allow
      // header must name exactly, and the body is the error body.
      const documented = [...documentedMethods(document, new URL(url).pathname)].sort().join(', ');
      const allow = (response.headers.get('allow') || '').split(',').map((m) => m.trim()).filter(Boolean);
      if (allow.sort().join(', ') !== documented) {
        counts.undescribed += 1;
        problems.push(`Allow: ${response.headers.get('allow')}; the document declares ${documented}`);
      }
      const error = JSON.parse(text || '{}');
      const fields = document.components.schemas.RestErrorResponse.required;
      if (!fields.every((field) => field in error) || error.code !== 9003) {
        counts.undescribed += 1;
        problems.push(`not an error body of code 9003: ${text.slice(0, 200)}`);
      }
    }
    const violations = violationsOf(response);
    if (request.refused && !request.methodNotAllowed) {
      // Informative: how many requests the contract refuses the document
      // refuses too (not all can be said in OpenAPI, e.g. fromDate > toDate).
      counts.badRequests += 1;
      if (violations.some((v) => (v.location || [])[0] === 'request' && v.severity === 'Error')) {
        counts.badRequestsRefused += 1;
      } else {
        accepted.push(label);
      }
    }
    for (const violation of violations) {
      const side = (violation.location || [])[0];
      if (side === 'request') {
        // "Selected route not found": the document has no operation for it.
        if (/route not found/i.test(violation.message)) {
          if (request.methodNotAllowed) continue;
          counts.undescribed += 1;
          problems.push(`undescribed: ${describe(violation)}`);
        } else if (!request.refused && violation.severity === 'Error') {
          counts.refused += 1;
          problems.push(`refused by the document: ${describe(violation)}`);
        }
      } else if (violation.severity === 'Error' || violation.severity === 'Warning') {
        counts.undescribed += 1;
        problems.push(`undescribed: ${describe(violation)}`);
      }
    }
    console.log(`${problems.length ? 'FAIL' : 'ok  '} ${response.status} ${label}`);
    for (const problem of problems) console.log(`       ${problem}`);
    if (request.save && response.ok) {
      const json = JSON.parse(text);
      for (const [name, field] of Object.entries(request.save)) vars[name] = json[field];
    }
  }
  if (accepted.length) {
    console.log(`requests the contract refuses that the document accepts (not an error):\n  ${accepted.join('\n  ')}`);
  }
  if (args.varsOut) fs.writeFileSync(args.varsOut, JSON.stringify(vars));
  console.log(
    `openapi conformance (${args.phase}): ${counts.requests} requests, statuses ${[...statuses].sort().join(' ')}; ` +
      `${counts.refused} allowed requests refused by the document, ${counts.undescribed} answers not described, ` +
      `${counts.unexpectedStatus} unexpected statuses or headers ` +
      `(requests the contract refuses that the document refuses too: ${counts.badRequestsRefused} of ${counts.badRequests})`,
  );
  if (args.expectViolations) {
    process.exit(counts.refused > 0 && counts.undescribed > 0 ? 0 : 1);
  }
  process.exit(counts.refused + counts.undescribed + counts.unexpectedStatus === 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
