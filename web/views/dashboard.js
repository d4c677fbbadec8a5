// HR cycle dashboard: how many reviews are in each status, live.
//
// The first numbers come from GET /cycles/{id}/progress; from then on the
// `cycle:<id>` topic on the live WebSocket pushes a full progress object on
// every status change, and the page redraws numbers and chart in place.

import * as api from "../api.js";
import { h, svg, replaceChildren, clockTime, formatDate, STATUS_LABELS, STATUS_ORDER } from "../dom.js";
import { LiveTopic } from "../live.js";
import { renderBreakdowns } from "./breakdown.js";

const LIVE_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  stopped: "Not live",
};

const KIND_LABELS = { self: "Self reviews", manager: "Manager reviews" };

export function dashboardView(root, context, cycleId) {
  const { signal } = context;
  let live = null;
  let hasLiveData = false;
  let current = null;

  // Header: title, cycle facts and the live indicator.
  const title = h("h1", { text: "Cycle dashboard" });
  const meta = h("p", { class: "meta" });
  const liveStatus = h("span", { class: "live-status", "data-testid": "live-status", role: "status",
    dataset: { state: "connecting" }, text: LIVE_TEXT.connecting });
  const updated = h("span", { class: "updated", "data-testid": "last-update" });
  const errors = h("div", { class: "notices" });

  // Numbers: one tile per status plus the total.
  const tiles = {};
  const tileList = h("dl", { class: "tiles" });
  for (const key of ["total", ...STATUS_ORDER]) {
    const value = h("dd", { class: "tile-value", "data-testid": `progress-${key}`, text: "–" });
    tiles[key] = value;
    tileList.append(h("div", { class: "tile", dataset: { status: key } },
      h("dt", { class: "tile-label", text: key === "total" ? "Total" : STATUS_LABELS[key] }), value));
  }
  const headline = h("p", { class: "headline", "data-testid": "progress-done" });

  const chart = h("div", { class: "chart" });
  const legend = h("ul", { class: "legend", "aria-label": "Legend" },
    ...STATUS_ORDER.map((status) => h("li", {},
      h("span", { class: `swatch swatch-${status}`, "aria-hidden": "true" }), STATUS_LABELS[status])));
  const tableBody = h("tbody");
  const breakdowns = h("section", { class: "section", "aria-label": "Breakdowns", "data-testid": "breakdowns" });
  const table = h("table", { class: "table" },
    h("caption", { text: "Reviews by kind" }),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col", text: "Kind" }),
      h("th", { scope: "col", class: "num", text: "Total" }),
      ...STATUS_ORDER.map((status) => h("th", { scope: "col", class: "num", text: STATUS_LABELS[status] })))),
    tableBody);

  root.append(
    h("a", { class: "back", href: "#/reviews", text: "← My reviews" }),
    h("header", { class: "dashboard-header" },
      h("div", {}, title, meta),
      h("div", { class: "live" }, liveStatus, updated)),
    errors,
    h("section", { class: "section", "aria-label": "Progress" }, tileList, headline),
    h("section", { class: "section", "aria-labelledby": "chart-heading" },
      h("h2", { id: "chart-heading", text: "Progress" }), chart, legend),
    h("section", { class: "section table-wrap" }, table),
    breakdowns);

  // Cycle name and due date, from the list of cycles.
  api.listCycles(signal).then((cycles) => {
    const cycle = Array.isArray(cycles) ? cycles.find((c) => String(c.id) === String(cycleId)) : null;
    if (!cycle || signal.aborted) return;
    title.textContent = cycle.name;
    document.title = `${cycle.name} — Kaizen`;
    const parts = [cycle.status === "closed" ? "Closed" : "Open"];
    if (cycle.due_at) parts.push(`due ${formatDate(cycle.due_at)}`);
    meta.textContent = parts.join(" · ");
  }).catch(() => {});

  // First numbers over HTTP; the live topic takes over as soon as it speaks.
  api.cycleProgress(cycleId, signal).then((progress) => {
    if (!signal.aborted && !hasLiveData) update(progress);
  }).catch((error) => {
    if (signal.aborted || error.name === "AbortError") return;
    if (error.status === 403 || error.status === 404) {
      stopLive();
      showError(error.status === 403
        ? "Only HR admins and assistants can see this cycle's dashboard."
        : "This cycle does not exist.");
    } else if (!hasLiveData) {
      showError("The numbers could not be loaded yet. They will appear when the live connection is up.");
    }
  });

  live = new LiveTopic(`cycle:${cycleId}`, {
    onData: (data) => {
      if (!data || signal.aborted) return;
      hasLiveData = true;
      replaceChildren(errors);
      update(data);
    },
    onStatus: (state) => {
      liveStatus.dataset.state = state;
      liveStatus.textContent = LIVE_TEXT[state] || state;
    },
    onError: ({ code }) => {
      showError(code === "forbidden" ? "Only HR admins and assistants can see this cycle's dashboard."
        : code === "not_found" ? "This cycle does not exist."
          : "The live connection was refused.");
    },
    // A WebSocket cannot tell us why it failed; ask the API whether the
    // session still holds (a 401 there sends the app to sign-in).
    beforeReconnect: async () => {
      await api.me();
      return true;
    },
  }).start();

  function stopLive() {
    if (live) live.stop();
  }

  function showError(text) {
    replaceChildren(errors, h("p", { class: "notice notice-error", role: "alert", text }));
  }

  /** Redraw every number, the chart and the table from one progress object. */
  function update(progress) {
    const previous = current;
    renderBreakdowns(breakdowns, progress);
    current = normalize(progress);
    for (const [key, el] of Object.entries(tiles)) {
      el.textContent = String(current[key]);
      if (previous && previous[key] !== current[key]) flash(el.parentElement);
    }
    const done = current.submitted + current.shared + current.signed;
    headline.textContent = current.total
      ? `${Math.round((done / current.total) * 100)}% submitted (${done} of ${current.total})`
      : "No reviews in this cycle yet.";
    updated.textContent = `Updated ${clockTime()}`;

    const rows = [barRow("All reviews", current)];
    for (const [kind, counts] of Object.entries(current.by_kind)) {
      rows.push(barRow(kindLabel(kind), counts));
    }
    replaceChildren(chart, ...rows);

    replaceChildren(tableBody, ...Object.entries(current.by_kind).map(([kind, counts]) =>
      h("tr", { "data-kind": kind },
        h("th", { scope: "row", text: kindLabel(kind) }),
        h("td", { class: "num", "data-testid": `by-kind-${kind}-total`, text: String(counts.total) }),
        ...STATUS_ORDER.map((status) => h("td", { class: "num", "data-testid": `by-kind-${kind}-${status}`,
          text: String(counts[status]) })))));
  }

  return () => {
    if (live) live.close();
  };
}

/** Fill in missing counts with 0 so that drawing never sees undefined. */
function normalize(progress) {
  const counts = (source) => {
    const result = { total: count(source, "total") };
    for (const status of STATUS_ORDER) result[status] = count(source, status);
    return result;
  };
  const byKind = {};
  const raw = progress && typeof progress.by_kind === "object" && progress.by_kind ? progress.by_kind : {};
  for (const kind of Object.keys(raw).sort(kindOrder)) byKind[kind] = counts(raw[kind]);
  return { ...counts(progress), by_kind: byKind };
}

function count(source, key) {
  const value = source ? Number(source[key]) : 0;
  return Number.isFinite(value) && value > 0 ? value : 0;
}

function kindOrder(a, b) {
  const rank = (kind) => (kind === "self" ? 0 : kind === "manager" ? 1 : 2);
  return rank(a) - rank(b) || a.localeCompare(b);
}

function kindLabel(kind) {
  if (KIND_LABELS[kind]) return KIND_LABELS[kind];
  const text = String(kind).replace(/_/g, " ");
  return `${text.charAt(0).toUpperCase()}${text.slice(1)} reviews`;
}

/** One labelled horizontal stacked bar: a segment per status. */
function barRow(label, counts) {
  const total = counts.total || STATUS_ORDER.reduce((sum, s) => sum + counts[s], 0);
  const description = STATUS_ORDER.map((s) => `${counts[s]} ${STATUS_LABELS[s].toLowerCase()}`).join(", ");
  const bar = svg("svg", { class: "bar", viewBox: "0 0 100 10", preserveAspectRatio: "none",
    role: "img", "aria-label": `${label}: ${total} in total; ${description}` });

  if (total === 0) {
    bar.append(svg("rect", { class: "seg seg-empty", x: 0, y: 0, width: 100, height: 10 }));
  } else {
    let x = 0;
    for (const status of STATUS_ORDER) {
      if (!counts[status]) continue;
      const width = (counts[status] / total) * 100;
      bar.append(svg("rect", { class: `seg seg-${status}`, x: x.toFixed(3), y: 0,
        width: width.toFixed(3), height: 10 },
      svg("title", { text: `${STATUS_LABELS[status]}: ${counts[status]}` })));
      x += width;
    }
  }
  return h("div", { class: "bar-row" },
    h("span", { class: "bar-label", text: label }),
    bar,
    h("span", { class: "bar-total", text: String(total) }));
}

// Briefly highlight a number that just changed (CSS respects reduced motion).
function flash(el) {
  el.classList.remove("changed");
  void el.offsetWidth;
  el.classList.add("changed");
}
