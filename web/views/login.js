// Sign-in page: company, email, password, remember me; then, when the
// account has one, the second step.
//
// A wrong company, email or password all get the same message, as the
// server makes them indistinguishable on purpose.
//
// The password can leave the session half signed in:
// - `second_factor_required`: a code from the authenticator app, a text
//   message (sent on request with POST /auth/second-factor/sms) or a
//   recovery code finishes it, with POST /auth/second-factor;
// - `second_factor_enrollment_required`: the company requires 2-step
//   verification and this user has none yet, so the user sets up an app or
//   text messages (no password dialog: the password was just given), saves
//   the recovery codes, and is then signed in.
// All steps stay on #/login; "Back to sign in" ends the half session.

import * as api from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { setupPanel, recoveryCodesPanel, digitsOf } from "../authenticator.js";
import { smsSetupPanel } from "../sms.js";

// The company slug is not secret and is typed on every sign-in, so the last
// one used is remembered on this device. Email and password never are.
const COMPANY_KEY = "kaizen.company";

const TOO_MANY_CODES = "Too many wrong codes. Sign in again.";
const SIGN_IN_EXPIRED = "Your sign-in has expired. Sign in again.";

export function loginView(root, context) {
  const { signal } = context;
  const notice = context.takeNotice();
  const heading = h("h1", { text: "Sign in to Kaizen" });
  const noticeEl = notice
    ? h("p", { class: "notice notice-info", role: "status", "data-testid": "login-notice", text: notice })
    : null;
  const body = h("div", { class: "login-body" });
  root.append(h("div", { class: "login" }, heading, noticeEl, body));

  // What the password step was given, for the steps after it and for coming back.
  let typed = { company: readCompany(), email: "" };

  // A running "try again in N seconds" countdown, stopped on every step change.
  let countdown = null;
  const stopCountdown = () => {
    if (countdown) clearInterval(countdown);
    countdown = null;
  };
  signal.addEventListener("abort", stopCountdown);

  passwordStep(null);

  /** The notice that led here ("You have signed out.") is past once the password is right. */
  function hideNotice() {
    if (noticeEl) noticeEl.hidden = true;
  }

  /** Step 1: company, email, password. `message` is an error to show at once. */
  function passwordStep(message) {
    stopCountdown();
    heading.textContent = "Sign in to Kaizen";
    document.title = "Sign in — Kaizen";

    const company = field("login-company", "Company", {
      type: "text", name: "company", autocomplete: "organization", autocapitalize: "none",
      spellcheck: "false", required: true, value: typed.company,
    }, "The short name of your company, for example acme.");
    const email = field("login-email", "Email", {
      type: "email", name: "email", autocomplete: "username", autocapitalize: "none",
      spellcheck: "false", required: true, value: typed.email,
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
      submit,
      h("p", { class: "login-links" },
        h("a", { href: "#/reset-request", "data-testid": "forgot-password", text: "Forgot password?" })));
    replaceChildren(body, form);

    const showError = (text, focusOn) => {
      error.textContent = text;
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
      typed = { company: values.company, email: values.email };

      submit.disabled = true;
      submit.textContent = "Signing in…";
      try {
        const answer = await api.login(values.company, values.email, values.password, remember.checked);
        if (signal.aborted) return;
        const status = answer && answer.status;
        if (status === "signed_in" && answer.user) {
          saveCompany(values.company);
          context.signedIn(answer.user);
        } else if (status === "second_factor_required") {
          codeStep();
        } else if (status === "second_factor_enrollment_required") {
          enrollStep();
        } else {
          showError("The server answered in a way this page does not understand. Please reload and try again.");
        }
      } catch (failure) {
        if (signal.aborted) return;
        password.input.value = "";
        showError(loginErrorMessage(failure), failure.status === 401 ? password.input : null);
      } finally {
        submit.disabled = false;
        submit.textContent = "Sign in";
      }
    });

    if (message) {
      showError(message, null);
      queueMicrotask(() => password.input.focus());
    } else {
      // Start where the user has something to type.
      queueMicrotask(() => (company.input.value ? email.input : company.input).focus());
    }
  }

  /** End the half-done sign-in on the server (best effort), then start over. */
  async function backToPassword(message = null) {
    try {
      await api.logout();
    } catch {
      // Already void, or unreachable: the half session cannot do anything anyway.
    }
    if (!signal.aborted) passwordStep(message);
  }

  /** Step 2: a code from the authenticator app, a text message, or a recovery code. */
  function codeStep() {
    stopCountdown();
    hideNotice();
    heading.textContent = "2-step verification";
    document.title = "2-step verification — Kaizen";
    let method = "totp";

    const code = h("input", { type: "text", id: "second-factor-code", class: "input input-code", name: "code",
      required: true, spellcheck: "false", autocapitalize: "characters",
      "aria-describedby": "second-factor-code-hint", "data-testid": "second-factor-code" });
    const label = h("label", { for: "second-factor-code" });
    const hint = h("p", { class: "hint", id: "second-factor-code-hint" });
    const trust = h("input", { type: "checkbox", id: "second-factor-trust", name: "trust_device",
      "aria-describedby": "second-factor-trust-hint", "data-testid": "second-factor-trust" });
    const error = h("p", { class: "notice notice-error", id: "second-factor-error", role: "alert",
      "data-testid": "second-factor-error", hidden: true });
    const submit = h("button", { type: "submit", class: "button button-primary button-wide",
      "data-testid": "second-factor-submit", text: "Verify" });

    // Text messages: a button that sends a code, and what became of it.
    const sendSms = h("button", { type: "button", class: "button",
      "data-testid": "second-factor-send-sms", text: "Text me a code", on: { click: () => textMeACode() } });
    const smsStatus = h("p", { class: "notice notice-info", role: "status",
      "data-testid": "second-factor-sms-status", hidden: true });
    const smsRow = h("div", { class: "field sms-send", hidden: true }, sendSms, smsStatus);
    let smsWait = null;
    let smsSent = false;
    signal.addEventListener("abort", () => clearInterval(smsWait));

    // Each switch goes between the app and its own method.
    const useRecovery = h("button", { type: "button", class: "link-button",
      "data-testid": "second-factor-use-recovery", on: { click: () => {
        setMethod(method === "recovery" ? "totp" : "recovery");
        code.focus();
      } } });
    const useSms = h("button", { type: "button", class: "link-button",
      "data-testid": "second-factor-use-sms", on: { click: () => {
        setMethod(method === "sms" ? "totp" : "sms");
        (method === "sms" ? sendSms : code).focus();
      } } });
    const back = h("button", { type: "button", class: "link-button", text: "Back to sign in",
      on: { click: () => backToPassword() } });

    const form = h("form", { class: "card login-form", novalidate: true, "aria-labelledby": "second-factor-intro" },
      h("p", { id: "second-factor-intro", text: `Your password was right${typed.email ? ` for ${typed.email}` : ""}. ` +
        "One more step proves it is you." }),
      smsRow,
      h("div", { class: "field" }, label, code, hint),
      h("div", { class: "check check-top" }, trust,
        h("label", { for: "second-factor-trust", text: "Trust this device for 30 days" })),
      h("p", { class: "hint check-hint", id: "second-factor-trust-hint",
        text: "No code will be asked on this browser for 30 days. Leave it off on a shared computer." }),
      error,
      submit,
      h("p", { class: "login-links" }, useSms, useRecovery, back));
    replaceChildren(body, form);
    setMethod("totp");

    function setMethod(next) {
      method = next;
      code.value = "";
      error.hidden = true;
      code.removeAttribute("aria-invalid");
      smsRow.hidden = method !== "sms";
      useRecovery.textContent = method === "recovery" ? "Use a code from your app instead" : "Use a recovery code instead";
      useSms.textContent = method === "sms" ? "Use a code from your app instead" : "Get a code by text message instead";
      if (method === "totp") {
        label.textContent = "Code from your authenticator app";
        hint.textContent = "The 6 digits your app shows for Kaizen. They change every 30 seconds.";
      } else if (method === "sms") {
        label.textContent = "Code from the text message";
        hint.textContent = "Ask for a text above; the code in it works for 10 minutes.";
      } else {
        label.textContent = "Recovery code";
        hint.textContent = "One of the codes you saved when you set up 2-step verification, " +
          "like ABCDE-FGHIJ. Each works once.";
      }
      const digits = method !== "recovery";
      code.setAttribute("inputmode", digits ? "numeric" : "text");
      code.setAttribute("autocomplete", digits ? "one-time-code" : "off");
      code.setAttribute("maxlength", digits ? "9" : "32");
    }

    const showError = (text) => {
      error.textContent = text;
      error.hidden = false;
      code.setAttribute("aria-invalid", "true");
      code.focus();
      code.select();
    };

    /** The result of "Text me a code": `kind` is "info" or "error". */
    function smsResult(kind, text) {
      smsStatus.classList.toggle("notice-info", kind === "info");
      smsStatus.classList.toggle("notice-error", kind === "error");
      smsStatus.setAttribute("role", kind === "error" ? "alert" : "status");
      smsStatus.dataset.kind = kind;
      smsStatus.textContent = text;
      smsStatus.hidden = false;
    }

    /** POST /auth/second-factor/sms: a code for this sign-in, to the phone set up. */
    async function textMeACode() {
      if (sendSms.getAttribute("aria-disabled") === "true") return;
      error.hidden = true;
      smsStatus.hidden = true;
      sendSms.setAttribute("aria-disabled", "true");
      sendSms.textContent = "Sending…";
      let sent = false;
      let waitSeconds = 0;
      try {
        await api.sendSignInSms();
        if (signal.aborted) return;
        sent = true;
        smsResult("info", "We sent a code to your phone.");
        code.focus();
      } catch (failure) {
        if (signal.aborted || failure.name === "AbortError") return;
        if (failure instanceof api.ApiError && failure.status === 401) {
          // The pending sign-in is gone (expired, or voided by wrong codes).
          passwordStep(SIGN_IN_EXPIRED);
          return;
        }
        if (failure instanceof api.ApiError && failure.status === 429) {
          waitSeconds = Math.max(1, Number(failure.retryAfter) || 60);
        }
        smsResult("error", smsSendFailureMessage(failure));
      } finally {
        smsSent = smsSent || sent;
        sendSms.textContent = smsSent ? "Send another code" : "Text me a code";
        if (waitSeconds) holdSmsButton(waitSeconds);
        else sendSms.removeAttribute("aria-disabled");
      }
    }

    /** After a 429 on sending: no new text until the server's wait is over. */
    function holdSmsButton(seconds) {
      clearInterval(smsWait);
      const until = Date.now() + seconds * 1000;
      smsWait = setInterval(() => {
        if (Date.now() < until) return;
        clearInterval(smsWait);
        smsWait = null;
        sendSms.removeAttribute("aria-disabled");
        smsResult("info", "You can ask for a new code now.");
      }, 1000);
    }

    let busy = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy || countdown) return;
      error.hidden = true;
      code.removeAttribute("aria-invalid");

      // A typing mistake is caught here and does not count as a wrong code.
      let value;
      if (method === "totp") {
        value = digitsOf(code.value);
        if (value.length !== 6) return showError("Enter the 6 digits your authenticator app shows.");
      } else if (method === "sms") {
        value = digitsOf(code.value);
        if (value.length !== 6) return showError("Enter the 6 digits from the text message.");
      } else {
        value = code.value.trim();
        if (value.replace(/[^0-9a-z]/gi, "").length < 10) {
          return showError("Enter one of your recovery codes, like ABCDE-FGHIJ.");
        }
      }

      // aria-disabled rather than disabled, so that focus stays on the button.
      busy = true;
      submit.setAttribute("aria-disabled", "true");
      submit.textContent = "Checking…";
      try {
        const answer = await api.verifySecondFactor(method, value, trust.checked);
        if (signal.aborted) return;
        if (answer && answer.status === "signed_in" && answer.user) {
          saveCompany(typed.company);
          context.signedIn(answer.user);
          return;
        }
        showError("The server answered in a way this page does not understand. Please sign in again.");
      } catch (failure) {
        if (signal.aborted || failure.name === "AbortError") return;
        code.value = "";
        if (!(failure instanceof api.ApiError)) {
          showError("Something went wrong. Please try again.");
        } else if (failure.code === "invalid_credentials") {
          showError(method === "sms" ? "That code is not right, or it is more than 10 minutes old."
            : "That code is not right.");
        } else if (failure.status === 401) {
          // Five wrong codes void the pending sign-in: the password is due again.
          passwordStep(failure.code === "unauthenticated" ? TOO_MANY_CODES : SIGN_IN_EXPIRED);
        } else if (failure.status === 429) {
          showError(api.rateLimitMessage(failure));
          waitBeforeRetry(failure.retryAfter, submit, error);
        } else if (failure.isNetwork) {
          showError("Cannot reach the server. Check your connection and try again.");
        } else {
          showError("The server had a problem. Please try again in a moment.");
        }
      } finally {
        busy = false;
        if (!countdown) submit.removeAttribute("aria-disabled");
        submit.textContent = "Verify";
      }
    });

    queueMicrotask(() => code.focus());
  }

  /**
   * After a 429 (its message already shown in `error`): refuse to send until
   * the server's wait is over, since sending early would only be refused
   * again, then say that the user can try again.
   */
  function waitBeforeRetry(seconds, submit, error) {
    stopCountdown();
    const until = Date.now() + Math.max(1, Number(seconds) || 60) * 1000;
    submit.setAttribute("aria-disabled", "true");
    countdown = setInterval(() => {
      if (Date.now() < until) return;
      stopCountdown();
      submit.removeAttribute("aria-disabled");
      error.textContent = "You can try again now.";
    }, 1000);
  }

  /** Step 2 when the company requires 2-step verification and the user has none. */
  function enrollStep() {
    stopCountdown();
    hideNotice();
    heading.textContent = "Set up 2-step verification";
    document.title = "Set up 2-step verification — Kaizen";
    const content = h("div", {});
    const why = h("p", { class: "notice notice-info", role: "status",
      text: "Your company requires 2-step verification. Set up an authenticator app or text messages " +
        "to finish signing in." });

    // The app is offered first; the switch goes to text messages and back.
    let method = "totp";
    const switchMethod = h("button", { type: "button", class: "link-button",
      "data-testid": "second-factor-use-sms", on: { click: () => {
        method = method === "totp" ? "sms" : "totp";
        start();
      } } });
    const choice = h("p", { class: "login-links" }, switchMethod);
    replaceChildren(body, h("div", { class: "card enroll" }, why, content, choice));

    // Counts the starts, so that a setup answered after a switch is dropped.
    let generation = 0;
    start();

    function start() {
      generation += 1;
      switchMethod.textContent = method === "totp" ? "Use text messages instead" : "Use an authenticator app instead";
      if (method === "totp") startApp(generation);
      else startSms();
    }

    async function startApp(mine) {
      replaceChildren(content, h("p", { class: "loading", role: "status", text: "Preparing your setup…" }));
      try {
        const setup = await api.startTotp(true);
        if (signal.aborted || mine !== generation) return;
        const panel = setupPanel({
          setup,
          signal,
          enrolling: true,
          onConfirmed: (codes) => showCodes("totp", codes),
          onCancel: () => backToPassword(),
          cancelLabel: "Back to sign in",
          onSessionLost: () => passwordStep(SIGN_IN_EXPIRED),
        });
        replaceChildren(content, panel.element);
        panel.focus();
      } catch (failure) {
        if (signal.aborted || failure.name === "AbortError" || mine !== generation) return;
        if (failure instanceof api.ApiError && failure.status === 401) {
          passwordStep(SIGN_IN_EXPIRED);
          return;
        }
        replaceChildren(content,
          h("p", { class: "notice notice-error server-text", role: "alert", text: enrollErrorMessage(failure) }),
          h("div", { class: "form-actions" },
            h("button", { type: "button", class: "button", text: "Try again", on: { click: start } }),
            h("button", { type: "button", class: "button", text: "Back to sign in",
              on: { click: () => backToPassword() } })));
      }
    }

    // No password dialog here: the password was just given.
    function startSms() {
      const panel = smsSetupPanel({
        signal,
        enrolling: true,
        send: (phone) => api.startSms(phone, true),
        onConfirmed: (codes) => showCodes("sms", codes),
        onCancel: () => backToPassword(),
        cancelLabel: "Back to sign in",
        onSessionLost: () => passwordStep(SIGN_IN_EXPIRED),
      });
      replaceChildren(content, panel.element);
      panel.focus();
    }

    function showCodes(chosen, codes) {
      heading.textContent = "2-step verification is on";
      why.hidden = true;
      choice.hidden = true;
      const error = h("p", { class: "notice notice-error", role: "alert", hidden: true });
      const next = h("button", { type: "button", class: "button button-primary",
        "data-testid": "enroll-continue", text: "Continue to Kaizen", on: { click: async () => {
          if (next.getAttribute("aria-disabled") === "true") return;
          next.setAttribute("aria-disabled", "true");
          error.hidden = true;
          try {
            // The enrolling session became a full one when the code was accepted.
            const user = await api.me({ expect401: true });
            if (signal.aborted) return;
            saveCompany(typed.company);
            context.signedIn(user);
          } catch (failure) {
            if (signal.aborted) return;
            if (failure instanceof api.ApiError && failure.status === 401) {
              passwordStep(SIGN_IN_EXPIRED);
              return;
            }
            error.textContent = failure instanceof api.ApiError && failure.isNetwork
              ? "Cannot reach the server. Check your connection and try again."
              : "The server had a problem. Please try again in a moment.";
            error.hidden = false;
          } finally {
            next.removeAttribute("aria-disabled");
          }
        } } });
      replaceChildren(content,
        h("p", { class: "notice notice-success", role: "status", text: chosen === "totp"
          ? "Your authenticator app is set up. From now on, signing in asks for a code from it."
          : "Text messages are set up. From now on, signing in asks for a code texted to your phone." }),
        recoveryCodesPanel(codes, { actions: [next], owner: { email: typed.email, company: typed.company } }),
        error);
      heading.focus();
    }
  }
}

/** The words for a text that could not be sent at sign-in. */
function smsSendFailureMessage(failure) {
  if (!(failure instanceof api.ApiError)) return "Something went wrong. Please try again.";
  if (failure.isNetwork) return "Cannot reach the server. Check your connection and try again.";
  if (failure.status === 409) {
    return "No phone number is set up; use your authenticator app or a recovery code.";
  }
  if (failure.status === 429) return api.rateLimitMessage(failure);
  return "The server had a problem. Please try again in a moment.";
}

function enrollErrorMessage(failure) {
  if (!(failure instanceof api.ApiError)) return "Something went wrong. Please try again.";
  if (failure.isNetwork) return "Cannot reach the server. Check your connection and try again.";
  if (failure.status === 429) return api.rateLimitMessage(failure);
  if (failure.status === 409) return failure.message;
  return "The setup could not be started. Please try again in a moment.";
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

/** The company slug last used on this device, or "". */
export function readCompany() {
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
