// Password reset, reachable without a session.
//
// #/reset-request asks for a link by email (POST /auth/password-reset). The
// server answers 202 whether or not the account exists, so the page always
// says the same thing and cannot be used to find out who has an account.
//
// The emailed link opens #/reset/<token>, where a new password is chosen
// (POST /auth/password-reset/complete). That ends every session of the user
// and signs nobody in: the user signs in afterwards, second step included.

import * as api from "../api.js";
import { h } from "../dom.js";
import { strengthMeter } from "../strength.js";
import { readCompany } from "./login.js";

const SENT = "If that account exists, we emailed a link. It works for 30 minutes.";

// The floor of every company's minimum; the server knows the real one.
const MIN_LENGTH = 8;

/** #/reset-request: company and email, then the same answer for everyone. */
export function resetRequestView(root, context) {
  const { signal } = context;
  const company = input("reset-company", {
    type: "text", name: "company", autocomplete: "organization", autocapitalize: "none",
    spellcheck: "false", required: true, value: readCompany(),
  });
  const email = input("reset-email", {
    type: "email", name: "email", autocomplete: "username", autocapitalize: "none",
    spellcheck: "false", required: true,
  });
  const submit = h("button", { type: "submit", class: "button button-primary button-wide",
    "data-testid": "reset-request-submit", text: "Email me a link" });
  const message = h("p", { class: "notice", "data-testid": "reset-request-message", hidden: true });

  const form = h("form", { class: "card login-form", novalidate: true, "aria-label": "Ask for a reset link" },
    h("p", { text: "Enter your company and the email you sign in with. We will email you a link to choose a new password." }),
    h("div", { class: "field" }, h("label", { for: "reset-company", text: "Company" }), company,
      h("p", { class: "hint", id: "reset-company-hint", text: "The short name of your company, for example acme." })),
    h("div", { class: "field" }, h("label", { for: "reset-email", text: "Email" }), email),
    message,
    submit,
    h("p", { class: "login-links" }, h("a", { href: "#/login", text: "Back to sign in" })));
  company.setAttribute("aria-describedby", "reset-company-hint");

  root.append(h("div", { class: "login" }, h("h1", { text: "Reset your password" }), form));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.getAttribute("aria-disabled") === "true") return;
    hide(message);
    const values = { company: company.value.trim().toLowerCase(), email: email.value.trim() };
    for (const [el, name] of [[company, "company"], [email, "email"]]) {
      el.removeAttribute("aria-invalid");
      if (!values[name]) {
        el.setAttribute("aria-invalid", "true");
        show(message, "error", `Please enter your ${name}.`);
        el.focus();
        return;
      }
    }

    submit.setAttribute("aria-disabled", "true");
    submit.textContent = "Sending…";
    try {
      await api.requestPasswordReset(values.company, values.email);
      if (signal.aborted) return;
      show(message, "success", SENT);
      submit.textContent = "Email me a new link";
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      submit.textContent = "Email me a link";
      show(message, "error", failureMessage(error, "The link could not be requested. Please try again."));
    } finally {
      submit.removeAttribute("aria-disabled");
    }
  });

  queueMicrotask(() => (company.value ? email : company).focus());
}

/** #/reset/<token>: a new password, typed twice, with the strength meter. */
export function resetView(root, context, token) {
  const { signal } = context;
  const password = input("reset-new-password", {
    type: "password", name: "new_password", autocomplete: "new-password", required: true,
    "aria-describedby": "reset-new-password-hint",
  });
  const confirm = input("reset-confirm-password", {
    type: "password", name: "confirm_password", autocomplete: "new-password", required: true,
  });
  const meter = strengthMeter(password, { signal });
  const submit = h("button", { type: "submit", class: "button button-primary button-wide",
    "data-testid": "reset-submit", text: "Set new password" });
  const message = h("p", { class: "notice server-text", "data-testid": "reset-message", hidden: true });

  const form = h("form", { class: "card login-form", novalidate: true, "aria-label": "Choose a new password" },
    h("div", { class: "field" },
      h("label", { for: "reset-new-password", text: "New password" }), password,
      h("p", { class: "hint", id: "reset-new-password-hint",
        text: `At least ${MIN_LENGTH} characters (your company may ask for more); long passphrases are best.` }),
      meter.element),
    h("div", { class: "field" },
      h("label", { for: "reset-confirm-password", text: "New password again" }), confirm),
    message,
    submit,
    // An expired or used link is only known once the server says so.
    h("p", { class: "login-links" }, h("a", { href: "#/reset-request", text: "Ask for a new link" })));
  const done = h("p", { class: "login-links", hidden: true }, h("a", { href: "#/login", text: "Go to sign in" }));
  const heading = h("h1", { text: "Choose a new password" });
  const intro = h("p", { class: "hint", text: "Every device signed in to your account will be signed out." });

  root.append(h("div", { class: "login" }, heading, intro, form, done));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.getAttribute("aria-disabled") === "true") return;
    hide(message);
    for (const el of [password, confirm]) el.removeAttribute("aria-invalid");

    // Typing mistakes first; the password rules are the server's.
    if (!password.value) return fieldError(password, "Please enter a new password.");
    if ([...password.value].length < MIN_LENGTH) {
      return fieldError(password, `The new password needs at least ${MIN_LENGTH} characters.`);
    }
    if (confirm.value !== password.value) {
      return fieldError(confirm, "The two passwords are not the same.");
    }

    submit.setAttribute("aria-disabled", "true");
    submit.textContent = "Saving…";
    try {
      await api.completePasswordReset(token, password.value);
      if (signal.aborted) return;
      password.value = "";
      confirm.value = "";
      meter.reset();
      form.hidden = true;
      intro.hidden = true;
      heading.textContent = "Password changed";
      done.hidden = false;
      // Every session ended, this tab's included; the app must not act signed in.
      context.sessionEnded();
      form.after(message);
      show(message, "success", "Password changed. Sign in with it.");
      done.querySelector("a").focus();
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      if (error instanceof api.ApiError && error.status === 422) {
        // The server's words: too weak, too common, or the link is expired or used.
        show(message, "error", error.message);
        password.focus();
      } else {
        show(message, "error", failureMessage(error, "The password could not be changed. Please try again."));
      }
    } finally {
      submit.removeAttribute("aria-disabled");
      submit.textContent = "Set new password";
    }
  });

  function fieldError(el, text) {
    el.setAttribute("aria-invalid", "true");
    show(message, "error", text);
    el.focus();
  }

  queueMicrotask(() => password.focus());
}

function input(testid, attrs) {
  return h("input", { id: testid, class: "input", "data-testid": testid, ...attrs });
}

/** Show a notice line: `kind` is "success" or "error". */
function show(el, kind, text) {
  el.classList.remove("notice-success", "notice-error");
  el.classList.add(kind === "error" ? "notice-error" : "notice-success");
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  el.dataset.kind = kind;
  el.textContent = text;
  el.hidden = false;
}

function hide(el) {
  el.hidden = true;
  el.textContent = "";
}

function failureMessage(error, fallback) {
  if (!(error instanceof api.ApiError)) return fallback;
  if (error.isNetwork) return "Cannot reach the server. Check your connection and try again.";
  if (error.status === 429) return api.rateLimitMessage(error);
  if (error.status === 400 || error.status === 422) return error.message;
  return fallback;
}
