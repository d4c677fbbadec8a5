// Small helpers to build DOM without innerHTML.
//
// Everything a user writes in Kaizen is confidential and untrusted, so no
// string ever becomes markup: text always goes in through text nodes.

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Create an HTML element.
 *
 * `attrs` keys: `class`, `text` (text content), `dataset` (object),
 * `on` (event name -> listener), boolean DOM properties such as `checked`,
 * `disabled`, `hidden`, `readOnly`, `value`; every other key is set with
 * setAttribute. `null`/`undefined`/`false` values are skipped.
 * Children may be nodes, strings (become text nodes) or nested arrays.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Create an SVG element; attributes are set verbatim. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

// Properties rather than attributes, so that they reflect live state.
const PROPS = new Set(["checked", "disabled", "hidden", "readOnly", "value", "required"]);

function applyAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") {
      el.textContent = String(value);
    } else if (key === "dataset") {
      for (const [name, v] of Object.entries(value)) el.dataset[name] = String(v);
    } else if (key === "on") {
      for (const [name, listener] of Object.entries(value)) el.addEventListener(name, listener);
    } else if (PROPS.has(key)) {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

/** Append children (nodes, strings, arrays; null/false skipped). */
export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
  return parent;
}

/** Remove every child of `el`, then append the given children. */
export function replaceChildren(el, ...children) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return append(el, children);
}

/** `hh:mm:ss` in local time, 24-hour clock. */
export function clockTime(date = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** A short, locale-aware date and time for an RFC 3339 string, or "". */
export function formatDateTime(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A locale-aware date for an RFC 3339 string, or "". */
export function formatDate(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleDateString(undefined, { dateStyle: "medium" });
}

/**
 * How long ago an RFC 3339 time was, in words ("just now", "5 minutes ago",
 * "yesterday"); older than a week, the date and time instead. "" when unreadable.
 */
export function formatRelative(value, now = Date.now()) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  const seconds = Math.round((date.getTime() - now) / 1000);
  if (Math.abs(seconds) < 60) return "just now";
  const words = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const minutes = Math.round(seconds / 60);
  if (Math.abs(minutes) < 60) return words.format(minutes, "minute");
  const hours = Math.round(minutes / 60);
  if (Math.abs(hours) < 24) return words.format(hours, "hour");
  const days = Math.round(hours / 24);
  if (Math.abs(days) < 7) return words.format(days, "day");
  return formatDateTime(value);
}

/** Human labels for review statuses, in workflow order. */
export const STATUS_LABELS = {
  not_started: "Not started",
  draft: "Draft",
  submitted: "Submitted",
  shared: "Shared",
  signed: "Signed",
};

/** The workflow order of review statuses (used for sorting and charts). */
export const STATUS_ORDER = Object.keys(STATUS_LABELS);

/** A status badge; the raw status is kept in `data-status` for styling. */
export function statusBadge(status, attrs = {}) {
  const label = STATUS_LABELS[status] || String(status);
  return h("span", { class: "badge", dataset: { status }, text: label, ...attrs });
}
