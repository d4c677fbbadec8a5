// 360 feedback: the hub (requests to write, feedback about me, my people's
// nominations, HR settings), the writing page and the results page.
//
// Anonymity is the server's job: these pages show what the API answers and
// nothing more (the API never tells who wrote an anonymous answer).

import * as api from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { withReauthentication } from "../reauth.js";

const PROGRESS = { not_started: "Not started", draft: "Draft", submitted: "Submitted" };
const APPROVAL = { pending: "Waiting for approval", approved: "Approved", rejected: "Rejected" };
const NOMINATORS = { reviewee: "the person reviewed", manager: "their manager", hr: "HR" };

const get = (path, signal) => api.request("GET", path, { signal });
const post = (path, body) => api.request("POST", path, { body: body || {} });
const enc = encodeURIComponent;

function failure(error, what) {
  if (error instanceof api.ApiError && error.isNetwork) return "Cannot reach the server. Please try again.";
  if (error instanceof api.ApiError && error.message) return `${what}: ${error.message}`;
  return `${what} failed. Please try again.`;
}

function errorNote(text) {
  return h("p", { class: "notice notice-error", role: "alert", "data-testid": "feedback-error", text });
}

/** `#/feedback`: everything feedback for the signed-in user. */
export function feedbackView(root, context) {
  const { user, signal } = context;
  const isHr = Array.isArray(user.roles) && user.roles.includes("hr_admin");
  const body = h("div", { class: "stack" }, h("p", { class: "loading", role: "status", text: "Loading feedback…" }));
  root.append(h("h1", { text: "360 feedback" }), body);
  load();

  async function load() {
    try {
      const [requests, cycles, allCycles] = await Promise.all([
        get("/feedback/requests", signal),
        get("/feedback/cycles", signal),
        isHr ? api.listCycles(signal) : Promise.resolve([]),
      ]);
      const sections = [requestsSection(requests)];
      for (const cycle of cycles) sections.push(await cycleSection(cycle));
      // Feedback is set up on open cycles only: the server refuses a closed one.
      if (isHr) {
        sections.push(setupSection(allCycles.filter((c) => c.status !== "closed" && c.phase !== "closed"
          && !cycles.some((f) => f.cycle_id === c.id))));
      }
      if (signal.aborted) return;
      replaceChildren(body, ...sections);
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      replaceChildren(body, errorNote(failure(error, "Loading feedback")));
    }
  }

  function requestsSection(requests) {
    const items = requests.map((r) => h("li", { class: "review-item", "data-testid": "feedback-request", "data-status": r.status },
      h("a", { class: "review-link", href: `#/feedback/requests/${enc(r.id)}` },
        h("span", { class: "review-main" },
          h("span", { class: "review-title", text: `Feedback about ${r.subject_name}` }),
          h("span", { class: "review-meta", text: `${r.cycle_name} · ${r.anonymous ? "anonymous" : "named"}${r.closed ? " · closed" : ""}` })),
        h("span", { class: "badge", dataset: { status: r.status }, text: PROGRESS[r.status] || r.status }))));
    return h("section", { class: "section", "data-testid": "feedback-requests" },
      h("h2", { text: "Feedback I am asked to give" }),
      items.length ? h("ul", { class: "review-list" }, ...items) : h("p", { class: "empty", text: "Nobody has asked you for feedback right now." }));
  }

  async function cycleSection(cycle) {
    const nominations = await get(`/cycles/${enc(cycle.cycle_id)}/nominations`, signal);
    const mine = nominations.filter((n) => n.subject_id === user.id);
    const others = nominations.filter((n) => n.subject_id !== user.id);
    const parts = [
      h("h2", { text: cycle.cycle_name }),
      h("p", { class: "review-meta", text: describe(cycle) }),
      h("h3", { text: "Feedback about me" }),
      nominationList(mine, false),
      h("p", {}, h("a", { href: `#/feedback/results/${enc(cycle.cycle_id)}/${enc(user.id)}`, "data-testid": "feedback-results-link", text: "See the results about me" })),
    ];
    if (cycle.enabled && !cycle.closed && (cycle.nominated_by === "reviewee" || isHr)) {
      parts.push(await nominateForm(cycle, user.id, mine));
    }
    if (others.length) {
      parts.push(h("h3", { text: isHr ? "Everyone's nominations" : "My people's nominations" }));
      const subjects = [...new Map(others.map((n) => [n.subject_id, n.subject_name])).entries()];
      for (const [subjectId, name] of subjects) {
        parts.push(h("h4", { text: name }),
          nominationList(others.filter((n) => n.subject_id === subjectId), !cycle.closed),
          h("p", {}, h("a", { href: `#/feedback/results/${enc(cycle.cycle_id)}/${enc(subjectId)}`, text: `Results about ${name}` })));
      }
    }
    if (isHr) parts.push(await hrPanel(cycle));
    return h("section", { class: "section", "data-testid": "feedback-cycle", "data-cycle-id": cycle.cycle_id }, ...parts);
  }

  function nominationList(nominations, decidable) {
    if (!nominations.length) return h("p", { class: "empty", text: "No nominations yet." });
    return h("ul", { class: "review-list" }, ...nominations.map((n) => {
      const status = h("span", { class: "badge", dataset: { status: n.status }, text: APPROVAL[n.status] || n.status });
      const actions = [];
      if (decidable && n.status === "pending" && n.subject_id !== user.id) {
        for (const [action, label] of [["approve", "Approve"], ["reject", "Reject"]]) {
          actions.push(h("button", { type: "button", class: "button button-quiet", "data-testid": `nomination-${action}`, text: label,
            on: { click: async (event) => {
              event.target.disabled = true;
              try {
                await post(`/nominations/${enc(n.id)}/${action}`);
                context.reload();
              } catch (error) {
                event.target.disabled = false;
                event.target.after(errorNote(failure(error, label)));
              }
            } } }));
        }
      }
      const progress = n.progress ? ` · ${PROGRESS[n.progress] || n.progress}` : "";
      return h("li", { class: "review-item nomination-item", "data-testid": "nomination", "data-status": n.status },
        h("span", { class: "review-main" },
          h("span", { class: "review-title", text: n.reviewer_name }),
          h("span", { class: "review-meta", text: progress.replace(/^ · /, "") })),
        status, ...actions);
    }));
  }

  async function nominateForm(cycle, subjectId, existing) {
    const candidates = await get(`/cycles/${enc(cycle.cycle_id)}/feedback/candidates`, signal);
    const taken = new Set(existing.map((n) => n.reviewer_id));
    const boxes = candidates.filter((c) => c.id !== subjectId && !taken.has(c.id)).map((c) => {
      const box = h("input", { type: "checkbox", value: c.id, id: `nominee-${c.id}` });
      return h("label", { class: "checkbox", for: box.id }, box, ` ${c.name}`);
    });
    const message = h("div", {});
    const form = h("form", { class: "stack", "data-testid": "nominate-form" },
      h("p", { text: `Choose ${cycle.min} to ${cycle.max} colleagues to ask for feedback about you.` }),
      h("div", { class: "stack nominee-list" }, ...boxes),
      h("button", { type: "submit", class: "button", text: "Nominate" }), message);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const reviewers = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
      try {
        await post(`/cycles/${enc(cycle.cycle_id)}/nominations`, { subject_id: subjectId, reviewer_ids: reviewers });
        context.reload();
      } catch (error) {
        replaceChildren(message, errorNote(failure(error, "Nominating")));
      }
    });
    return h("details", {}, h("summary", { text: "Nominate reviewers" }), form);
  }

  async function hrPanel(cycle) {
    const overview = await get(`/cycles/${enc(cycle.cycle_id)}/feedback/overview`, signal);
    const rows = overview.map((o) => h("tr", {},
      h("td", { text: o.subject_name }), h("td", { text: String(o.pending) }),
      h("td", { text: String(o.approved) }), h("td", { text: String(o.rejected) }),
      h("td", { text: o.submitted === null ? "hidden" : String(o.submitted) })));
    const panel = [h("h3", { text: "HR overview" }),
      h("div", { class: "table-wrap" }, h("table", { class: "table", "data-testid": "feedback-overview" },
        h("thead", {}, h("tr", {}, ...["Person", "Pending", "Approved", "Rejected", "Submitted"].map((t) => h("th", { text: t })))),
        h("tbody", {}, ...rows)))];
    if (!cycle.closed) {
      panel.push(settingsForm(cycle), h("button", { type: "button", class: "button", "data-testid": "feedback-close",
        text: "Close feedback and release results", on: { click: async (event) => {
          if (!window.confirm("Closing is final: no more feedback can be written. Close it?")) return;
          event.target.disabled = true;
          try {
            await post(`/cycles/${enc(cycle.cycle_id)}/feedback/close`);
            context.reload();
          } catch (error) {
            event.target.disabled = false;
            event.target.after(errorNote(failure(error, "Closing")));
          }
        } } }));
    }
    panel.push(h("button", { type: "button", class: "button button-quiet", "data-testid": "feedback-csv", text: "Download feedback.csv",
      on: { click: () => downloadCsv() } }));
    return h("div", { class: "stack" }, ...panel);
  }

  async function downloadCsv() {
    const { blob, filename } = await withReauthentication(() => api.download("/feedback.csv"));
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function setupSection(cycles) {
    if (!cycles.length) return null;
    return h("section", { class: "section", "data-testid": "feedback-setup" }, h("h2", { text: "Set up feedback" }),
      ...cycles.map((c) => h("div", { class: "stack" }, h("h3", { text: c.name }),
        settingsForm({ cycle_id: c.id, enabled: false, nominated_by: "reviewee", min: 3, max: 8, anonymous: true }))));
  }

  function settingsForm(cycle) {
    const enabled = h("input", { type: "checkbox", checked: cycle.enabled, id: `fb-enabled-${cycle.cycle_id}` });
    const anonymous = h("input", { type: "checkbox", checked: cycle.anonymous, id: `fb-anon-${cycle.cycle_id}` });
    const by = h("select", { class: "input", "aria-label": "Who nominates the reviewers" }, ...Object.entries(NOMINATORS).map(([value, label]) =>
      h("option", { value, text: `Nominated by ${label}`, selected: value === cycle.nominated_by })));
    const min = h("input", { type: "number", class: "input", min: 1, max: 20, value: String(cycle.min) });
    const max = h("input", { type: "number", class: "input", min: 1, max: 20, value: String(cycle.max) });
    const message = h("div", {});
    const questions = questionsEditor(cycle);
    const form = h("form", { class: "stack", "data-testid": "feedback-settings", "data-cycle-id": cycle.cycle_id },
      h("label", { for: enabled.id }, enabled, " Nominations open"),
      h("label", { for: anonymous.id }, anonymous, " Anonymous (fixed once someone is nominated)"),
      by, h("label", {}, "Fewest reviewers ", min), h("label", {}, "Most reviewers ", max),
      questions.element,
      h("button", { type: "submit", class: "button", "data-testid": "feedback-settings-save", text: "Save feedback settings" }),
      message);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      replaceChildren(message);
      const asked = questions.value();
      if (asked.some((q) => !q.prompt.trim())) {
        replaceChildren(message, errorNote("Every question needs its words, or remove it."));
        return;
      }
      if (!asked.length && questions.stored) {
        replaceChildren(message, errorNote("Feedback needs at least one question."));
        return;
      }
      const body = { enabled: enabled.checked, anonymous: anonymous.checked, nominated_by: by.value,
        min: Number(min.value), max: Number(max.value) };
      // No questions on a new setup: the server's three default ones.
      if (asked.length) body.questions = asked;
      try {
        await api.request("PUT", `/cycles/${enc(cycle.cycle_id)}/feedback`, { body });
        context.reload();
      } catch (error) {
        replaceChildren(message, errorNote(failure(error, "Saving")));
      }
    });
    return form;
  }
}

const KINDS = { text: "Text answer", rating: "Rating (1–5)" };

/**
 * The feedback questionnaire of a settings form: add, remove, reorder text and
 * rating questions. `value()` is what to send; `stored` whether the cycle has one.
 */
function questionsEditor(cycle) {
  const prefix = `fb-q-${cycle.cycle_id}`;
  const stored = Array.isArray(cycle.questions) && cycle.questions.length > 0;
  const items = stored ? cycle.questions.map((q) => ({ kind: q.kind, prompt: q.prompt })) : [];
  const list = h("ol", { class: "feedback-questions", "data-testid": "feedback-questions" });
  const add = h("button", { type: "button", class: "button button-quiet", "data-testid": "feedback-question-add",
    text: "Add a question" });
  add.addEventListener("click", () => {
    items.push({ kind: "text", prompt: "" });
    render(`${prefix}-prompt-${items.length - 1}`);
  });
  render();

  function render(focusId, fallbackId) {
    if (!items.length) {
      replaceChildren(list, h("li", { class: "empty feedback-questions-empty",
        text: stored ? "No questions: add at least one." : "No questions of your own: the three default questions are asked." }));
    } else {
      replaceChildren(list, ...items.map(item));
    }
    if (focusId) {
      // The moved question keeps the keyboard; at the end of the list, on its other move button.
      const find = (id) => id && list.querySelector(`[id="${id}"]`);
      let target = find(focusId);
      if (!target || target.disabled) target = find(fallbackId) || add;
      target.focus();
    }
  }

  function item(question, index) {
    const n = index + 1;
    const kind = h("select", { class: "input", id: `${prefix}-kind-${index}`, "data-testid": "feedback-question-kind" },
      ...Object.entries(KINDS).map(([value, label]) => h("option", { value, text: label, selected: value === question.kind })));
    kind.addEventListener("change", () => { question.kind = kind.value; });
    const prompt = h("textarea", { class: "textarea", rows: "2", maxlength: "1000", id: `${prefix}-prompt-${index}`,
      "data-testid": "feedback-question-prompt" });
    prompt.value = question.prompt;
    prompt.addEventListener("input", () => { question.prompt = prompt.value; });
    const button = (action, label, disabled, handler) => {
      const b = h("button", { type: "button", class: "button button-quiet button-small", text: label, disabled,
        "aria-label": `${label}: question ${n}`, id: `${prefix}-${action}-${index}`,
        "data-testid": `feedback-question-${action}` });
      b.addEventListener("click", handler);
      return b;
    };
    const swap = (other, action) => {
      [items[index], items[other]] = [items[other], items[index]];
      render(`${prefix}-${action}-${other}`, `${prefix}-${action === "up" ? "down" : "up"}-${other}`);
    };
    return h("li", { class: "feedback-question", "data-testid": "feedback-question" },
      h("div", { class: "field" }, h("label", { for: prompt.id, text: `Question ${n}` }), prompt),
      h("div", { class: "field" }, h("label", { for: kind.id, text: `Kind of question ${n}` }), kind),
      h("div", { class: "section-actions" },
        button("up", "Move up", index === 0, () => swap(index - 1, "up")),
        button("down", "Move down", index === items.length - 1, () => swap(index + 1, "down")),
        button("remove", "Remove", false, () => {
          items.splice(index, 1);
          render(`${prefix}-prompt-${Math.min(index, items.length - 1)}`);
        })));
  }

  const element = h("fieldset", { class: "feedback-questions-editor" },
    h("legend", { text: "Questions" }),
    h("p", { class: "meta", text: "Reviewers answer these in this order. They are fixed once someone is nominated." }),
    list, add);
  return {
    element,
    stored,
    value: () => items.map((q) => ({ kind: q.kind, prompt: q.prompt })),
  };
}

function describe(cycle) {
  const parts = [cycle.anonymous ? "Anonymous" : "Named",
    `nominated by ${NOMINATORS[cycle.nominated_by] || cycle.nominated_by}`,
    `${cycle.min}–${cycle.max} reviewers`];
  parts.push(cycle.closed ? "closed: results released" : "open: results appear when HR closes it");
  return parts.join(" · ");
}

/** `#/feedback/requests/<id>`: write, save and submit one feedback. */
export function feedbackWriteView(root, context, requestId) {
  const { signal } = context;
  const body = h("div", { class: "stack" }, h("p", { class: "loading", role: "status", text: "Loading…" }));
  root.append(h("h1", { text: "Write feedback" }), body);
  load();

  async function load() {
    try {
      render(await get(`/feedback/requests/${enc(requestId)}`, signal));
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      replaceChildren(body, errorNote(failure(error, "Loading the feedback")));
    }
  }

  function render(detail) {
    const editable = !detail.closed && detail.status !== "submitted";
    let version = detail.version;
    const inputs = new Map();
    const fields = detail.questions.map((q) => {
      const value = detail.answers[q.id];
      let input;
      if (q.kind === "rating") {
        input = h("select", { class: "input", disabled: !editable, "data-testid": `feedback-answer-${q.id}` },
          h("option", { value: "", text: "—" }),
          ...[1, 2, 3, 4, 5].map((n) => h("option", { value: String(n), text: String(n), selected: value === n })));
      } else {
        input = h("textarea", { class: "input textarea", rows: 5, readOnly: !editable, "data-testid": `feedback-answer-${q.id}` });
        input.value = typeof value === "string" ? value : "";
      }
      inputs.set(q.id, { q, input });
      return h("label", { class: "stack" }, h("span", { text: q.prompt }), input);
    });
    const message = h("div", { role: "status" });
    const note = detail.anonymous
      ? "Anonymous: nobody, HR included, will see which answers are yours. Once submitted, not even you can read them again."
      : "Named: the person and their managers will see that this feedback is yours.";
    const answers = () => {
      const out = {};
      for (const [id, { q, input }] of inputs) {
        if (q.kind === "rating") out[id] = input.value ? Number(input.value) : null;
        else out[id] = input.value;
      }
      return out;
    };
    const save = async () => {
      const saved = await api.request("PATCH", `/feedback/requests/${enc(requestId)}`, { body: { answers: answers(), version } });
      version = saved.version;
    };
    const buttons = editable ? [
      h("button", { type: "button", class: "button button-quiet", "data-testid": "feedback-save", text: "Save draft",
        on: { click: async () => {
          try {
            await save();
            replaceChildren(message, h("p", { class: "notice", text: "Saved." }));
          } catch (error) {
            replaceChildren(message, errorNote(failure(error, "Saving")));
          }
        } } }),
      h("button", { type: "button", class: "button", "data-testid": "feedback-submit", text: "Submit",
        on: { click: async () => {
          try {
            await save();
            await post(`/feedback/requests/${enc(requestId)}/submit`);
            context.navigate("#/feedback");
          } catch (error) {
            replaceChildren(message, errorNote(failure(error, "Submitting")));
          }
        } } }),
    ] : [h("p", { class: "notice", text: detail.status === "submitted" ? "Submitted. Thank you." : "This feedback is closed." })];
    replaceChildren(body, h("p", { text: `About ${detail.subject_name} · ${detail.cycle_name}` }),
      h("p", { class: "notice", text: note }), ...fields, ...buttons, message,
      h("p", {}, h("a", { href: "#/feedback", text: "Back to feedback" })));
  }
}

/** `#/feedback/results/<cycle>/<subject>`: the results, when released. */
export function feedbackResultsView(root, context, cycleId, subjectId) {
  const { signal } = context;
  const body = h("div", { class: "stack" }, h("p", { class: "loading", role: "status", text: "Loading…" }));
  root.append(h("h1", { text: "Feedback results" }), body);
  load();

  async function load() {
    try {
      const results = await get(`/feedback/results?cycle_id=${enc(cycleId)}&subject_id=${enc(subjectId)}`, signal);
      replaceChildren(body, ...render(results), h("p", {}, h("a", { href: "#/feedback", text: "Back to feedback" })));
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      replaceChildren(body, errorNote(failure(error, "Loading the results")));
    }
  }

  function render(results) {
    const head = h("p", { text: `About ${results.subject_name} · ${results.anonymous ? "anonymous" : "named"} feedback` });
    if (!results.released) {
      const why = results.withheld === "too_few_answers"
        ? "Fewer than two colleagues answered, so nothing can be shown without revealing who wrote it."
        : "Results appear once HR closes this cycle's feedback.";
      return [head, h("p", { class: "notice", "data-testid": "feedback-withheld", text: why })];
    }
    const parts = [head, h("p", { text: `${results.responses} colleagues answered.` })];
    for (const q of results.questions) {
      parts.push(h("h2", { text: q.prompt }));
      if (q.kind === "rating") {
        parts.push(h("p", { "data-testid": "feedback-average", text: `Average ${q.average ?? "—"} · ` +
          (q.ratings || []).map((n, i) => `${i + 1}: ${n}`).join(", ") }));
      } else {
        parts.push(h("ul", { class: "stack" }, ...q.texts.map((t) => h("li", { "data-testid": "feedback-text", text: t }))));
      }
    }
    if (results.named.length) {
      parts.push(h("h2", { text: "By author" }));
      for (const n of results.named) {
        parts.push(h("h3", { text: n.author_name }),
          h("ul", {}, ...Object.values(n.answers).map((a) => h("li", { text: String(a) }))));
      }
    }
    return parts;
  }
}
