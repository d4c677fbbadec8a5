// HR's review cycles: create one (questions, rating scale, who is reviewed,
// a deadline per phase), see each cycle's phase and deadlines, move it to its
// next phase or close it, and open its dashboard or calibration.
// HR admins and HR assistants; only HR admins calibrate.

import { request, ApiError } from "../api.js";
import { h, replaceChildren, formatDateTime } from "../dom.js";
import { PHASE_LABELS } from "./breakdown.js";

const NEXT_PHASE = {
  self_review: "manager_review",
  manager_review: "sharing",
  sharing: "sign_off",
  sign_off: "closed",
};

export function cyclesView(root, context) {
  const { user, signal } = context;
  const roles = Array.isArray(user.roles) ? user.roles : [];
  const isHrAdmin = roles.includes("hr_admin");
  const list = h("div", { class: "stack", "data-testid": "cycle-list" },
    h("p", { class: "loading", role: "status", text: "Loading the cycles…" }));
  root.append(
    h("h1", { text: "Review cycles" }),
    h("section", { class: "section", "aria-labelledby": "cycles-heading" },
      h("h2", { id: "cycles-heading", text: "Cycles" }), list),
    h("section", { class: "section", "aria-labelledby": "new-cycle-heading" },
      h("h2", { id: "new-cycle-heading", text: "New cycle" }), createForm()));
  load();

  async function load() {
    try {
      const cycles = await request("GET", "/cycles", { signal });
      if (signal.aborted) return;
      replaceChildren(list, ...(cycles.length ? cycles.map(cycleCard)
        : [h("p", { class: "empty", text: "No cycles yet." })]));
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      replaceChildren(list, h("p", { class: "notice notice-error", role: "alert",
        text: error instanceof ApiError && error.status === 403
          ? "Only HR admins and assistants run cycles." : "The cycles could not be loaded." }));
    }
  }

  function cycleCard(cycle) {
    const deadlines = cycle.deadlines || {};
    const facts = [`Phase: ${PHASE_LABELS[cycle.phase] || cycle.phase}`];
    const scale = cycle.rating_scale || { min: 1, max: 5 };
    facts.push(`ratings ${scale.min}–${scale.max}`);
    for (const [key, label] of [["self_review", "self reviews"], ["manager_review", "manager reviews"],
      ["sign_off", "sign-off"]]) {
      if (deadlines[key]) facts.push(`${label} due ${formatDateTime(deadlines[key])}`);
    }
    const error = h("p", { class: "field-error", role: "alert", hidden: true });
    // Advancing names the phase it was shown in, so that a second click (or a second
    // person) gets a 409 instead of skipping the next phase.
    const move = (label, path, testid, body) => {
      const button = h("button", { type: "button", class: "button", "data-testid": testid, text: label });
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          await request("POST", path, body === undefined ? {} : { body });
          load();
        } catch (failure) {
          button.disabled = false;
          error.textContent = failure instanceof ApiError ? failure.message : "That did not work.";
          error.hidden = false;
        }
      });
      return button;
    };
    const id = encodeURIComponent(cycle.id);
    const next = NEXT_PHASE[cycle.phase];
    const actions = [h("a", { class: "button", href: `#/cycles/${id}`, text: "Dashboard" })];
    if (isHrAdmin) actions.push(h("a", { class: "button", href: `#/cycles/${id}/calibration`, text: "Calibrate" }));
    if (next && next !== "closed") {
      actions.push(move(`Move to ${PHASE_LABELS[next]}`, `/cycles/${id}/advance`, "cycle-advance",
        { from: cycle.phase }));
    }
    if (cycle.phase !== "closed") actions.push(move("Close", `/cycles/${id}/close`, "cycle-close"));
    return h("article", { class: "card", "data-testid": "cycle", dataset: { phase: cycle.phase, cycleId: cycle.id } },
      h("h3", { text: cycle.name }),
      h("p", { class: "meta", text: facts.join(" · ") }),
      h("div", { class: "form-actions" }, ...actions),
      error);
  }

  function createForm() {
    const name = h("input", { id: "cycle-name", class: "input", required: true, maxlength: 200 });
    const questions = h("div", { class: "stack", "data-testid": "cycle-questions" });
    const addQuestion = (kind = "text", prompt = "") => {
      const kindSelect = h("select", { class: "input input-short", "aria-label": "Kind" },
        h("option", { value: "text", text: "Text", selected: kind === "text" }),
        h("option", { value: "rating", text: "Rating", selected: kind === "rating" }),
        h("option", { value: "objectives", text: "Rate each linked objective", selected: kind === "objectives" }));
      const promptInput = h("input", { class: "input", "aria-label": "Question", value: prompt, maxlength: 1000 });
      const row = h("div", { class: "question-row" }, kindSelect, promptInput);
      row.append(h("button", { type: "button", class: "button button-quiet button-small", text: "Remove",
        on: { click: () => row.remove() } }));
      questions.append(row);
    };
    addQuestion("text", "What went well?");
    addQuestion("rating", "Overall rating");
    const min = h("input", { type: "number", id: "cycle-scale-min", class: "input input-short", value: "1" });
    const max = h("input", { type: "number", id: "cycle-scale-max", class: "input input-short", value: "5" });
    const who = h("select", { id: "cycle-who", class: "input" },
      h("option", { value: "everyone", text: "Everyone" }),
      h("option", { value: "departments", text: "Departments (comma-separated)" }),
      h("option", { value: "participants", text: "People (user ids, comma-separated)" }));
    // The list box shows only when it is asked for, with a label that says what goes in.
    const whoList = h("input", { id: "cycle-who-list", class: "input", "aria-describedby": "cycle-who-error" });
    const whoLabel = h("label", { class: "label", for: "cycle-who-list" });
    const whoError = h("p", { id: "cycle-who-error", class: "field-error", role: "alert",
      "data-testid": "cycle-who-error", tabindex: "-1", hidden: true });
    const whoBox = h("div", { class: "field-sub", "data-testid": "cycle-who-list" }, whoLabel, whoList, whoError);
    const WHO_LABELS = {
      departments: "Departments, separated by commas",
      participants: "People: user ids, separated by commas",
    };
    const showWho = () => {
      whoBox.hidden = who.value === "everyone";
      whoLabel.textContent = WHO_LABELS[who.value] || "Departments or people";
      whoError.hidden = true;
      whoList.removeAttribute("aria-invalid");
    };
    who.addEventListener("change", showWho);
    showWho();
    const deadline = (id) => h("input", { type: "datetime-local", id, class: "input input-datetime" });
    const selfDue = deadline("cycle-due-self");
    const managerDue = deadline("cycle-due-manager");
    const signDue = deadline("cycle-due-sign");
    const message = h("p", { class: "server-text", role: "status", "data-testid": "cycle-message" });
    const field = (label, forId, ...inputs) => h("div", { class: "field" },
      h("label", { class: "label", for: forId, text: label }), ...inputs);

    const form = h("form", { class: "card", novalidate: true, "aria-label": "New cycle" },
      field("Name", "cycle-name", name),
      h("div", { class: "field" }, h("span", { class: "label", text: "Questions" }), questions,
        h("button", { type: "button", class: "button button-small", text: "Add question",
          on: { click: () => addQuestion() } })),
      field("Rating scale from", "cycle-scale-min", min, h("label", { for: "cycle-scale-max", text: " to " }), max),
      field("Who is reviewed", "cycle-who", who, whoBox),
      field("Self reviews due", "cycle-due-self", selfDue),
      field("Manager reviews due", "cycle-due-manager", managerDue),
      field("Sign-off due", "cycle-due-sign", signDue),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "button button-primary", "data-testid": "cycle-create",
          text: "Create cycle" })),
      message);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {
        name: name.value.trim(),
        questions: [...questions.children].map((row) => ({
          kind: row.querySelector("select").value,
          prompt: row.querySelector("input").value.trim(),
        })),
        rating_scale: { min: Number(min.value), max: Number(max.value) },
      };
      const items = whoList.value.split(",").map((s) => s.trim()).filter(Boolean);
      if (who.value !== "everyone") {
        if (!items.length) {
          whoError.textContent = who.value === "departments"
            ? "Name at least one department, or choose Everyone."
            : "Give at least one user id, or choose Everyone.";
          whoError.hidden = false;
          whoList.setAttribute("aria-invalid", "true");
          whoList.focus();
          whoError.scrollIntoView({ block: "center" });
          return;
        }
        whoError.hidden = true;
        whoList.removeAttribute("aria-invalid");
        body[who.value] = items;
      }
      const deadlines = {};
      for (const [key, input] of [["self_review", selfDue], ["manager_review", managerDue], ["sign_off", signDue]]) {
        if (input.value) deadlines[key] = new Date(input.value).toISOString();
      }
      if (Object.keys(deadlines).length) body.deadlines = deadlines;
      try {
        const cycle = await request("POST", "/cycles", { body });
        message.textContent = `Created “${cycle.name}”.`;
        form.reset();
        showWho();
        load();
      } catch (failure) {
        message.textContent = failure instanceof ApiError ? failure.message : "The cycle was not created.";
      }
    });
    return form;
  }
}
