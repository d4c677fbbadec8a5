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
//
// Below the table, the org-chart import: a CSV file or pasted text is checked
// first (POST /admin/users/import?dry_run=true, also behind the password);
// a refused file lists each bad row with its line, and only text that passed
// the check can be imported. The counts say what changed.

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
  root.append(importSection());
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

  // The org-chart import: a CSV file (or pasted text) is checked first (a dry run);
  // only a file that passed the check, unchanged since, can be imported.
  function importSection() {
    const file = h("input", { type: "file", id: "people-import-file", class: "input", accept: ".csv,text/csv",
      "data-testid": "people-import-file" });
    const text = h("textarea", { id: "people-import-text", class: "textarea people-import-text", rows: "6",
      spellcheck: "false", "aria-describedby": "people-import-hint", "data-testid": "people-import-text" });
    const check = h("button", { type: "submit", class: "button", text: "Check the file",
      "data-testid": "people-import-check" });
    const run = h("button", { type: "button", class: "button button-primary", text: "Import", disabled: true,
      "data-testid": "people-import-submit" });
    const result = h("div", { class: "people-import-result", "data-testid": "people-import-result" });
    // The text that passed the dry run; any edit asks for a new check.
    let checked = null;
    let running = false;

    file.addEventListener("change", async () => {
      const chosen = file.files && file.files[0];
      if (!chosen) return;
      try {
        text.value = await chosen.text();
        changed();
      } catch {
        report("error", "The file could not be read.");
      }
    });
    text.addEventListener("input", changed);
    function changed() {
      checked = null;
      run.disabled = true;
      replaceChildren(result);
    }

    const form = h("form", { class: "card people-import", "data-testid": "people-import" },
      h("h2", { text: "Import the org chart" }),
      h("p", { class: "meta", id: "people-import-hint",
        text: "A CSV file with a header row naming email and name, and optionally department, " +
          "manager_email and role (employee or hr_admin). A row whose email exists updates that person; " +
          "new people set their password with “forgot password”. The file is checked first; with any " +
          "problem nothing is imported." }),
      h("div", { class: "field" }, h("label", { for: file.id, text: "CSV file" }), file),
      h("div", { class: "field" }, h("label", { for: text.id, text: "Or paste the CSV text" }), text),
      h("div", { class: "section-actions" }, check, run),
      result);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send(true);
    });
    run.addEventListener("click", () => send(false));

    async function send(dryRun) {
      if (running) return;
      const csv = text.value;
      if (!csv.trim()) {
        report("error", "Choose a CSV file or paste its text first.");
        text.focus();
        return;
      }
      if (!dryRun && csv !== checked) return;
      running = true;
      const button = dryRun ? check : run;
      setBusy(button, true);
      replaceChildren(result, h("p", { class: "loading", role: "status",
        text: dryRun ? "Checking the file…" : "Importing…" }));
      try {
        const outcome = await withReauthentication(() => api.importPeople(csv, dryRun), {
          signal, username: user.email, reason: "Importing the org chart needs your password.",
        });
        if (signal.aborted) return;
        const errors = Array.isArray(outcome.errors) ? outcome.errors : [];
        if (errors.length) {
          checked = null;
          run.disabled = true;
          showErrors(errors);
          return;
        }
        const counts = `${outcome.created} to create, ${outcome.updated} to update, ${outcome.unchanged} unchanged`;
        if (dryRun) {
          checked = csv;
          run.disabled = false;
          report("success", `The file is fine: ${counts}. Nothing is imported until you choose Import.`);
          run.focus();
        } else {
          checked = null;
          run.disabled = true;
          report("success", `Imported: ${outcome.created} created, ${outcome.updated} updated, ` +
            `${outcome.unchanged} unchanged.`);
          load();
        }
      } catch (error) {
        if (signal.aborted || error.name === "AbortError") return;
        if (error instanceof ReauthenticationCancelled) report("error", "Nothing was imported: this needs your password.");
        else if (!(error instanceof api.ApiError)) report("error", "Something went wrong. Please try again.");
        else if (error.isNetwork) report("error", "Nothing was imported: cannot reach the server.");
        else if (error.status === 429) report("error", api.rateLimitMessage(error));
        else if (error.status === 403 && error.code !== "reauthentication_required") {
          report("error", "Only HR admins can import the org chart.");
        } else if (error.status >= 400 && error.status < 500) report("error", `Nothing was imported: ${error.message}`);
        else report("error", "Nothing was imported: the server had a problem. Please try again.");
      } finally {
        running = false;
        setBusy(button, false);
      }
    }

    function report(kind, words) {
      replaceChildren(result, h("p", { class: `notice notice-${kind}`, role: kind === "success" ? "status" : "alert",
        "data-testid": "people-import-message", "data-kind": kind, text: words }));
    }

    function showErrors(errors) {
      replaceChildren(result,
        h("p", { class: "notice notice-error", role: "alert", "data-testid": "people-import-message",
          "data-kind": "error",
          text: `${errors.length} ${errors.length === 1 ? "problem" : "problems"} in the file; nothing was imported. ` +
            "Fix the rows below and check again." }),
        h("div", { class: "table-wrap" },
          h("table", { class: "table", "data-testid": "people-import-errors" },
            h("caption", { class: "sr-only", text: "Problems in the file" }),
            h("thead", {}, h("tr", {},
              h("th", { scope: "col", text: "Line" }),
              h("th", { scope: "col", text: "Problem" }))),
            h("tbody", {}, ...errors.map((e) => h("tr", { "data-testid": "people-import-error", "data-line": String(e.line) },
              h("td", { text: String(e.line) }),
              h("td", { class: "server-text", text: e.message })))))));
    }

    return form;
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
