// Confirming the password again before a sensitive change.
//
// Some calls (the security policy, people's roles, accounts and sessions,
// setting up or turning off 2-step verification) answer 403
// `reauthentication_required` unless the password was confirmed in the last
// ten minutes. `withReauthentication(action)` runs the call, and on that
// answer asks for the password in a modal dialog, confirms it with
// POST /auth/reauthenticate and runs the call once more.
//
// The dialog is a native <dialog> opened with showModal(), so the page
// behind it is inert; on top of that Tab and Shift+Tab cycle inside it,
// Escape or Cancel closes it, and focus returns to where it was.

import * as api from "./api.js";
import { h } from "./dom.js";

/** The user closed the password dialog instead of confirming. */
export class ReauthenticationCancelled extends Error {
  constructor() {
    super("The password was not confirmed.");
    this.name = "ReauthenticationCancelled";
  }
}

/**
 * Run `action` (a function returning a promise); when it fails with
 * `reauthentication_required`, ask for the password and run it once more.
 * Rejects with ReauthenticationCancelled when the dialog is closed.
 *
 * Options: `signal` (closes the dialog when the view is left), `reason`
 * (a sentence saying what the password is for), `username` (for password
 * managers).
 */
export async function withReauthentication(action, options = {}) {
  try {
    return await action();
  } catch (error) {
    if (!(error instanceof api.ApiError) || error.code !== "reauthentication_required") throw error;
  }
  if (!(await confirmPassword(options))) throw new ReauthenticationCancelled();
  return action();
}

// Only one dialog at a time: a second request while it is open shares it.
let open = null;

/**
 * Ask for the password and confirm it with the server. Resolves true once
 * it is confirmed, false when the dialog is closed (or `signal` aborts).
 */
export function confirmPassword(options = {}) {
  if (open) return open;
  open = showDialog(options).finally(() => {
    open = null;
  });
  return open;
}

function showDialog({ signal, reason, username }) {
  return new Promise((resolve) => {
    const returnFocus = document.activeElement;

    const password = h("input", {
      type: "password", id: "reauth-password", class: "input", name: "password",
      autocomplete: "current-password", required: true, "data-testid": "reauth-password",
    });
    const error = h("p", { class: "notice notice-error", id: "reauth-error", role: "alert",
      "data-testid": "reauth-error", hidden: true });
    const submit = h("button", { type: "submit", class: "button button-primary",
      "data-testid": "reauth-submit", text: "Confirm" });
    const cancel = h("button", { type: "button", class: "button", text: "Cancel",
      on: { click: () => finish(false) } });

    // A username field, hidden, lets password managers pick the right entry.
    const user = username
      ? h("input", { type: "text", name: "username", autocomplete: "username", value: username,
        hidden: true, tabindex: "-1", "aria-hidden": "true" })
      : null;

    const form = h("form", { class: "modal-body", novalidate: true },
      h("h2", { id: "reauth-title", text: "Confirm your password" }),
      h("p", { id: "reauth-text",
        text: `${reason || "This change needs your password."} You will not be asked again for 10 minutes.` }),
      user,
      h("div", { class: "field" }, h("label", { for: "reauth-password", text: "Password" }), password),
      error,
      h("div", { class: "modal-actions" }, cancel, submit));

    const dialog = h("dialog", {
      class: "modal",
      "data-testid": "reauth-dialog",
      "aria-labelledby": "reauth-title",
      "aria-describedby": "reauth-text",
    }, form);

    let done = false;
    function finish(confirmed) {
      if (done) return;
      done = true;
      if (signal) signal.removeEventListener("abort", onAbort);
      if (dialog.open) dialog.close();
      dialog.remove();
      if (returnFocus && returnFocus.isConnected && typeof returnFocus.focus === "function") {
        returnFocus.focus();
      }
      resolve(confirmed);
    }
    const onAbort = () => finish(false);

    const showError = (message) => {
      error.textContent = message;
      error.hidden = false;
      password.setAttribute("aria-invalid", "true");
      password.setAttribute("aria-describedby", "reauth-error");
      password.focus();
      password.select();
    };

    // Escape fires "cancel"; close through finish() so the promise settles.
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(false);
    });
    dialog.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        finish(false);
      } else if (event.key === "Tab") {
        trapTab(dialog, event);
      }
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (submit.disabled) return;
      error.hidden = true;
      if (!password.value) {
        showError("Please enter your password.");
        return;
      }

      submit.disabled = true;
      submit.textContent = "Checking…";
      try {
        await api.reauthenticate(password.value);
        finish(true);
      } catch (failure) {
        if (done) return;
        password.value = "";
        showError(reauthErrorMessage(failure));
      } finally {
        submit.disabled = false;
        submit.textContent = "Confirm";
      }
    });

    if (signal) {
      if (signal.aborted) {
        resolve(false);
        return;
      }
      signal.addEventListener("abort", onAbort);
    }
    document.body.append(dialog);
    dialog.showModal();
    password.focus();
  });
}

/** Keep Tab and Shift+Tab on the dialog's own controls. */
function trapTab(dialog, event) {
  const focusable = [...dialog.querySelectorAll("button, input, select, textarea, a[href]")]
    .filter((el) => !el.disabled && !el.hidden && el.getAttribute("tabindex") !== "-1");
  if (focusable.length === 0) return;
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  const active = document.activeElement;
  if (event.shiftKey && (active === first || !dialog.contains(active))) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (active === last || !dialog.contains(active))) {
    event.preventDefault();
    first.focus();
  }
}

function reauthErrorMessage(failure) {
  if (!(failure instanceof api.ApiError)) return "Something went wrong. Please try again.";
  if (failure.isNetwork) return "Cannot reach the server. Check your connection and try again.";
  if (failure.code === "invalid_credentials") return "That is not your password. Please try again.";
  if (failure.status === 429) return api.rateLimitMessage(failure);
  return "The server had a problem. Please try again in a moment.";
}
