// The live password strength meter shown under every new-password field.
//
// 300 ms after the last keystroke the typed password goes to
// POST /password-strength, which rates it from 0 to 4 with zxcvbn and says
// why. Only the newest answer is shown: a newer keystroke aborts the request
// in flight. The password is never logged, stored or kept beyond the call.
// The meter only advises; the server refuses new passwords below 2 itself.

import * as api from "./api.js";
import { h, replaceChildren } from "./dom.js";

const DEBOUNCE_MS = 300;

/** The words for each score, 0 to 4. */
export const STRENGTH_LABELS = ["Very weak", "Weak", "Fair", "Strong", "Very strong"];

/** The lowest score the server accepts for a new password. */
export const MIN_SCORE = 2;

/**
 * Attach a meter to a password input. Returns `{ element, reset }`: put
 * `element` under the input; call `reset()` after clearing the input
 * programmatically (input events do not fire then).
 *
 * Options: `signal` (stops the meter when the view is left), `context()`
 * (returns `{company, email}` to count against the password, when known).
 */
export function strengthMeter(input, { signal, context = () => ({}) } = {}) {
  const id = `${input.id || "password"}-strength`;
  const steps = STRENGTH_LABELS.map(() => h("span", { class: "strength-step" }));
  const bar = h("span", { class: "strength-bar", "aria-hidden": "true" }, steps);
  const text = h("span", { class: "strength-text", "data-testid": "strength-text" });
  const warning = h("p", { class: "strength-warning", hidden: true });
  const suggestions = h("ul", { class: "strength-suggestions", hidden: true });
  const element = h("div", { class: "strength", id, "data-testid": "strength-meter", hidden: true },
    h("div", { class: "strength-row" }, bar, h("span", { "aria-live": "polite" }, text)),
    warning,
    suggestions,
    h("p", { class: "hint strength-note",
      text: `New passwords must be at least “${STRENGTH_LABELS[MIN_SCORE]}”.` }));

  // Screen readers hear the verdict after the field's own hints.
  const described = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
  if (!described.includes(id)) input.setAttribute("aria-describedby", [...described, id].join(" "));

  let timer = null;
  let inFlight = null;

  function cancel() {
    clearTimeout(timer);
    timer = null;
    if (inFlight) inFlight.abort();
    inFlight = null;
  }

  function reset() {
    cancel();
    lastValue = input.value;
    element.hidden = true;
    element.removeAttribute("data-score");
    element.removeAttribute("data-state");
    text.textContent = "";
    warning.hidden = true;
    suggestions.hidden = true;
  }

  async function rate() {
    const password = input.value;
    if (!password) {
      reset();
      return;
    }
    const controller = new AbortController();
    inFlight = controller;
    element.dataset.state = "checking";
    try {
      const { company, email, name } = context() || {};
      const answer = await api.passwordStrength(password, { company, email, name, signal: controller.signal });
      if (controller.signal.aborted || inFlight !== controller) return;
      show(answer);
    } catch (error) {
      if (controller.signal.aborted || (error && error.name === "AbortError")) return;
      showProblem(error instanceof api.ApiError && error.status === 422
        ? error.message
        : "The strength could not be checked just now.");
    } finally {
      if (inFlight === controller) inFlight = null;
    }
  }

  function show(answer) {
    const score = Math.max(0, Math.min(4, Number(answer && answer.score) || 0));
    const feedback = (answer && answer.feedback) || {};
    element.hidden = false;
    element.dataset.score = String(score);
    element.dataset.state = score >= MIN_SCORE ? "ok" : "weak";
    steps.forEach((step, index) => step.classList.toggle("strength-step-on", index <= score));
    text.textContent = `Strength: ${STRENGTH_LABELS[score]}`;

    warning.textContent = feedback.warning || "";
    warning.hidden = !feedback.warning;
    const tips = Array.isArray(feedback.suggestions) ? feedback.suggestions.filter(Boolean) : [];
    replaceChildren(suggestions, ...tips.map((tip) => h("li", { text: tip })));
    suggestions.hidden = tips.length === 0;
  }

  function showProblem(message) {
    element.hidden = false;
    element.removeAttribute("data-score");
    element.dataset.state = "unknown";
    steps.forEach((step) => step.classList.remove("strength-step-on"));
    text.textContent = "";
    warning.textContent = message;
    warning.hidden = false;
    suggestions.hidden = true;
  }

  // "change" as well: autofill and some tools set the value without "input".
  let lastValue = "";
  const changed = () => {
    if (input.value === lastValue) return;
    lastValue = input.value;
    cancel();
    if (!input.value) {
      reset();
      return;
    }
    timer = setTimeout(rate, DEBOUNCE_MS);
  };
  input.addEventListener("input", changed);
  input.addEventListener("change", changed);
  if (signal) signal.addEventListener("abort", cancel);

  return { element, reset };
}
