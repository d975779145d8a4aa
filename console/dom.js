// DOM helpers. Every piece of text, user data above all, goes in as a text
// node: nothing here ever parses HTML, so a token named
// `<img src=x onerror=alert(1)>` shows exactly those characters.

// h('p', {class: 'hint'}, 'text', child, ...): attributes are set with
// setAttribute (booleans as presence), `on*` functions become listeners.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) {
      append(element, child);
    } else if (child instanceof Node) {
      element.appendChild(child);
    } else {
      element.appendChild(document.createTextNode(String(child)));
    }
  }
}

// Replaces every child of `element`.
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

let nextId = 0;
// A unique element id, for label/for and aria-describedby pairs.
export function uid(prefix) {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

// A user-supplied string (a token's name, principal, description), isolated
// from the console's own text around it: a name holding bidirectional
// controls such as U+202E cannot reorder the words beside it.
export function user(text) {
  return h('bdi', {}, text);
}

const FSI = '\u2068';
const PDI = '\u2069';

// The text of parts made with h() and user(), for places that take text
// only (document.title). Each user string is isolated as <bdi> would be:
// inside U+2068 FIRST STRONG ISOLATE ... U+2069 POP DIRECTIONAL ISOLATE,
// with any isolate control of its own removed, since a stray U+2069 would
// end the isolation early.
export function plainText(...parts) {
  let text = '';
  for (const part of parts) {
    if (part === undefined || part === null || part === false) continue;
    if (Array.isArray(part)) {
      text += plainText(...part);
    } else if (part instanceof Element && part.tagName === 'BDI') {
      text += FSI + part.textContent.replace(/[\u2066-\u2069]/g, '') + PDI;
    } else if (part instanceof Element) {
      text += plainText(...part.childNodes);
    } else if (part instanceof Node) {
      text += part.textContent;
    } else {
      text += String(part);
    }
  }
  return text;
}
