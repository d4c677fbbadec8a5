// "Your account": the user's own sessions, the password change and 2-step
// verification.
//
// Sessions come from GET /me/sessions; any other one can be ended with
// DELETE /me/sessions/{id} (there is no bulk call, so "Sign out all other
// sessions" ends them one by one). Changing the password, and turning 2-step
// verification on or off, end every other session on the server, so the
// list is reloaded afterwards.
//
// The API does not say whether the user already has an authenticator app, so
// the card offers "Set up" and learns from a 409 that one exists (then offers
// "Turn off"). Only the fact that this tab has just turned it on is kept, in
// sessionStorage; secrets and recovery codes never leave the page's memory.

import * as api from "../api.js";
import { h, replaceChildren, formatDateTime, formatRelative } from "../dom.js";
import { withReauthentication, ReauthenticationCancelled } from "../reauth.js";
import { setupPanel, recoveryCodesPanel } from "../authenticator.js";
import { strengthMeter } from "../strength.js";

// The floor of every company's minimum (the policy allows 8 to 128).
const DEFAULT_MIN_LENGTH = 8;

// sessionStorage key: the id of the user for whom this tab turned 2-step
// verification on (so another user signing in in this tab is not misled).
const TOTP_ENABLED_HERE = "kaizen.totp-enabled-here";

export function accountView(root, context) {
  const { user, signal } = context;
  const isHr = Array.isArray(user.roles) && user.roles.includes("hr_admin");

  // Sessions: heading, list, "sign out all others", and one message line.
  const sessionsHeading = h("h2", { id: "sessions-heading", tabindex: "-1", text: "Your sessions" });
  const sessionsBody = h("div", {},
    h("p", { class: "loading", role: "status", text: "Loading your sessions…" }));
  const sessionsMessage = h("p", { class: "notice", "data-testid": "sessions-message", hidden: true });
  const endOthers = h("button", { type: "button", class: "button", "data-testid": "sessions-end-others",
    text: "Sign out all other sessions", disabled: true, on: { click: () => endAllOthers() } });
  let sessions = [];

  // Password: current, new with a live length hint, submit, one message line.
  let minLength = DEFAULT_MIN_LENGTH;
  let minKnown = false;
  const current = h("input", { type: "password", id: "password-current", class: "input",
    name: "current_password", autocomplete: "current-password", required: true,
    "data-testid": "password-current" });
  const next = h("input", { type: "password", id: "password-new", class: "input",
    name: "new_password", autocomplete: "new-password", required: true,
    "aria-describedby": "password-new-hint password-new-count", "data-testid": "password-new" });
  const hint = h("p", { class: "hint", id: "password-new-hint" });
  const count = h("p", { class: "hint password-count", id: "password-new-count" });
  const submit = h("button", { type: "submit", class: "button button-primary",
    "data-testid": "password-submit", text: "Change password" });
  const passwordMessage = h("p", { class: "notice server-text", "data-testid": "password-message",
    hidden: true });
  const meter = strengthMeter(next, { signal, context: () => ({ company: user.company, email: user.email }) });
  const form = h("form", { class: "card account-form", novalidate: true, "aria-labelledby": "password-heading" },
    // A username field, hidden, lets password managers update the right entry.
    h("input", { type: "text", name: "username", autocomplete: "username", value: user.email || "",
      hidden: true, tabindex: "-1", "aria-hidden": "true" }),
    h("div", { class: "field" }, h("label", { for: "password-current", text: "Current password" }), current),
    h("div", { class: "field" }, h("label", { for: "password-new", text: "New password" }), next, hint, count,
      meter.element),
    passwordMessage,
    submit);

  // 2-step verification: one card whose content follows the steps.
  const twoStepHeading = h("h2", { id: "two-step-heading", tabindex: "-1", text: "2-step verification" });
  const twoStepCard = h("div", { class: "card account-form two-step" });
  const twoStepMessage = h("p", { class: "notice server-text", "data-testid": "totp-message", hidden: true });

  root.append(
    h("h1", { text: "Your account" }),
    h("p", { class: "meta", text: [user.name, user.email].filter(Boolean).join(" · ") }),
    h("section", { class: "section", "aria-labelledby": "sessions-heading" },
      sessionsHeading,
      h("p", { class: "hint", text: "Where you are signed in. Sign out anywhere you do not recognise, then change your password." }),
      sessionsMessage,
      sessionsBody,
      h("div", { class: "section-actions" }, endOthers)),
    h("section", { class: "section", "aria-labelledby": "password-heading" },
      h("h2", { id: "password-heading", text: "Change password" }),
      form),
    h("section", { class: "section", "aria-labelledby": "two-step-heading" },
      twoStepHeading,
      h("p", { class: "hint", text: "After your password, Kaizen asks for a code from an app on your phone, " +
        "so a stolen password alone cannot open your account." }),
      twoStepCard));
  showTwoStep();

  updateHint();
  next.addEventListener("input", updateHint);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    changePassword();
  });

  loadSessions();

  // Only HR admins can read the policy; for them the hint names the real minimum.
  if (isHr) {
    api.getSecurityPolicy(signal).then((policy) => {
      if (signal.aborted || !policy || !Number.isInteger(policy.min_password_length)) return;
      minLength = policy.min_password_length;
      minKnown = true;
      updateHint();
    }).catch(() => {});
  }

  /** The hint under the new password, and how far the typed one is from the minimum. */
  function updateHint() {
    hint.textContent = minKnown
      ? `At least ${minLength} characters (your company's minimum); long passphrases are best.`
      : `At least ${DEFAULT_MIN_LENGTH} characters; long passphrases are best.`;
    const length = [...next.value].length;
    if (length === 0) {
      count.textContent = "";
      count.removeAttribute("data-state");
    } else if (length < minLength) {
      const missing = minLength - length;
      count.textContent = `${plural(length, "character")} — ${missing} more needed`;
      count.dataset.state = "short";
    } else {
      count.textContent = `${plural(length, "character")} — long enough`;
      count.dataset.state = "ok";
    }
  }

  async function loadSessions() {
    try {
      const list = await api.listSessions(signal);
      if (signal.aborted) return;
      sessions = Array.isArray(list) ? list.slice().sort(currentFirstThenRecent) : [];
      renderSessions();
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      endOthers.disabled = true;
      replaceChildren(sessionsBody,
        h("p", { class: "notice notice-error", role: "alert", text: failureMessage(error,
          "Your sessions could not be loaded. Please try again.") }),
        h("button", { type: "button", class: "button", text: "Try again", on: { click: loadSessions } }));
    }
  }

  function renderSessions() {
    const others = sessions.filter((s) => !s.current);
    endOthers.disabled = others.length === 0;
    replaceChildren(sessionsBody,
      h("ul", { class: "session-list", "data-testid": "sessions-list", "aria-labelledby": "sessions-heading" },
        ...sessions.map(sessionItem)),
      others.length === 0 ? h("p", { class: "empty", text: "You are not signed in anywhere else." }) : null);
  }

  function sessionItem(session) {
    const titleId = `session-${session.id}-title`;
    const title = h("span", { class: "session-title", id: titleId, text: describeUserAgent(session.user_agent) });
    if (session.user_agent) title.setAttribute("title", session.user_agent);

    const facts = [
      session.ip ? h("span", { text: session.ip }) : null,
      h("span", { title: formatDateTime(session.created_at) || null,
        text: `Signed in ${formatDateTime(session.created_at) || "—"}` }),
      session.current ? h("span", { text: "Active now" }) : h("span", {
        title: formatDateTime(session.last_seen_at) || null,
        text: `Last active ${formatRelative(session.last_seen_at) || "—"}`,
      }),
      session.remember_me ? h("span", { text: "Kept signed in" }) : null,
    ].filter(Boolean);

    const end = session.current ? null : h("button", {
      type: "button",
      class: "button button-small",
      "data-testid": "session-end",
      "aria-describedby": titleId,
      text: "Sign out",
    });
    if (end) end.addEventListener("click", () => endOne(session, end));

    return h("li", {
      class: "session-item",
      "data-testid": "session-item",
      "data-session-id": session.id,
      "data-current": session.current ? "true" : "false",
    },
    h("div", { class: "session-main" },
      h("span", { class: "session-heading" }, title,
        session.current ? h("span", { class: "badge badge-current", text: "This device" }) : null),
      h("span", { class: "session-meta" }, ...joinWith(facts, " · "))),
    end);
  }

  /** End one other session; an already-ended one (404) counts as ended. */
  async function endOne(session, button) {
    button.disabled = true;
    button.textContent = "Signing out…";
    hideMessage(sessionsMessage);
    try {
      await endQuietly(session.id);
      if (signal.aborted) return;
      showMessage(sessionsMessage, "success", `Signed out ${describeUserAgent(session.user_agent)}` +
        `${session.ip ? ` (${session.ip})` : ""}.`);
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      button.disabled = false;
      button.textContent = "Sign out";
      showMessage(sessionsMessage, "error", failureMessage(error, "That session could not be signed out. Please try again."));
      return;
    }

    // Keep the keyboard near where it was: the next "Sign out", else the heading.
    const index = sessions.findIndex((s) => s.id === session.id);
    sessions = sessions.filter((s) => s.id !== session.id);
    renderSessions();
    const buttons = sessionsBody.querySelectorAll('[data-testid="session-end"]');
    const target = buttons[Math.min(Math.max(index - 1, 0), buttons.length - 1)];
    (target || sessionsHeading).focus();
  }

  /** End every other session, one request at a time. */
  async function endAllOthers() {
    const others = sessions.filter((s) => !s.current);
    if (others.length === 0) return;
    endOthers.disabled = true;
    endOthers.textContent = "Signing out…";
    hideMessage(sessionsMessage);
    let ended = 0;
    let failure = null;
    for (const session of others) {
      try {
        await endQuietly(session.id);
        ended += 1;
      } catch (error) {
        failure = error;
        break;
      }
    }
    if (signal.aborted) return;
    endOthers.textContent = "Sign out all other sessions";
    if (failure) {
      showMessage(sessionsMessage, "error", `${failureMessage(failure,
        "Some sessions could not be signed out.")} ${plural(ended, "session")} signed out.`);
    } else {
      showMessage(sessionsMessage, "success", `Signed out ${plural(ended, "other session")}.`);
    }
    await loadSessions();
    if (!signal.aborted) sessionsHeading.focus();
  }

  async function endQuietly(sessionId) {
    try {
      await api.endSession(sessionId);
    } catch (error) {
      if (error instanceof api.ApiError && error.status === 404) return;
      throw error;
    }
  }

  async function changePassword() {
    if (submit.getAttribute("aria-disabled") === "true") return;
    hideMessage(passwordMessage);
    for (const input of [current, next]) input.removeAttribute("aria-invalid");

    // Say what is missing before bothering the server; the rules are the server's.
    if (!current.value) return fieldError(current, "Please enter your current password.");
    if (!next.value) return fieldError(next, "Please enter a new password.");
    if ([...next.value].length < DEFAULT_MIN_LENGTH) {
      return fieldError(next, `The new password needs at least ${DEFAULT_MIN_LENGTH} characters.`);
    }

    // aria-disabled rather than disabled, so that focus stays on the button.
    submit.setAttribute("aria-disabled", "true");
    submit.textContent = "Changing…";
    try {
      await api.changePassword(current.value, next.value);
      if (signal.aborted) return;
      current.value = "";
      next.value = "";
      updateHint();
      meter.reset();
      showMessage(passwordMessage, "success",
        "Your password has been changed. You were signed out everywhere else; this device stays signed in.");
      loadSessions();
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      if (error instanceof api.ApiError && error.code === "invalid_credentials") {
        current.value = "";
        fieldError(current, "Your current password is not right. Please try again.");
      } else if (error instanceof api.ApiError && error.status === 422) {
        // The server's own words: too short, too common, built from your name…
        fieldError(next, error.message);
      } else {
        showMessage(passwordMessage, "error", failureMessage(error,
          "Your password could not be changed. Please try again."));
      }
    } finally {
      submit.removeAttribute("aria-disabled");
      submit.textContent = "Change password";
    }
  }

  function fieldError(input, message) {
    input.setAttribute("aria-invalid", "true");
    showMessage(passwordMessage, "error", message);
    input.focus();
  }

  /**
   * The card at rest: "Set up" — or "Turn off" when this tab has just turned
   * it on, or a 409 said an app is already set up (`known`).
   */
  function showTwoStep({ known = false } = {}) {
    const on = known || enabledHere(user.id);
    const setupButton = h("button", { type: "button", class: "button button-primary",
      "data-testid": "totp-setup", text: "Set up authenticator app" });
    setupButton.addEventListener("click", () => startSetup(setupButton));
    const disableButton = h("button", { type: "button", class: "button",
      "data-testid": "totp-disable", text: "Turn off" });
    disableButton.addEventListener("click", () => turnOff(disableButton));

    replaceChildren(twoStepCard,
      on
        ? h("p", { class: "two-step-state", dataset: { state: "on" } },
          h("span", { class: "badge badge-current", text: "On" }),
          " An authenticator app is set up for your account.")
        : h("p", { class: "two-step-state", text: "Use an authenticator app such as the one that came " +
          "with your phone or your password manager. Setting it up takes a minute." }),
      twoStepMessage,
      h("div", { class: "form-actions" }, on ? disableButton : setupButton));
  }

  /** Ask for a new secret (password dialog first when needed), then show it. */
  async function startSetup(button) {
    if (button.getAttribute("aria-disabled") === "true") return;
    hideMessage(twoStepMessage);
    button.setAttribute("aria-disabled", "true");
    button.textContent = "Starting…";
    try {
      const setup = await withReauthentication(() => api.startTotp(), {
        signal, username: user.email, reason: "Setting up 2-step verification needs your password.",
      });
      if (signal.aborted) return;
      const panel = setupPanel({
        setup,
        signal,
        onConfirmed: showRecoveryCodes,
        onCancel: () => {
          showTwoStep();
          twoStepHeading.focus();
        },
      });
      replaceChildren(twoStepCard, panel.element);
      panel.focus();
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      if (error instanceof api.ApiError && error.status === 409) {
        showTwoStep({ known: true });
        showMessage(twoStepMessage, "info", "An authenticator app is already set up for your account. " +
          "To set up a new one, turn this one off first.");
        twoStepCard.querySelector('[data-testid="totp-disable"]').focus();
        return;
      }
      button.removeAttribute("aria-disabled");
      button.textContent = "Set up authenticator app";
      showMessage(twoStepMessage, "error", error instanceof ReauthenticationCancelled
        ? "Not set up: setting up 2-step verification needs your password."
        : failureMessage(error, "The setup could not be started. Please try again."));
    }
  }

  /** The app is on: show the recovery codes once, until "Done". */
  function showRecoveryCodes(codes) {
    rememberEnabledHere(user.id);
    const done = h("button", { type: "button", class: "button button-primary", text: "Done",
      on: { click: () => {
        showTwoStep();
        showMessage(twoStepMessage, "success",
          "2-step verification is on. You were signed out everywhere else; this device stays signed in.");
        twoStepHeading.focus();
      } } });
    replaceChildren(twoStepCard,
      h("p", { class: "notice notice-success", role: "status",
        text: "2-step verification is on. Next time you sign in, Kaizen asks for a code from your app." }),
      recoveryCodesPanel(codes, { actions: [done], owner: { email: user.email, company: user.company } }));
    twoStepHeading.focus();
    loadSessions();
  }

  async function turnOff(button) {
    if (button.getAttribute("aria-disabled") === "true") return;
    hideMessage(twoStepMessage);
    button.setAttribute("aria-disabled", "true");
    button.textContent = "Turning off…";
    try {
      await withReauthentication(() => api.disableTotp(), {
        signal, username: user.email, reason: "Turning off 2-step verification needs your password.",
      });
      if (signal.aborted) return;
      forgetEnabledHere();
      showTwoStep();
      showMessage(twoStepMessage, "success",
        "2-step verification is off. You were signed out everywhere else; this device stays signed in.");
      twoStepHeading.focus();
      loadSessions();
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      button.removeAttribute("aria-disabled");
      button.textContent = "Turn off";
      if (error instanceof ReauthenticationCancelled) {
        showMessage(twoStepMessage, "error", "Still on: turning off 2-step verification needs your password.");
      } else if (error instanceof api.ApiError && error.status === 409) {
        // The company requires it; the server says so in its own words.
        showMessage(twoStepMessage, "warning", error.message);
      } else {
        showMessage(twoStepMessage, "error", failureMessage(error,
          "2-step verification could not be turned off. Please try again."));
      }
    }
  }
}

function enabledHere(userId) {
  try {
    return sessionStorage.getItem(TOTP_ENABLED_HERE) === String(userId);
  } catch {
    return false;
  }
}

function rememberEnabledHere(userId) {
  try {
    sessionStorage.setItem(TOTP_ENABLED_HERE, String(userId));
  } catch {
    // Storage may be disabled; the card then offers "Set up", and a 409 corrects it.
  }
}

function forgetEnabledHere() {
  try {
    sessionStorage.removeItem(TOTP_ENABLED_HERE);
  } catch {
    // Nothing was stored.
  }
}

/** Show a notice line: `kind` is "success", "info", "warning" or "error". */
function showMessage(el, kind, text) {
  el.classList.remove("notice-success", "notice-error", "notice-info", "notice-warning");
  el.classList.add(`notice-${kind}`);
  el.setAttribute("role", kind === "error" || kind === "warning" ? "alert" : "status");
  el.dataset.kind = kind;
  el.textContent = text;
  el.hidden = false;
}

function hideMessage(el) {
  el.hidden = true;
  el.textContent = "";
}

/** The words for a failed call that has no more specific ones. */
function failureMessage(error, fallback) {
  if (!(error instanceof api.ApiError)) return fallback;
  if (error.isNetwork) return "Cannot reach the server. Check your connection and try again.";
  if (error.status === 429) return api.rateLimitMessage(error);
  return fallback;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function joinWith(items, separator) {
  return items.flatMap((item, i) => (i === 0 ? [item] : [separator, item]));
}

// This device first, then the most recently used.
function currentFirstThenRecent(a, b) {
  return Number(Boolean(b.current)) - Number(Boolean(a.current)) ||
    String(b.last_seen_at || "").localeCompare(String(a.last_seen_at || ""));
}

/**
 * "Firefox on Windows" from a user agent string; good enough to recognise a
 * device, never used for anything but display.
 */
export function describeUserAgent(agent) {
  const ua = String(agent || "");
  if (!ua) return "Unknown browser";

  const browsers = [
    [/\bEdg(?:e|A|iOS)?\//, "Edge"],
    [/\b(?:OPR|Opera)\//, "Opera"],
    [/\b(?:Firefox|FxiOS)\//, "Firefox"],
    [/\bHeadlessChrome\//, "Headless Chrome"],
    [/\b(?:Chrome|CriOS|Chromium)\//, "Chrome"],
    [/\bVersion\/[\d.]+.*\bSafari\//, "Safari"],
    [/^curl\//, "curl"],
  ];
  const systems = [
    [/\b(?:iPhone|iPad|iPod)\b/, "iOS"],
    [/\bAndroid\b/, "Android"],
    [/\bCrOS\b/, "ChromeOS"],
    [/\bWindows\b/, "Windows"],
    [/\bMac OS X\b|\bMacintosh\b/, "macOS"],
    [/\bLinux\b/, "Linux"],
  ];
  const browser = (browsers.find(([pattern]) => pattern.test(ua)) || [])[1];
  const system = (systems.find(([pattern]) => pattern.test(ua)) || [])[1];
  if (browser && system) return `${browser} on ${system}`;
  if (browser) return browser;
  if (system) return `A browser on ${system}`;

  // Anything else (an API client): its first product token, shortened.
  const token = ua.split(/[\s/]/)[0];
  return token.length > 40 ? `${token.slice(0, 40)}…` : token || "Unknown browser";
}
