// The company's security policy, for HR admins.
//
// GET /admin/security-policy fills the form; Save sends the whole policy
// with PUT. The server is the judge of every value: the checks here only
// catch typing mistakes early. Saving needs a password confirmation in the
// last ten minutes; when the server asks for it (403
// `reauthentication_required`) the password dialog opens and the save is
// retried on its own. Ranges that would lock out the admin's own address are
// refused with 409 until the admin confirms with "Save anyway".

import * as api from "../api.js";
import { h, replaceChildren, clockTime } from "../dom.js";
import { withReauthentication, ReauthenticationCancelled } from "../reauth.js";

// The bounds the server enforces, repeated for the input's own hints.
const MIN_LENGTH_FLOOR = 8;
const MIN_LENGTH_CEILING = 128;
const MAX_RANGES = 100;

export function securityView(root, context) {
  const { user, signal } = context;
  const isHr = Array.isArray(user.roles) && user.roles.includes("hr_admin");

  const body = h("div", {}, h("p", { class: "loading", role: "status", text: "Loading the security policy…" }));
  root.append(
    h("h1", { text: "Security policy" }),
    h("p", { class: "meta", text: `The sign-in rules for everyone in ${user.company || "your company"}.` }),
    body);

  if (!isHr) {
    replaceChildren(body, h("p", { class: "notice notice-info", role: "status",
      text: "Only HR admins can see and change the security policy." }));
    return null;
  }

  load();

  async function load() {
    try {
      const policy = await api.getSecurityPolicy(signal);
      if (signal.aborted) return;
      replaceChildren(body, policyForm(policy || {}));
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      replaceChildren(body,
        h("p", { class: "notice notice-error", role: "alert", text: loadErrorMessage(error) }),
        h("button", { type: "button", class: "button", text: "Try again", on: { click: () => context.reload() } }));
    }
  }

  function policyForm(policy) {
    const minLength = h("input", {
      type: "number", id: "policy-min-length", class: "input input-short", name: "min_password_length",
      min: String(MIN_LENGTH_FLOOR), max: String(MIN_LENGTH_CEILING), step: "1", inputmode: "numeric",
      required: true, "aria-describedby": "policy-min-length-hint", "data-testid": "policy-min-length",
    });
    const rememberMe = h("input", { type: "checkbox", id: "policy-remember-me", name: "remember_me_allowed",
      "aria-describedby": "policy-remember-me-hint", "data-testid": "policy-remember-me" });
    const secondFactor = h("input", { type: "checkbox", id: "policy-second-factor",
      name: "second_factor_required",
      "aria-describedby": "policy-second-factor-hint policy-second-factor-error",
      "data-testid": "policy-second-factor" });
    const ranges = h("textarea", {
      id: "policy-ip-ranges", class: "input textarea textarea-code", name: "ip_ranges", rows: "5",
      spellcheck: "false", autocapitalize: "none", autocomplete: "off",
      "aria-describedby": "policy-ip-ranges-hint policy-ip-ranges-error", "data-testid": "policy-ip-ranges",
    });
    const rangesError = h("p", { class: "field-error", id: "policy-ip-ranges-error", hidden: true });
    const secondFactorError = h("p", { class: "field-error server-text check-hint",
      id: "policy-second-factor-error", hidden: true });

    const save = h("button", { type: "submit", class: "button button-primary", "data-testid": "policy-save",
      text: "Save policy" });
    const message = h("p", { class: "server-text", "data-testid": "policy-message" });
    const confirmAnyway = h("button", { type: "button", class: "button", "data-testid": "policy-confirm-anyway",
      text: "Save anyway", hidden: true, on: { click: () => submit(true) } });
    const notice = h("div", { class: "notice", hidden: true }, message, confirmAnyway);

    fill(policy);

    const form = h("form", { class: "card policy-form", novalidate: true, "aria-label": "Security policy" },
      h("div", { class: "field" },
        h("label", { for: "policy-min-length", text: "Minimum password length" }),
        minLength,
        h("p", { class: "hint", id: "policy-min-length-hint",
          text: `From ${MIN_LENGTH_FLOOR} to ${MIN_LENGTH_CEILING} characters. It applies when a password is next changed.` })),
      h("div", { class: "field" },
        h("div", { class: "check" }, rememberMe,
          h("label", { for: "policy-remember-me", text: "Allow “Keep me signed in”" })),
        h("p", { class: "hint check-hint", id: "policy-remember-me-hint",
          text: "Switching this off signs out every kept-signed-in session at once, except yours." })),
      h("div", { class: "field" },
        h("div", { class: "check" }, secondFactor,
          h("label", { for: "policy-second-factor", text: "Require 2-step verification for everyone" })),
        h("p", { class: "hint check-hint", id: "policy-second-factor-hint",
          text: "Everyone would need a second step, such as a code from an app, to sign in." }),
        secondFactorError),
      h("div", { class: "field" },
        h("label", { for: "policy-ip-ranges", text: "Allowed networks" }),
        ranges,
        h("p", { class: "hint", id: "policy-ip-ranges-hint",
          text: "One address range per line, for example 203.0.113.0/24 or 2001:db8::/32; a single address " +
            "allows just that address. Leave empty to allow any network. Sessions on other networks end at once." }),
        rangesError),
      notice,
      h("div", { class: "form-actions" }, save));

    // Ranges are judged on Save (judging on blur would move the Save button
    // under a click that is on its way); once marked, each edit judges again so
    // the complaint goes away as soon as the lines are fixed.
    ranges.addEventListener("input", () => {
      if (!rangesError.hidden) checkRangesField();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit(false);
    });

    // "Save anyway" confirms the values it warned about, not values edited since.
    form.addEventListener("input", () => {
      if (!confirmAnyway.hidden) clearMessage();
    });
    secondFactor.addEventListener("change", () => {
      secondFactorError.hidden = true;
      secondFactor.removeAttribute("aria-invalid");
    });

    function fill(p) {
      minLength.value = String(p.min_password_length ?? MIN_LENGTH_FLOOR);
      rememberMe.checked = Boolean(p.remember_me_allowed);
      secondFactor.checked = Boolean(p.second_factor_required);
      ranges.value = Array.isArray(p.ip_ranges) ? p.ip_ranges.join("\n") : "";
    }

    /** Mark the lines that are not address ranges; true when all are fine. */
    function checkRangesField() {
      const problems = rangeProblems(ranges.value);
      if (problems.length === 0) {
        rangesError.hidden = true;
        rangesError.textContent = "";
        ranges.removeAttribute("aria-invalid");
        return true;
      }
      rangesError.textContent = problems.join(" ");
      rangesError.hidden = false;
      ranges.setAttribute("aria-invalid", "true");
      return false;
    }

    function show(kind, text, { confirm = false } = {}) {
      notice.classList.remove("notice-success", "notice-error", "notice-warning");
      notice.classList.add(`notice-${kind}`);
      notice.dataset.kind = kind;
      message.dataset.kind = kind;
      message.setAttribute("role", kind === "success" ? "status" : "alert");
      message.textContent = text;
      confirmAnyway.hidden = !confirm;
      notice.hidden = false;
    }

    function clearMessage() {
      notice.hidden = true;
      message.textContent = "";
      confirmAnyway.hidden = true;
    }

    // While saving, the buttons are aria-disabled rather than disabled, so that
    // focus stays on them (and returns to them after the password dialog).
    let saving = false;
    const setSaving = (value) => {
      saving = value;
      for (const button of [save, confirmAnyway]) {
        if (value) button.setAttribute("aria-disabled", "true");
        else button.removeAttribute("aria-disabled");
      }
      save.textContent = value ? "Saving…" : "Save policy";
    };

    async function submit(confirmOwnAddress) {
      if (saving) return;
      clearMessage();
      for (const input of [minLength, secondFactor]) input.removeAttribute("aria-invalid");
      secondFactorError.hidden = true;

      // Typing mistakes first; everything else is the server's call.
      const length = Number(minLength.value);
      if (!Number.isInteger(length) || length < MIN_LENGTH_FLOOR || length > MIN_LENGTH_CEILING) {
        minLength.setAttribute("aria-invalid", "true");
        show("error", `The minimum password length must be a whole number from ${MIN_LENGTH_FLOOR} to ${MIN_LENGTH_CEILING}.`);
        minLength.focus();
        return;
      }
      if (!checkRangesField()) {
        show("error", "Some allowed networks are not address ranges; see the list above.");
        ranges.focus();
        return;
      }
      const list = rangeLines(ranges.value);
      if (list.length > MAX_RANGES) {
        show("error", `At most ${MAX_RANGES} address ranges can be allowed.`);
        ranges.focus();
        return;
      }
      const update = {
        min_password_length: length,
        remember_me_allowed: rememberMe.checked,
        second_factor_required: secondFactor.checked,
        ip_ranges: list,
      };

      setSaving(true);
      try {
        const saved = await withReauthentication(
          () => api.saveSecurityPolicy(update, confirmOwnAddress),
          { signal, username: user.email, reason: "Changing the security policy needs your password." });
        if (signal.aborted) return;
        fill(saved || update);
        show("success", confirmOwnAddress
          ? `Security policy saved at ${clockTime()}. This network is no longer allowed, so Kaizen will stop working here.`
          : `Security policy saved at ${clockTime()}.`);
      } catch (error) {
        if (signal.aborted || error.name === "AbortError") return;
        showFailure(error);
      } finally {
        setSaving(false);
      }
    }

    function showFailure(error) {
      if (error instanceof ReauthenticationCancelled) {
        show("error", "Not saved: changing the security policy needs your password.");
        return;
      }
      if (!(error instanceof api.ApiError)) {
        show("error", "Something went wrong. Please try again.");
        return;
      }
      if (error.isNetwork) {
        show("error", "Not saved: cannot reach the server. Check your connection and try again.");
      } else if (error.status === 409) {
        // The ranges lock out this very address: say so and let the admin insist.
        show("warning", error.message, { confirm: true });
        confirmAnyway.focus();
      } else if (error.status === 422) {
        // The server's words. It judges the length and the number of ranges
        // (both checked here already), then 2-step verification, then the
        // ranges; so with the switch on, the refusal is about the switch and is
        // repeated under it.
        if (secondFactor.checked) {
          secondFactor.setAttribute("aria-invalid", "true");
          secondFactorError.textContent = error.message;
          secondFactorError.hidden = false;
        }
        show("error", error.message);
      } else if (error.status === 429) {
        show("error", api.rateLimitMessage(error));
      } else if (error.code === "reauthentication_required") {
        show("error", "Not saved: the password confirmation did not take. Please try again.");
      } else if (error.status === 403) {
        show("error", "Only HR admins can change the security policy.");
      } else {
        show("error", "Not saved: the server had a problem. Please try again in a moment.");
      }
    }

    return form;
  }
}

/** The non-empty lines of the ranges field, trimmed. */
export function rangeLines(text) {
  return String(text).split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
}

/** One sentence per line that cannot be an address range. */
export function rangeProblems(text) {
  const problems = [];
  String(text).split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line && !looksLikeRange(line)) {
      problems.push(`Line ${index + 1} (“${line}”) is not an address range such as 203.0.113.0/24.`);
    }
  });
  return problems;
}

const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * Whether `text` reads as an IPv4 or IPv6 address with an optional prefix
 * length, as the server reads it (a bare address is a range of one).
 */
export function looksLikeRange(text) {
  const slash = text.indexOf("/");
  const address = slash === -1 ? text : text.slice(0, slash);
  const prefix = slash === -1 ? null : text.slice(slash + 1);
  let max;
  if (IPV4.test(address)) max = 32;
  else if (isIpv6(address)) max = 128;
  else return false;
  if (prefix === null) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= max;
}

// The URL parser knows IPv6 notation (including "::" and a trailing IPv4 part).
function isIpv6(address) {
  if (!/^[0-9A-Fa-f:.]+$/.test(address) || !address.includes(":")) return false;
  try {
    new URL(`http://[${address}]/`);
    return true;
  } catch {
    return false;
  }
}

function loadErrorMessage(error) {
  if (!(error instanceof api.ApiError)) return "The security policy could not be loaded. Please try again.";
  if (error.isNetwork) return "Cannot reach the server. Check your connection and try again.";
  if (error.status === 403) return "Only HR admins can see and change the security policy.";
  if (error.status === 429) return api.rateLimitMessage(error);
  return "The security policy could not be loaded. Please try again.";
}
