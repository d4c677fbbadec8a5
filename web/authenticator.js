// Setting up an authenticator app, shared by "Your account" and the
// enrollment step of sign-in (when the company requires 2-step verification),
// and the recovery codes panel, which text messages (sms.js) use as well.
//
// The caller starts the setup (POST /me/second-factor/totp, with or without
// the password dialog) and hands the answer to `setupPanel`, which shows the
// QR code, the key for typing and the code field, and confirms the code with
// POST …/totp/confirm. The ten recovery codes it answers are shown once by
// `recoveryCodesPanel` and live only in that panel: nothing here is stored.

import * as api from "./api.js";
import { h } from "./dom.js";

/**
 * The QR code as an <img>. The server renders it as an SVG document; it goes
 * in as a data: URL (allowed by the page's `img-src`), never as markup, so
 * nothing in it can run or touch the page.
 */
export function qrImage(svgText) {
  return h("img", {
    class: "totp-qr",
    src: `data:image/svg+xml;base64,${base64Utf8(String(svgText || ""))}`,
    width: "220",
    height: "220",
    alt: "QR code to scan with your authenticator app",
    "data-testid": "totp-qr",
  });
}

/** Base64 of a string's UTF-8 bytes (btoa alone only takes Latin-1). */
export function base64Utf8(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** "ABCDEFGHIJ" → "ABCD EFGH IJ": easier to type into an app by hand. */
export function groupInFours(secret) {
  return String(secret || "").replace(/\s+/g, "").replace(/(.{4})(?=.)/g, "$1 ");
}

/** Only the digits of what was typed ("123 456" and "123-456" both work). */
export function digitsOf(text) {
  return String(text || "").replace(/\D/g, "");
}

/**
 * The setup step: QR code, key, code field and Confirm. Resolves nothing;
 * calls `onConfirmed(codes)` once the server accepts a code.
 *
 * Options: `setup` (the answer of POST /me/second-factor/totp), `signal`,
 * `enrolling` (the half-signed-in enrollment session), `onConfirmed`,
 * `onCancel` (adds a Cancel button when given), `cancelLabel`,
 * `onSessionLost` (enrollment only: the pending sign-in is gone).
 */
export function setupPanel(options) {
  const { setup, signal, enrolling = false, onConfirmed, onCancel, cancelLabel = "Cancel",
    onSessionLost } = options;

  const code = h("input", {
    type: "text", id: "totp-code", class: "input input-code", name: "code",
    inputmode: "numeric", autocomplete: "one-time-code", maxlength: "9", spellcheck: "false",
    "aria-describedby": "totp-code-hint", "data-testid": "totp-code",
  });
  const error = h("p", { class: "notice notice-error", id: "totp-error", role: "alert",
    "data-testid": "totp-error", hidden: true });
  const confirm = h("button", { type: "submit", class: "button button-primary",
    "data-testid": "totp-confirm", text: "Turn on" });
  const cancel = onCancel
    ? h("button", { type: "button", class: "button", text: cancelLabel, on: { click: () => onCancel() } })
    : null;

  // On a phone the QR code cannot be scanned by the same phone: the otpauth
  // link opens the authenticator app directly.
  const uri = typeof setup.otpauth_uri === "string" && setup.otpauth_uri.startsWith("otpauth://")
    ? setup.otpauth_uri
    : null;

  const form = h("form", { class: "totp-setup", novalidate: true, "aria-label": "Set up an authenticator app" },
    h("ol", { class: "steps" },
      h("li", {},
        h("p", { text: "Open an authenticator app on your phone and add an account by scanning this QR code." }),
        h("div", { class: "qr-frame" }, qrImage(setup.qr_svg)),
        h("p", { class: "hint", text: "Can’t scan it? Choose to enter a key by hand and type this one (spaces do not matter):" }),
        h("code", { class: "secret", "data-testid": "totp-secret", text: groupInFours(setup.secret) }),
        uri ? h("p", { class: "hint" }, h("a", { href: uri, text: "Open in an authenticator app on this device" })) : null),
      h("li", {},
        h("div", { class: "field" },
          h("label", { for: "totp-code", text: "Enter the 6-digit code the app shows" }),
          code,
          h("p", { class: "hint", id: "totp-code-hint", text: "The code changes every 30 seconds." })))),
    error,
    h("div", { class: "form-actions" }, confirm, cancel));

  let busy = false;
  const showError = (message) => {
    error.textContent = message;
    error.hidden = false;
    code.setAttribute("aria-invalid", "true");
    code.setAttribute("aria-describedby", "totp-code-hint totp-error");
    code.focus();
    code.select();
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    error.hidden = true;
    code.removeAttribute("aria-invalid");
    code.setAttribute("aria-describedby", "totp-code-hint");
    const digits = digitsOf(code.value);
    if (digits.length !== 6) {
      showError("Enter the 6 digits your authenticator app shows.");
      return;
    }

    // aria-disabled rather than disabled, so that focus stays on the button.
    busy = true;
    confirm.setAttribute("aria-disabled", "true");
    confirm.textContent = "Checking…";
    try {
      const answer = await api.confirmTotp(digits, enrolling);
      if (signal && signal.aborted) return;
      const codes = answer && Array.isArray(answer.recovery_codes) ? answer.recovery_codes : [];
      onConfirmed(codes);
    } catch (failure) {
      if ((signal && signal.aborted) || failure.name === "AbortError") return;
      if (failure instanceof api.ApiError && failure.code === "invalid_credentials") {
        code.value = "";
        showError("That code is not right. Wait for the next one and try again.");
      } else if (enrolling && failure instanceof api.ApiError && failure.status === 401 && onSessionLost) {
        onSessionLost();
      } else {
        showError(codeFailureMessage(failure));
      }
    } finally {
      busy = false;
      confirm.removeAttribute("aria-disabled");
      confirm.textContent = "Turn on";
    }
  });

  return { element: form, focus: () => code.focus() };
}

/**
 * The ten recovery codes, shown once, with Copy and "Download as .txt".
 * `actions` (nodes) are appended after those buttons, e.g. Continue.
 * `owner` ({email, company}) heads the downloaded file.
 */
export function recoveryCodesPanel(codes, { actions = [], owner = {} } = {}) {
  const list = h("ul", { class: "recovery-codes", "data-testid": "recovery-codes",
    "aria-labelledby": "recovery-codes-heading" },
  ...codes.map((c) => h("li", { class: "recovery-code", "data-testid": "recovery-code", text: c })));
  const status = h("span", { class: "copy-status", role: "status" });

  const copy = h("button", { type: "button", class: "button", text: "Copy", on: { click: async () => {
    status.textContent = "";
    try {
      await navigator.clipboard.writeText(codes.join("\n"));
      status.textContent = "Copied.";
    } catch {
      // The clipboard needs permission (and a secure page); selecting still works.
      selectContents(list);
      status.textContent = "Could not copy. The codes are selected: copy them with Ctrl+C or ⌘C.";
    }
  } } });
  const download = h("button", { type: "button", class: "button", text: "Download as .txt",
    on: { click: () => {
      downloadText("kaizen-recovery-codes.txt", recoveryFileText(codes, owner));
      status.textContent = "Downloaded.";
    } } });

  return h("div", { class: "recovery" },
    h("h3", { id: "recovery-codes-heading", class: "recovery-heading", text: "Your recovery codes" }),
    h("p", { class: "notice notice-warning", role: "note" },
      h("strong", { text: "These codes are shown only once." }),
      " Save them now, somewhere safe such as a password manager. If your phone is lost, each code " +
        "signs you in once instead of a code from it."),
    list,
    h("div", { class: "form-actions" }, copy, download, status),
    actions.length ? h("div", { class: "form-actions recovery-continue" }, ...actions) : null);
}

function recoveryFileText(codes, { email, company }) {
  const who = [email, company ? `(${company})` : null].filter(Boolean).join(" ");
  return [
    `Kaizen recovery codes${who ? ` for ${who}` : ""}`,
    `Created ${new Date().toISOString().slice(0, 10)}. Each code works once.`,
    "",
    ...codes,
    "",
  ].join("\n");
}

/** Save text as a file through a temporary object URL. */
function downloadText(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started from the URL by now; it is not needed any more.
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function selectContents(el) {
  const range = document.createRange();
  range.selectNodeContents(el);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

/** The words for a failed code check that is not simply a wrong code. */
export function codeFailureMessage(failure) {
  if (!(failure instanceof api.ApiError)) return "Something went wrong. Please try again.";
  if (failure.isNetwork) return "Cannot reach the server. Check your connection and try again.";
  if (failure.status === 429) return api.rateLimitMessage(failure);
  if (failure.status === 422) return failure.message;
  return "The server had a problem. Please try again in a moment.";
}

