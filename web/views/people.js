// "People", for HR admins: everyone in the company, with their role and
// whether the account is disabled.
//
// GET /admin/users fills the table. Each row can change the role
// (PATCH {role}), disable or enable the account (PATCH {disabled}) and sign
// the user out everywhere (DELETE /admin/users/{id}/sessions). All three need
// a password confirmation in the last ten minutes: on 403
// `reauthentication_required` the password dialog opens and the same call is
// made again. The server refuses (409) to demote or disable the last active
// HR admin, and says so in its own words.

import * as api from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { withReauthentication, ReauthenticationCancelled } from "../reauth.js";

const ROLE_LABELS = { employee: "Employee", hr_admin: "HR admin" };

export function peopleView(root, context) {
  const { user, signal } = context;
  const isHr = Array.isArray(user.roles) && user.roles.includes("hr_admin");

  const message = h("p", { class: "notice server-text users-message", role: "status", "data-testid": "users-message",
    hidden: true });
  const body = h("div", {}, h("p", { class: "loading", role: "status", text: "Loading people…" }));
  root.append(
    h("h1", { text: "People" }),
    h("p", { class: "meta", text: `Everyone who can sign in to ${user.company || "your company"}.` }),
    message,
    body);

  if (!isHr) {
    replaceChildren(body, h("p", { class: "notice notice-info", role: "status",
      text: "Only HR admins can see and manage people." }));
    return null;
  }

  let users = [];
  // One change at a time: a second click waits for the password dialog of the first.
  let busy = false;
  load();

  async function load() {
    try {
      const list = await api.listUsers(signal);
      if (signal.aborted) return;
      users = Array.isArray(list) ? list : [];
      render();
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      replaceChildren(body,
        h("p", { class: "notice notice-error", role: "alert", text: loadErrorMessage(error) }),
        h("button", { type: "button", class: "button", text: "Try again", on: { click: () => context.reload() } }));
    }
  }

  function render() {
    if (users.length === 0) {
      replaceChildren(body, h("p", { class: "empty", text: "Nobody is here yet." }));
      return;
    }
    replaceChildren(body, h("div", { class: "table-wrap" },
      h("table", { class: "table users-table", "data-testid": "users-table" },
        h("caption", { class: "sr-only", text: "People in your company" }),
        h("thead", {}, h("tr", {},
          h("th", { scope: "col", text: "Name" }),
          h("th", { scope: "col", text: "Email" }),
          h("th", { scope: "col", text: "Role" }),
          h("th", { scope: "col", text: "Account" }),
          h("th", { scope: "col" }, h("span", { class: "sr-only", text: "Actions" })))),
        h("tbody", {}, ...users.map(row)))));
  }

  function row(person) {
    const self = person.id === user.id;
    const nameId = `user-${person.id}-name`;
    const name = person.name || person.email;
    const isAdmin = person.role === "hr_admin";

    const action = (testid, text, handler) => {
      const button = h("button", { type: "button", class: "button button-small", "data-testid": testid,
        "aria-describedby": nameId, text });
      button.addEventListener("click", () => handler(button));
      return button;
    };
    const toggleRole = action("user-toggle-role", isAdmin ? "Make employee" : "Make HR admin",
      (button) => change(person, { role: isAdmin ? "employee" : "hr_admin" }, button));
    const toggleDisabled = action("user-toggle-disabled", person.disabled ? "Enable" : "Disable",
      (button) => change(person, { disabled: !person.disabled }, button));
    const endSessions = action("user-end-sessions", "Sign out everywhere",
      (button) => signOutEverywhere(person, button));

    return h("tr", {
      "data-testid": "user-row",
      "data-user-id": person.id,
      "data-role": person.role,
      "data-disabled": person.disabled ? "true" : "false",
      class: person.disabled ? "user-disabled" : null,
    },
    h("th", { scope: "row", class: "user-name" },
      h("span", { id: nameId, text: name }),
      self ? h("span", { class: "badge badge-current", text: "You" }) : null),
    h("td", { class: "user-email", text: person.email }),
    h("td", { text: ROLE_LABELS[person.role] || person.role }),
    h("td", {}, person.disabled
      ? h("span", { class: "badge badge-disabled", text: "Disabled" })
      : h("span", { text: "Active" })),
    h("td", { class: "user-actions" },
      h("div", { class: "user-actions-row" }, toggleRole, toggleDisabled, endSessions)));
  }

  /** PATCH one user; the answer replaces the row. */
  async function change(person, update, button) {
    if (busy) return;
    busy = true;
    hide();
    setBusy(button, true);
    try {
      const updated = await withReauthentication(() => api.updateUser(person.id, update), {
        signal, username: user.email, reason: "Changing someone’s account needs your password.",
      });
      if (signal.aborted) return;
      const after = { ...person, ...(updated || update) };
      users = users.map((u) => (u.id === person.id ? after : u));
      render();
      show("success", describeChange(after, update));
      focusRow(person.id, button.dataset.testid);

      // Taking one's own HR role away, or disabling oneself, ends this session too.
      if (person.id === user.id) {
        await context.refreshUser(update.disabled
          ? "Your account is now disabled, so you were signed out."
          : "You are no longer an HR admin, so you were signed out. Sign in again to continue.");
      }
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      showFailure(error);
    } finally {
      busy = false;
      if (button.isConnected) setBusy(button, false);
    }
  }

  async function signOutEverywhere(person, button) {
    if (busy) return;
    busy = true;
    hide();
    setBusy(button, true);
    try {
      await withReauthentication(() => api.endUserSessions(person.id), {
        signal, username: user.email, reason: "Signing someone out needs your password.",
      });
      if (signal.aborted) return;
      if (person.id === user.id) {
        // This device was one of them.
        context.sessionEnded("You were signed out everywhere, on this device too.");
        return;
      }
      show("success", `${person.name || person.email} was signed out everywhere.`);
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      showFailure(error);
    } finally {
      busy = false;
      if (button.isConnected) setBusy(button, false);
    }
  }

  function setBusy(button, value) {
    if (value) button.setAttribute("aria-disabled", "true");
    else button.removeAttribute("aria-disabled");
  }

  // After a re-render, keep the keyboard on the same button of the same row.
  function focusRow(userId, testid) {
    const rowEl = [...body.querySelectorAll('[data-testid="user-row"]')]
      .find((el) => el.dataset.userId === userId);
    const target = rowEl && rowEl.querySelector(`[data-testid="${testid}"]`);
    if (target) target.focus();
  }

  function showFailure(error) {
    if (error instanceof ReauthenticationCancelled) {
      show("error", "Nothing changed: this needs your password.");
    } else if (!(error instanceof api.ApiError)) {
      show("error", "Something went wrong. Please try again.");
    } else if (error.isNetwork) {
      show("error", "Nothing changed: cannot reach the server. Check your connection and try again.");
    } else if (error.status === 409) {
      // The last active HR admin: the server's words say what to do instead.
      show("warning", error.message);
    } else if (error.status === 404) {
      show("error", "That person is no longer here. The list has been reloaded.");
      load();
    } else if (error.status === 429) {
      show("error", api.rateLimitMessage(error));
    } else if (error.status === 422) {
      show("error", error.message);
    } else if (error.code === "reauthentication_required") {
      show("error", "Nothing changed: the password confirmation did not take. Please try again.");
    } else if (error.status === 403) {
      show("error", "Only HR admins can manage people.");
    } else {
      show("error", "Nothing changed: the server had a problem. Please try again in a moment.");
    }
  }

  function show(kind, text) {
    message.classList.remove("notice-success", "notice-error", "notice-warning");
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
}

/** "Ana is now an HR admin." and the like. */
function describeChange(person, update) {
  const name = person.name || person.email;
  if (update.role) {
    return `${name} is now ${update.role === "hr_admin" ? "an HR admin" : "an employee"}.` +
      (update.role === "employee" ? " Their sessions were ended." : "");
  }
  return update.disabled
    ? `${name} is disabled and was signed out everywhere.`
    : `${name} can sign in again.`;
}

function loadErrorMessage(error) {
  if (!(error instanceof api.ApiError)) return "People could not be loaded. Please try again.";
  if (error.isNetwork) return "Cannot reach the server. Check your connection and try again.";
  if (error.status === 403) return "Only HR admins can see and manage people.";
  if (error.status === 429) return api.rateLimitMessage(error);
  return "People could not be loaded. Please try again.";
}
