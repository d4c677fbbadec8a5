// The cycle dashboard's breakdowns: the phase, overdue reviews, and the same
// counts per reviewee department and per reviewee manager. Redrawn from every
// progress object (HTTP or live), which carries all of them.

import { h, replaceChildren, STATUS_LABELS, STATUS_ORDER } from "../dom.js";

export const PHASE_LABELS = {
  self_review: "Self review",
  manager_review: "Manager review",
  sharing: "Sharing",
  sign_off: "Sign-off",
  closed: "Closed",
};

/** Redraw `section` from one progress object. */
export function renderBreakdowns(section, progress) {
  if (!progress || typeof progress !== "object") return;
  const phase = h("p", { class: "meta", "data-testid": "progress-phase",
    text: `Phase: ${PHASE_LABELS[progress.phase] || progress.phase || "–"} · Overdue: ${number(progress.overdue)}` });
  const departments = Object.entries(progress.by_department || {})
    .map(([name, counts]) => [name || "No department", counts, `department-${name}`]);
  const managers = (Array.isArray(progress.by_manager) ? progress.by_manager : [])
    .map((m) => [m.manager_name || "No manager", m, `manager-${m.manager_id || "none"}`]);
  replaceChildren(section, phase,
    table("By department", "Department", departments),
    table("By manager", "Manager", managers));
}

function table(caption, header, rows) {
  const keys = ["total", ...STATUS_ORDER, "overdue"];
  const label = (key) => key === "total" ? "Total" : key === "overdue" ? "Overdue" : STATUS_LABELS[key];
  return h("div", { class: "table-wrap" }, h("table", { class: "table" },
    h("caption", { text: caption }),
    h("thead", {}, h("tr", {}, h("th", { scope: "col", text: header }),
      ...keys.map((key) => h("th", { scope: "col", class: "num", text: label(key) })))),
    h("tbody", {}, ...rows.map(([name, counts, testid]) => h("tr", { "data-testid": testid },
      h("th", { scope: "row", text: name }),
      ...keys.map((key) => h("td", { class: "num", text: String(number(counts[key])) })))))));
}

function number(value) {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : 0;
}
