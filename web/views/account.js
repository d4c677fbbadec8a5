// "Your account": the user's own sessions, the password change and 2-step
// verification.
//
// Sessions come from GET /me/sessions; any other one can be ended with
// DELETE /me/sessions/{id} (there is no bulk call, so "Sign out all other
// sessions" ends them one by one). Changing the password, and turning 2-step
// verification on or off, end every other session on the server, so the
// list is reloaded afterwards.
//
// 2-step verification shows what GET /me/second-factor says: the
// authenticator app and text messages, each on or off with its own button,
// the recovery codes left and the trusted browsers. Secrets, phone numbers
// as typed and recovery codes never leave the page's memory.

import * as api from "../api.js";
import { h, replaceChildren, formatDateTime, formatRelative } from "../dom.js";
import { withReauthentication, ReauthenticationCancelled } from "../reauth.js";
import { setupPanel, recoveryCodesPanel } from "../authenticator.js";
import { smsSetupPanel } from "../sms.js";
import { strengthMeter } from "../strength.js";

// The floor of every company's minimum (the policy allows 8 to 128).
const DEFAULT_MIN_LENGTH = 8;

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
  const meter = strengthMeter(next, { signal, context: () => ({ company: user.company, email: user.email, name: user.name }) });
  const form = h("form", { class: "card account-form", novalidate: true, "aria-labelledby": "password-heading" },
    // A username field, hidden, lets password managers update the right entry.
    h("input", { type: "text", name: "username", autocomplete: "username", value: user.email || "",
      hidden: true, tabindex: "-1", "aria-hidden": "true" }),
    h("div", { class: "field" }, h("label", { for: "password-current", text: "Current password" }), current),
    h("div", { class: "field" }, h("label", { for: "password-new", text: "New password" }), next, hint, count,
      meter.element),
    passwordMessage,
    submit);

  // 2-step verification: one card whose content follows the steps. Each
  // method has a message line of its own, kept across redraws of the card.
  const twoStepHeading = h("h2", { id: "two-step-heading", tabindex: "-1", text: "2-step verification" });
  const twoStepCard = h("div", { class: "card account-form two-step" }, loadingLine());
  const twoStepMessage = h("p", { class: "notice server-text", "data-testid": "totp-message", hidden: true });
  const smsMessage = h("p", { class: "notice server-text", "data-testid": "sms-message", hidden: true });
  // The last answer of GET /me/second-factor (null until it comes), and what
  // the card shows: "rest", a "setup" panel or new recovery "codes". Only a
  // card at rest is redrawn when a fresh answer comes.
  let factors = null;
  let twoStepView = "rest";

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
      h("p", { class: "hint", text: "After your password, Kaizen asks for a code from an app on your phone " +
        "or sent to it by text message, so a stolen password alone cannot open your account." }),
      twoStepCard));
  loadFactors();

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

  /** Read which methods the user has; redraw the card if it is at rest. */
  async function loadFactors() {
    try {
      const answer = await api.factorStatus(signal);
      if (signal.aborted) return;
      factors = readFactors(answer);
      if (twoStepView === "rest") showTwoStep();
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      if (twoStepView !== "rest") return;
      factors = null;
      replaceChildren(twoStepCard,
        h("p", { class: "notice notice-error", role: "alert", text: failureMessage(error,
          "Your 2-step verification settings could not be loaded. Please try again.") }),
        h("button", { type: "button", class: "button", text: "Try again", on: { click: () => {
          replaceChildren(twoStepCard, loadingLine());
          loadFactors();
        } } }));
    }
  }

  /** The card at rest: each method, on or off, with its button and message line. */
  function showTwoStep() {
    twoStepView = "rest";
    if (!factors) return;
    const appOn = factors.totp;
    const smsOn = factors.sms_phone !== null;
    const anyOn = appOn || smsOn;

    const appButton = appOn
      ? h("button", { type: "button", class: "button", "data-testid": "totp-disable",
        text: "Turn off authenticator app", on: { click: (event) => turnOff("totp", event.currentTarget) } })
      : h("button", { type: "button", class: anyOn ? "button" : "button button-primary", "data-testid": "totp-setup",
        text: "Set up authenticator app", on: { click: (event) => startSetup(event.currentTarget) } });
    const smsButton = smsOn
      ? h("button", { type: "button", class: "button", "data-testid": "sms-disable",
        text: "Turn off text messages", on: { click: (event) => turnOff("sms", event.currentTarget) } })
      : h("button", { type: "button", class: anyOn ? "button" : "button button-primary",
        "data-testid": "sms-setup", text: "Set up text messages",
        on: { click: () => startSmsSetup() } });

    const left = factors.recovery_codes_left;
    const recovery = !anyOn ? null : left > 3
      ? h("p", { class: "hint", text: `${plural(left, "recovery code")} left. Each signs you in once ` +
        "when your phone is not at hand." })
      : h("p", { class: "notice notice-warning", role: "note", text: `${left === 0 ? "No" : left} ` +
        `recovery code${left === 1 ? "" : "s"} left. Setting up a method again gives you ten new ones.` });
    const trusted = factors.trusted_devices > 0
      ? h("p", { class: "hint", text: `${factors.trusted_devices === 1 ? "1 browser skips" :
        `${factors.trusted_devices} browsers skip`} the code until its 30 days are up. ` +
        "Turning off the last method forgets them all." })
      : null;

    replaceChildren(twoStepCard,
      h("div", { class: "factor-status", "data-testid": "factor-status",
        dataset: { totp: String(appOn), sms: String(smsOn) } },
      anyOn
        ? h("p", { class: "two-step-state", dataset: { state: "on" } },
          h("span", { class: "badge badge-current", text: "On" }),
          " 2-step verification is on for your account.")
        : h("p", { class: "two-step-state", dataset: { state: "off" }, text: "2-step verification is off. " +
          "Set up one of these; an authenticator app works even without mobile signal." }),
      h("ul", { class: "factor-list" },
        factorItem("factor-app", "Authenticator app", appOn, appOn
          ? "A code from the app on your phone."
          : "Use the app that came with your phone or your password manager. Setting it up takes a minute.",
        appButton, twoStepMessage),
        factorItem("factor-sms", "Text messages", smsOn, smsOn
          ? `Codes are texted to ${factors.sms_phone}.`
          : "A code is texted to your mobile phone when you ask for one at sign-in.",
        smsButton, smsMessage)),
      recovery,
      trusted));
  }

  /** One method of the card: name, on/off, what it does, its button and message. */
  function factorItem(id, title, on, text, button, message) {
    button.setAttribute("aria-describedby", `${id}-title`);
    return h("li", { class: "factor-item" },
      h("div", { class: "factor-main" },
        h("span", { class: "factor-heading" },
          h("span", { class: "factor-title", id: `${id}-title`, text: title }),
          h("span", { class: on ? "badge badge-current" : "badge", text: on ? "On" : "Off" })),
        h("span", { class: "factor-text", text })),
      h("div", { class: "factor-actions" }, button),
      message);
  }

  /** Ask for a new secret (password dialog first when needed), then show it. */
  async function startSetup(button) {
    if (button.getAttribute("aria-disabled") === "true") return;
    hideMessage(twoStepMessage);
    hideMessage(smsMessage);
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
        onConfirmed: (codes) => showRecoveryCodes("totp", codes),
        onCancel: backToRest,
      });
      twoStepView = "setup";
      replaceChildren(twoStepCard, panel.element);
      panel.focus();
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      if (error instanceof api.ApiError && error.status === 409) {
        await loadFactors();
        showMessage(twoStepMessage, "info", "An authenticator app is already set up for your account. " +
          "To set up a new one, turn this one off first.");
        focusTestId("totp-disable");
        return;
      }
      button.removeAttribute("aria-disabled");
      button.textContent = "Set up authenticator app";
      showMessage(twoStepMessage, "error", error instanceof ReauthenticationCancelled
        ? "Not set up: setting up 2-step verification needs your password."
        : failureMessage(error, "The setup could not be started. Please try again."));
    }
  }

  /** The phone number, then the code texted to it (password dialog on sending). */
  function startSmsSetup() {
    hideMessage(twoStepMessage);
    hideMessage(smsMessage);
    const panel = smsSetupPanel({
      signal,
      send: (phone) => withReauthentication(() => api.startSms(phone), {
        signal, username: user.email, reason: "Setting up text messages needs your password.",
      }),
      onConfirmed: (codes) => showRecoveryCodes("sms", codes),
      onAlreadySetUp: async () => {
        twoStepView = "rest";
        await loadFactors();
        showMessage(smsMessage, "info", "Text messages are already set up for your account. " +
          "To use another number, turn them off first.");
        focusTestId("sms-disable");
      },
      onCancel: backToRest,
      cancelledMessage: "Not set up: setting up text messages needs your password.",
    });
    twoStepView = "setup";
    replaceChildren(twoStepCard, panel.element);
    panel.focus();
  }

  function backToRest() {
    showTwoStep();
    twoStepHeading.focus();
  }

  /** A method is on: show the new recovery codes once, until "Done". */
  function showRecoveryCodes(method, codes) {
    const replaced = factors && factors.recovery_codes_left > 0;
    // Until the server's answer comes: the method is on, the new codes all left.
    factors = { ...(factors || readFactors(null)), recovery_codes_left: codes.length };
    if (method === "totp") factors.totp = true;
    else factors.sms_phone = factors.sms_phone || "your phone";
    twoStepView = "codes";
    const message = method === "totp" ? twoStepMessage : smsMessage;
    const done = h("button", { type: "button", class: "button button-primary", text: "Done",
      on: { click: () => {
        showTwoStep();
        showMessage(message, "success", `${method === "totp" ? "2-step verification" : "Text messages"} ` +
          "is on. You were signed out everywhere else; this device stays signed in.");
        twoStepHeading.focus();
      } } });
    replaceChildren(twoStepCard,
      h("p", { class: "notice notice-success", role: "status", text: method === "totp"
        ? "2-step verification is on. Next time you sign in, Kaizen asks for a code from your app."
        : "Text messages are on. When you sign in, Kaizen can text a code to your phone." }),
      replaced ? h("p", { class: "hint", text: "These codes replace your earlier recovery codes, " +
        "which no longer work." }) : null,
      recoveryCodesPanel(codes, { actions: [done], owner: { email: user.email, company: user.company } }));
    twoStepHeading.focus();

    // The masked number and the trusted browsers come from the server.
    loadFactors();
    loadSessions();
  }

  /** Remove one method ("totp" or "sms"), after the password dialog when needed. */
  async function turnOff(method, button) {
    if (button.getAttribute("aria-disabled") === "true") return;
    const app = method === "totp";
    const message = app ? twoStepMessage : smsMessage;
    const label = app ? "Turn off authenticator app" : "Turn off text messages";
    const name = app ? "the authenticator app" : "text messages";
    hideMessage(twoStepMessage);
    hideMessage(smsMessage);
    button.setAttribute("aria-disabled", "true");
    button.textContent = "Turning off…";
    try {
      await withReauthentication(() => (app ? api.disableTotp() : api.disableSms()), {
        signal, username: user.email, reason: `Turning off ${name} needs your password.`,
      });
      if (signal.aborted) return;
      await loadFactors();
      if (signal.aborted || !factors) return;
      const stillOn = factors && (factors.totp || factors.sms_phone !== null);
      showMessage(message, "success", stillOn
        ? `${app ? "The authenticator app is" : "Text messages are"} off. You were signed out everywhere ` +
          "else; this device stays signed in."
        : "2-step verification is off; your recovery codes and trusted browsers were removed too. " +
          "You were signed out everywhere else; this device stays signed in.");
      twoStepHeading.focus();
      loadSessions();
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      button.removeAttribute("aria-disabled");
      button.textContent = label;
      if (error instanceof ReauthenticationCancelled) {
        showMessage(message, "error", `Still on: turning off ${name} needs your password.`);
      } else if (error instanceof api.ApiError && error.status === 404) {
        // Already removed, elsewhere: the card was out of date.
        await loadFactors();
        showMessage(message, "info", `${app ? "The authenticator app was" : "Text messages were"} already off.`);
      } else if (error instanceof api.ApiError && error.status === 409) {
        // The company requires 2-step verification; the server says so in its own words.
        showMessage(message, "warning", error.message);
      } else {
        showMessage(message, "error", failureMessage(error,
          `${app ? "The authenticator app" : "Text messages"} could not be turned off. Please try again.`));
      }
    }
  }

  function focusTestId(testid) {
    const target = twoStepCard.querySelector(`[data-testid="${testid}"]`);
    if (target) target.focus();
  }
}

/** GET /me/second-factor's answer, with safe defaults for anything missing. */
function readFactors(answer) {
  const count = (n) => (Number.isInteger(n) && n > 0 ? n : 0);
  const value = answer && typeof answer === "object" ? answer : {};
  return {
    totp: value.totp === true,
    sms_phone: typeof value.sms_phone === "string" && value.sms_phone ? value.sms_phone : null,
    recovery_codes_left: count(value.recovery_codes_left),
    trusted_devices: count(value.trusted_devices),
  };
}

function loadingLine() {
  return h("p", { class: "loading", role: "status", text: "Checking your 2-step verification…" });
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
