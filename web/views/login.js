// Sign-in page: company, email, password, remember me.
//
// A wrong company, email or password all get the same message, as the
// server makes them indistinguishable on purpose.

import * as api from "../api.js";
import { h } from "../dom.js";

// The company slug is not secret and is typed on every sign-in, so the last
// one used is remembered on this device. Email and password never are.
const COMPANY_KEY = "kaizen.company";

export function loginView(root, context) {
  const notice = context.takeNotice();

  const company = field("login-company", "Company", {
    type: "text", name: "company", autocomplete: "organization", autocapitalize: "none",
    spellcheck: "false", required: true, value: readCompany(),
  }, "The short name of your company, for example acme.");
  const email = field("login-email", "Email", {
    type: "email", name: "email", autocomplete: "username", autocapitalize: "none",
    spellcheck: "false", required: true,
  });
  const password = field("login-password", "Password", {
    type: "password", name: "password", autocomplete: "current-password", required: true,
  });
  const remember = h("input", { type: "checkbox", id: "login-remember", name: "remember_me",
    "data-testid": "login-remember" });
  const submit = h("button", { type: "submit", class: "button button-primary button-wide",
    "data-testid": "login-submit", text: "Sign in" });
  const error = h("p", { class: "notice notice-error", id: "login-error", role: "alert",
    "data-testid": "login-error", hidden: true });

  const form = h("form", { class: "card login-form", novalidate: true },
    company.wrapper, email.wrapper, password.wrapper,
    h("div", { class: "check" }, remember,
      h("label", { for: "login-remember", text: "Keep me signed in on this device" })),
    error,
    submit);

  root.append(
    h("div", { class: "login" },
      h("h1", { text: "Sign in to Kaizen" }),
      notice ? h("p", { class: "notice notice-info", role: "status", "data-testid": "login-notice", text: notice }) : null,
      form));

  const showError = (message, focusOn) => {
    error.textContent = message;
    error.hidden = false;
    if (focusOn) focusOn.focus();
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;

    // Say which field is missing before bothering the server.
    const values = {
      company: company.input.value.trim().toLowerCase(),
      email: email.input.value.trim(),
      password: password.input.value,
    };
    for (const [f, name] of [[company, "company"], [email, "email"], [password, "password"]]) {
      f.input.removeAttribute("aria-invalid");
      if (!values[name]) {
        f.input.setAttribute("aria-invalid", "true");
        showError(`Please enter your ${f.label.toLowerCase()}.`, f.input);
        return;
      }
    }

    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      const answer = await api.login(values.company, values.email, values.password, remember.checked);
      if (context.signal.aborted) return;
      // Limitation: 2-step sign-in is not part of the contract yet, so any
      // answer other than "signed_in" stops here with a message.
      if (!answer || answer.status !== "signed_in" || !answer.user) {
        showError("This account needs a sign-in step that this page does not support yet.");
        return;
      }
      saveCompany(values.company);
      context.signedIn(answer.user);
    } catch (failure) {
      if (context.signal.aborted) return;
      password.input.value = "";
      showError(loginErrorMessage(failure), failure.status === 401 ? password.input : null);
    } finally {
      submit.disabled = false;
      submit.textContent = "Sign in";
    }
  });

  // Start where the user has something to type.
  queueMicrotask(() => (company.input.value ? email.input : company.input).focus());
}

/** The words for a failed sign-in, chosen by status and code. */
export function loginErrorMessage(failure) {
  if (!(failure instanceof api.ApiError)) return "Something went wrong. Please try again.";
  if (failure.isNetwork) return "Cannot reach the server. Check your connection and try again.";
  if (failure.status === 401) return "Wrong company, email or password.";
  if (failure.status === 429) {
    const wait = failure.retryAfter;
    return wait
      ? `Too many sign-in attempts. Please wait ${wait} second${wait === 1 ? "" : "s"} and try again.`
      : "Too many sign-in attempts. Please wait a minute and try again.";
  }
  if (failure.status === 403) return failure.message || "Signing in is not allowed from here.";
  if (failure.status === 400 || failure.status === 422) {
    return failure.message || "Please check the company, email and password.";
  }
  return "The server had a problem. Please try again in a moment.";
}

function field(testid, label, attrs, hint) {
  const input = h("input", { id: testid, class: "input", "data-testid": testid, ...attrs });
  const hintEl = hint ? h("p", { class: "hint", id: `${testid}-hint`, text: hint }) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  const wrapper = h("div", { class: "field" }, h("label", { for: testid, text: label }), input, hintEl);
  return { input, wrapper, label };
}

function readCompany() {
  try {
    return localStorage.getItem(COMPANY_KEY) || "";
  } catch {
    return "";
  }
}

function saveCompany(slug) {
  try {
    localStorage.setItem(COMPANY_KEY, slug);
  } catch {
    // Storage may be disabled; remembering the company is only a convenience.
  }
}
