// Calibration of a cycle (HR admins): per manager review, the manager's
// ratings beside HR's calibrated ones, editable while the review is submitted
// and not yet shared. The reviewee will see the calibrated ratings.

import { request, ApiError } from "../api.js";
import { h, replaceChildren, statusBadge } from "../dom.js";
import { PHASE_LABELS } from "./breakdown.js";

export function calibrationView(root, context, cycleId) {
  const { signal } = context;
  const body = h("div", { class: "stack" },
    h("p", { class: "loading", role: "status", text: "Loading the ratings…" }));
  const meta = h("p", { class: "meta" });
  root.append(
    h("a", { class: "back", href: "#/admin/cycles", text: "← Review cycles" }),
    h("h1", { text: "Calibration" }), meta, body);
  load();

  async function load() {
    try {
      const view = await request("GET", `/cycles/${encodeURIComponent(cycleId)}/calibration`, { signal });
      if (signal.aborted) return;
      render(view);
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      replaceChildren(body, h("p", { class: "notice notice-error", role: "alert",
        text: error instanceof ApiError && error.status === 403
          ? "Only HR admins calibrate ratings." : error instanceof ApiError && error.status === 404
            ? "This cycle does not exist." : "The ratings could not be loaded." }));
    }
  }

  function render(view) {
    const scale = view.rating_scale || { min: 1, max: 5 };
    meta.textContent = `Phase: ${PHASE_LABELS[view.phase] || view.phase} · ratings ${scale.min}–${scale.max}`;
    const questions = Array.isArray(view.questions) ? view.questions : [];
    const reviews = Array.isArray(view.reviews) ? view.reviews : [];
    if (!questions.length || !reviews.length) {
      replaceChildren(body, h("p", { class: "empty",
        text: questions.length ? "No manager reviews in this cycle." : "This cycle has no rating questions." }));
      return;
    }
    const head = h("thead", {}, h("tr", {},
      h("th", { scope: "col", text: "Reviewee" }),
      h("th", { scope: "col", text: "Manager" }),
      h("th", { scope: "col", text: "Status" }),
      ...questions.map((q) => h("th", { scope: "col", text: q.prompt })),
      h("th", { scope: "col", text: "" })));
    const rows = reviews.map((entry) => row(entry, questions, scale));
    replaceChildren(body, h("div", { class: "table-wrap" },
      h("table", { class: "table", "data-testid": "calibration" }, head, h("tbody", {}, ...rows))));
  }

  function row(entry, questions, scale) {
    const open = entry.status === "submitted";
    const inputs = {};
    const cells = questions.map((q) => {
      const original = entry.ratings ? entry.ratings[q.id] : undefined;
      const calibrated = entry.calibrated ? entry.calibrated[q.id] : undefined;
      const input = h("input", { type: "number", class: "input input-short", min: scale.min, max: scale.max,
        "aria-label": `Calibrated: ${q.prompt}`, value: calibrated === undefined ? "" : String(calibrated),
        disabled: !open, "data-testid": `calibrate-${entry.review_id}-${q.id}` });
      inputs[q.id] = input;
      return h("td", {}, h("span", { class: "hint", text: `Manager: ${original === undefined ? "–" : original}` }),
        " ", input);
    });
    const message = h("span", { class: "server-text", role: "status" });
    const save = h("button", { type: "button", class: "button button-small", text: "Save", disabled: !open,
      "data-testid": `calibrate-save-${entry.review_id}` });
    save.addEventListener("click", async () => {
      const ratings = {};
      for (const [qid, input] of Object.entries(inputs)) {
        if (input.value !== "") ratings[qid] = Number(input.value);
      }
      save.disabled = true;
      try {
        const path = `/cycles/${encodeURIComponent(cycleId)}/calibration/${encodeURIComponent(entry.review_id)}`;
        await request("PUT", path, { body: { ratings } });
        message.textContent = "Saved";
      } catch (failure) {
        message.textContent = failure instanceof ApiError ? failure.message : "Not saved.";
      } finally {
        save.disabled = false;
      }
    });
    return h("tr", { "data-testid": `calibration-${entry.review_id}` },
      h("th", { scope: "row", text: entry.reviewee_name }),
      h("td", { text: entry.reviewer_name }),
      h("td", {}, statusBadge(entry.status)),
      ...cells,
      h("td", {}, save, " ", message));
  }
}
