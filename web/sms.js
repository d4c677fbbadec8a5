// Setting up text messages (SMS codes), shared by "Your account" and the
// enrollment step of sign-in.
//
// Two steps in one panel. First the phone number: the caller's `send`
// (POST /me/second-factor/sms, behind the password dialog on the account
// page) texts a code to it, which proves the number is the user's. Then that
// code: POST …/sms/confirm turns the method on and answers ten recovery
// codes, which the caller shows with `recoveryCodesPanel`. The number typed
// lives only in this panel; the server keeps it and shows it masked.

import * as api from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { digitsOf, codeFailureMessage } from "./authenticator.js";
import { ReauthenticationCancelled } from "./reauth.js";

/**
 * "+1 (555) 123-4567" → "+15551234567": the spaces, dashes, dots and
 * brackets people type around the digits go; the rules are the server's.
 */
export function compactPhone(text) {
  return String(text || "").trim().replace(/[\s().-]/g, "");
}

/**
 * The phone step, then the code step. Calls `onConfirmed(codes)` once the
 * server accepts the code.
 *
 * Options: `send(phone)` (starts the setup; resolves on the 202), `signal`,
 * `enrolling` (the half-signed-in enrollment session), `onConfirmed`,
 * `onAlreadySetUp` (a 409 on sending; without it the server's words are
 * shown), `onCancel` (adds a Cancel button when given), `cancelLabel`,
 * `onSessionLost` (enrollment only: the pending sign-in is gone),
 * `cancelledMessage` (shown when the password dialog is closed).
 */
export function smsSetupPanel(options) {
  const { send, signal, enrolling = false, onConfirmed, onAlreadySetUp, onCancel,
    cancelLabel = "Cancel", onSessionLost, cancelledMessage = "Not set up: this needs your password." } = options;

  // One message line, moved into whichever step is showing.
  const error = h("p", { class: "notice notice-error server-text", id: "sms-error", role: "alert",
    "data-testid": "sms-error", hidden: true });
  const panel = h("div", { class: "sms-setup" });
  let phoneNumber = "";
  let busy = false;
  let focusTarget = null;

  phoneStep();

  function cancelButton() {
    return onCancel
      ? h("button", { type: "button", class: "button", text: cancelLabel, on: { click: () => onCancel() } })
      : null;
  }

  function hideError(input) {
    error.hidden = true;
    error.textContent = "";
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", `${input.id}-hint`);
  }

  /** Show `message`; `invalid` marks what was typed as the cause. */
  function showError(message, input, invalid = true) {
    error.textContent = message;
    error.hidden = false;
    if (invalid) input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", `${input.id}-hint sms-error`);
    input.focus();
    input.select();
  }

  /** Step 1: the number, and "Text me a code". */
  function phoneStep() {
    const phone = h("input", { type: "tel", id: "sms-phone", class: "input", name: "phone",
      inputmode: "tel", autocomplete: "tel", spellcheck: "false", maxlength: "32",
      value: phoneNumber, placeholder: "+15551234567", "aria-describedby": "sms-phone-hint",
      "data-testid": "sms-phone" });
    const start = h("button", { type: "submit", class: "button button-primary",
      "data-testid": "sms-start", text: "Text me a code" });

    const form = h("form", { class: "sms-phone-step", novalidate: true, "aria-label": "Set up text messages" },
      h("p", { text: "When you sign in, Kaizen can text a code to this number. " +
        "It sends one now, to check the number is yours." }),
      h("div", { class: "field" },
        h("label", { for: "sms-phone", text: "Mobile phone number" }),
        phone,
        h("p", { class: "hint", id: "sms-phone-hint",
          text: "In international form: + and the country code, then the number, for example +15551234567." })),
      error,
      h("div", { class: "form-actions" }, start, cancelButton()));
    hideError(phone);
    replaceChildren(panel, form);
    focusTarget = phone;

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      hideError(phone);
      const number = compactPhone(phone.value);
      if (!number) {
        showError("Enter your mobile phone number, for example +15551234567.", phone);
        return;
      }

      // aria-disabled rather than disabled, so that focus stays on the button.
      busy = true;
      start.setAttribute("aria-disabled", "true");
      start.textContent = "Sending…";
      try {
        await send(number);
        if (signal && signal.aborted) return;
        phoneNumber = number;
        codeStep(`We sent a code to ${number}. It works for 10 minutes.`);
      } catch (failure) {
        if ((signal && signal.aborted) || failure.name === "AbortError") return;
        if (failure instanceof api.ApiError && failure.status === 409 && onAlreadySetUp) {
          onAlreadySetUp(failure);
        } else if (enrolling && failure instanceof api.ApiError && failure.status === 401 && onSessionLost) {
          onSessionLost();
        } else {
          showError(sendFailureMessage(failure, cancelledMessage), phone, isUnprocessable(failure));
        }
      } finally {
        busy = false;
        start.removeAttribute("aria-disabled");
        start.textContent = "Text me a code";
      }
    });
  }

  /** Step 2: the code from the text message, and "Turn on". */
  function codeStep(sentText) {
    const code = h("input", { type: "text", id: "sms-code", class: "input input-code", name: "code",
      inputmode: "numeric", autocomplete: "one-time-code", maxlength: "9", spellcheck: "false",
      "aria-describedby": "sms-code-hint", "data-testid": "sms-code" });
    const confirm = h("button", { type: "submit", class: "button button-primary",
      "data-testid": "sms-confirm", text: "Turn on" });
    const sent = h("p", { class: "notice notice-info", role: "status", text: sentText });
    const resend = h("button", { type: "button", class: "link-button", text: "Send a new code",
      on: { click: () => sendAgain() } });
    const change = h("button", { type: "button", class: "link-button", text: "Use a different number",
      on: { click: () => {
        if (!busy) phoneStep();
        focusTarget.focus();
      } } });

    const form = h("form", { class: "sms-code-step", novalidate: true, "aria-label": "Confirm your phone number" },
      sent,
      h("div", { class: "field" },
        h("label", { for: "sms-code", text: "Enter the 6-digit code from the text message" }),
        code,
        h("p", { class: "hint", id: "sms-code-hint", text: "It can take a minute to arrive." })),
      error,
      h("div", { class: "form-actions" }, confirm, cancelButton()),
      h("p", { class: "form-links" }, resend, change));
    hideError(code);
    replaceChildren(panel, form);
    focusTarget = code;
    code.focus();

    async function sendAgain() {
      if (busy) return;
      hideError(code);
      busy = true;
      resend.setAttribute("aria-disabled", "true");
      try {
        await send(phoneNumber);
        if (signal && signal.aborted) return;
        sent.textContent = `We sent a new code to ${phoneNumber}. Only the newest code works.`;
        code.value = "";
        code.focus();
      } catch (failure) {
        if ((signal && signal.aborted) || failure.name === "AbortError") return;
        if (enrolling && failure instanceof api.ApiError && failure.status === 401 && onSessionLost) {
          onSessionLost();
        } else {
          showError(sendFailureMessage(failure, cancelledMessage), code, false);
        }
      } finally {
        busy = false;
        resend.removeAttribute("aria-disabled");
      }
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      hideError(code);
      const digits = digitsOf(code.value);
      if (digits.length !== 6) {
        showError("Enter the 6 digits from the text message.", code);
        return;
      }

      busy = true;
      confirm.setAttribute("aria-disabled", "true");
      confirm.textContent = "Checking…";
      try {
        const answer = await api.confirmSms(digits, enrolling);
        if (signal && signal.aborted) return;
        onConfirmed(answer && Array.isArray(answer.recovery_codes) ? answer.recovery_codes : []);
      } catch (failure) {
        if ((signal && signal.aborted) || failure.name === "AbortError") return;
        if (failure instanceof api.ApiError && failure.code === "invalid_credentials") {
          code.value = "";
          showError("That code is not right, or it is more than 10 minutes old. " +
            "Check the text message, or send a new code.", code);
        } else if (enrolling && failure instanceof api.ApiError && failure.status === 401 && onSessionLost) {
          onSessionLost();
        } else {
          showError(codeFailureMessage(failure), code, isUnprocessable(failure));
        }
      } finally {
        busy = false;
        confirm.removeAttribute("aria-disabled");
        confirm.textContent = "Turn on";
      }
    });
  }

  return { element: panel, focus: () => focusTarget && focusTarget.focus() };
}

/** Whether the server refused what was typed (422), rather than the moment or the network. */
function isUnprocessable(failure) {
  return failure instanceof api.ApiError && failure.status === 422;
}

/** The words for a code that could not be sent. */
function sendFailureMessage(failure, cancelledMessage) {
  if (failure instanceof ReauthenticationCancelled) return cancelledMessage;
  if (!(failure instanceof api.ApiError)) return "Something went wrong. Please try again.";
  if (failure.isNetwork) return "Cannot reach the server. Check your connection and try again.";
  if (failure.status === 429) return api.rateLimitMessage(failure);

  // 422: the number is not in international form; 409: already set up. The
  // server's own words say which.
  if (failure.status === 422 || failure.status === 409) return failure.message;
  return "The code could not be sent. Please try again in a moment.";
}
