// "Audit log", for HR admins: who did what, from where, when.
//
// GET /admin/audit with the filters as query parameters (from, to, person,
// kind) fills the table a page at a time, newest first. "Older" follows the
// page's `next` cursor; "Newer" goes back through the cursors already seen.
// The two download buttons fetch /admin/audit.csv and /admin/audit.xlsx with
// the same filters; both need the password again within ten minutes, so on
// 403 `reauthentication_required` the password dialog opens and the download
// is tried once more.
//
// Everything shown comes from the trail and is set as text, never as markup.

import * as api from "../api.js";
import { h, replaceChildren, formatDateTime } from "../dom.js";
import { withReauthentication, ReauthenticationCancelled } from "../reauth.js";

const PAGE_SIZE = 50;

// Words for the actions Kaizen writes; anything else is shown as it is.
const ACTIONS = {
  signed_in: "Signed in",
  password_accepted: "Password accepted, code due",
  password_accepted_enrollment_due: "Password accepted, 2-step setup due",
  sign_in_failed: "Sign-in failed",
  sign_in_locked_out: "Sign-in locked out",
  signed_out: "Signed out",
  reauthenticated: "Confirmed password",
  reauthentication_failed: "Password confirmation failed",
  second_factor_failed: "Wrong 2-step code",
  second_factor_reused: "Used 2-step code tried again",
  second_factor_enabled: "2-step verification turned on",
  second_factor_disabled: "2-step verification turned off",
  password_changed: "Password changed",
  password_reset_requested: "Password reset requested",
  password_reset_refused: "Password reset refused",
  password_reset: "Password reset",
  session_ended: "Session ended",
  security_policy_changed: "Security policy changed",
  user_added: "User added",
  user_changed: "User changed",
  user_sessions_ended: "User signed out everywhere",
  role_granted: "Role granted",
  role_revoked: "Role taken away",
  email_sent: "Email sent",
  sms_sent: "Text message sent",
  cycle_created: "Cycle created",
  review_draft_saved: "Review draft saved",
  review_submitted: "Review submitted",
  export_audit_csv: "Audit log exported (CSV)",
  export_audit_xlsx: "Audit log exported (Excel)",
  export_users_csv: "People exported (CSV)",
  export_reviews_csv: "Reviews exported (CSV)",
  security_ip_refused: "Refused: address not allowed",
  security_cross_company_read: "Blocked: another company's data",
};

// Suggestions for the kind filter: an action, or the start of several.
const KINDS = [
  ["sign_in", "Sign-in failures and lockouts"],
  ["signed_in", "Sign-ins"],
  ["signed_out", "Sign-outs"],
  ["second_factor", "2-step verification"],
  ["password", "Passwords"],
  ["review", "Reviews"],
  ["cycle", "Cycles"],
  ["user", "People"],
  ["role", "Role grants"],
  ["email_sent", "Emails"],
  ["sms_sent", "Text messages"],
  ["export", "Exports"],
  ["security", "Security events"],
];

export function auditView(root, context) {
  const { user, signal } = context;
  const isHr = Array.isArray(user.roles) && user.roles.includes("hr_admin");

  const message = h("p", { class: "notice server-text", "data-testid": "audit-message", hidden: true });
  const results = h("div", { class: "audit-results", "aria-live": "polite" });
  root.append(
    h("h1", { text: "Audit log" }),
    h("p", { class: "meta", text: "Who did what in your company, from which address and browser. Times are shown in your time zone." }),
  );
  if (!isHr) {
    root.append(h("p", { class: "notice notice-info", role: "status",
      text: "Only HR admins can see the audit log." }));
    return null;
  }

  // The filters.
  const from = h("input", { type: "datetime-local", id: "audit-from", class: "input", "data-testid": "audit-from" });
  const to = h("input", { type: "datetime-local", id: "audit-to", class: "input", "data-testid": "audit-to" });
  const person = h("select", { id: "audit-person", class: "input", "data-testid": "audit-person" },
    h("option", { value: "", text: "Anyone" }));
  const kind = h("input", { type: "text", id: "audit-kind", class: "input", list: "audit-kinds",
    autocomplete: "off", spellcheck: "false", placeholder: "e.g. sign_in", "data-testid": "audit-kind",
    "aria-describedby": "audit-kind-hint" });
  const kinds = h("datalist", { id: "audit-kinds" },
    ...KINDS.map(([value, label]) => h("option", { value, label })));
  const apply = h("button", { type: "submit", class: "button button-primary", "data-testid": "audit-apply", text: "Show" });
  const clear = h("button", { type: "button", class: "button", "data-testid": "audit-clear", text: "Clear filters",
    on: { click: () => { form.reset(); search(); } } });
  const csvButton = h("button", { type: "button", class: "button", "data-testid": "audit-download-csv",
    text: "Download CSV", on: { click: () => download("csv", csvButton) } });
  const xlsxButton = h("button", { type: "button", class: "button", "data-testid": "audit-download-xlsx",
    text: "Download Excel", on: { click: () => download("xlsx", xlsxButton) } });

  const field = (id, label, input, hint) => h("div", { class: "field" },
    h("label", { for: id, text: label }), input,
    hint ? h("p", { class: "hint", id: `${id}-hint`, text: hint }) : null);
  const form = h("form", { class: "audit-filters", "data-testid": "audit-filters", "aria-label": "Filter the audit log" },
    h("div", { class: "audit-filter-grid" },
      field("audit-from", "From", from),
      field("audit-to", "Until", to),
      field("audit-person", "Person", person),
      field("audit-kind", "Kind", kind, "An action or its start; pick from the list or type.")),
    kinds,
    h("div", { class: "form-actions" }, apply, clear, h("span", { class: "audit-downloads" }, csvButton, xlsxButton)));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });
  root.append(form, message, results);

  // The pages seen so far: cursors[i] is the `before` of page i (null for the first).
  let cursors = [null];
  let page = 0;
  let next = null;
  let filters = {};
  let loading = null;

  loadPeople();
  search();

  async function loadPeople() {
    try {
      const people = await api.listUsers(signal);
      if (signal.aborted || !Array.isArray(people)) return;
      for (const p of people) {
        person.append(h("option", { value: p.id, text: p.email ? `${p.name} (${p.email})` : p.name }));
      }
    } catch (error) {
      // The log still works without the list; "Anyone" stays the only choice.
      if (error.name === "AbortError") return;
    }
  }

  /** Read the form into query parameters; null (and a message) when a time is unreadable. */
  function readFilters() {
    const out = {};
    for (const [name, input] of [["from", from], ["to", to]]) {
      if (!input.value) continue;
      const time = new Date(input.value);
      if (Number.isNaN(time.getTime())) {
        show("error", `The ${name === "from" ? "From" : "Until"} time is not a date and time.`);
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return null;
      }
      input.removeAttribute("aria-invalid");
      out[name] = time.toISOString();
    }
    if (person.value) out.person = person.value;
    const k = kind.value.trim();
    if (k) out.kind = k;
    return out;
  }

  function search() {
    const read = readFilters();
    if (!read) return;
    filters = read;
    cursors = [null];
    page = 0;
    load();
  }

  async function load() {
    hide();
    if (loading) loading.abort();
    const controller = new AbortController();
    loading = controller;
    signal.addEventListener("abort", () => controller.abort(), { once: true });
    results.setAttribute("aria-busy", "true");
    try {
      const query = { ...filters, limit: PAGE_SIZE };
      if (cursors[page]) query.before = cursors[page];
      const answer = await api.auditLog(query, controller.signal);
      if (controller.signal.aborted) return;
      next = answer && answer.next ? answer.next : null;
      render(Array.isArray(answer && answer.entries) ? answer.entries : []);
    } catch (error) {
      if (controller.signal.aborted || error.name === "AbortError") return;
      replaceChildren(results);
      show("error", loadErrorMessage(error));
    } finally {
      if (loading === controller) {
        loading = null;
        results.removeAttribute("aria-busy");
      }
    }
  }

  function render(entries) {
    const newer = h("button", { type: "button", class: "button button-small", "data-testid": "audit-newer",
      text: "← Newer", disabled: page === 0, on: { click: () => { page -= 1; load(); } } });
    const older = h("button", { type: "button", class: "button button-small", "data-testid": "audit-older",
      text: "Older →", disabled: !next, on: { click: () => {
        cursors[page + 1] = next;
        page += 1;
        load();
      } } });
    const pager = h("nav", { class: "audit-pager", "aria-label": "Audit log pages" },
      newer, h("span", { class: "meta", "data-testid": "audit-page", text: `Page ${page + 1}` }), older);
    if (entries.length === 0) {
      replaceChildren(results, h("p", { class: "empty", "data-testid": "audit-empty",
        text: "No events match these filters." }), page > 0 ? pager : null);
      return;
    }
    replaceChildren(results,
      h("div", { class: "table-wrap" },
        h("table", { class: "table audit-table", "data-testid": "audit-table" },
          h("caption", { class: "sr-only", text: "Audit events, newest first" }),
          h("thead", {}, h("tr", {},
            ...["Time", "Who", "What", "Target", "Address", "Browser", "Details"]
              .map((text) => h("th", { scope: "col", text })))),
          h("tbody", {}, ...entries.map(row)))),
      pager);
  }

  function row(entry) {
    const cell = (label, ...children) => h("td", { "data-label": label }, ...children);
    return h("tr", { "data-testid": "audit-row", "data-action": entry.action, "data-id": entry.id },
      cell("Time", h("time", { datetime: entry.at, title: entry.at, text: formatDateTime(entry.at) })),
      cell("Who", personText(entry.actor, "Kaizen")),
      cell("What", h("span", { text: ACTIONS[entry.action] || entry.action }),
        h("code", { class: "audit-action", text: entry.action })),
      cell("Target", entry.target ? personText(entry.target, "") : ""),
      cell("Address", h("span", { class: "audit-ip", text: entry.ip })),
      cell("Browser", h("span", { class: "audit-agent", title: entry.user_agent, text: entry.user_agent })),
      cell("Details", h("span", { class: "audit-detail", text: describeDetail(entry.detail) })));
  }

  async function download(format, button) {
    if (button.getAttribute("aria-disabled") === "true") return;
    const read = readFilters();
    if (!read) return;
    hide();
    button.setAttribute("aria-disabled", "true");
    try {
      const file = await withReauthentication(() => api.download(`/admin/audit.${format}`, read, signal), {
        signal, username: user.email, reason: "Exporting the audit log needs your password.",
      });
      if (signal.aborted) return;
      save(file);
      show("success", `Downloaded ${file.filename}.`);
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      if (error instanceof ReauthenticationCancelled) show("error", "Not downloaded: this needs your password.");
      else show("error", `Not downloaded. ${loadErrorMessage(error)}`);
    } finally {
      button.removeAttribute("aria-disabled");
    }
  }

  function show(kind, text) {
    message.classList.remove("notice-success", "notice-error");
    message.classList.add(`notice-${kind}`);
    message.setAttribute("role", kind === "success" ? "status" : "alert");
    message.dataset.kind = kind;
    message.textContent = text;
    message.hidden = false;
  }

  function hide() {
    message.hidden = true;
    message.textContent = "";
  }

  return () => {
    if (loading) loading.abort();
  };
}

/** Hand a downloaded file to the browser through a temporary object URL. */
function save({ blob, filename }) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** "Ana (ana@acme.example)", the bare id of a non-user target, or `fallback`. */
function personText(person, fallback) {
  if (!person) return fallback;
  if (person.name) return person.email ? `${person.name} (${person.email})` : person.name;
  return h("code", { class: "audit-id", text: person.id });
}

/** The detail object as "key: value; key: value". */
function describeDetail(detail) {
  if (!detail || typeof detail !== "object") return "";
  return Object.entries(detail)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => `${key.replaceAll("_", " ")}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join("; ");
}

function loadErrorMessage(error) {
  if (!(error instanceof api.ApiError)) return "The audit log could not be loaded. Please try again.";
  if (error.isNetwork) return "Cannot reach the server. Check your connection and try again.";
  if (error.status === 422) return error.message;
  if (error.code === "reauthentication_required") return "The password confirmation did not take. Please try again.";
  if (error.status === 403) return "Only HR admins can see the audit log.";
  if (error.status === 429) return api.rateLimitMessage(error);
  return "The audit log could not be loaded. Please try again.";
}
