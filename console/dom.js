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
