// "My reviews": the reviews I write and the reviews about me, grouped, with
// their status. HR admins also get links to each cycle's live dashboard.

import * as api from "../api.js";
import { h, replaceChildren, statusBadge, formatDateTime, formatDate, STATUS_ORDER, STATUS_LABELS } from "../dom.js";

export function reviewsView(root, context) {
  const { user, signal } = context;
  const isHr = Array.isArray(user.roles) && user.roles.includes("hr_admin");

  const body = h("div", { class: "stack" }, h("p", { class: "loading", role: "status", text: "Loading your reviews…" }));
  root.append(h("h1", { text: "My reviews" }), body);

  load();

  async function load() {
    try {
      // Cycles are only fetched for HR admins, alongside the reviews.
      const [reviews, cycles] = await Promise.all([
        api.listReviews(signal),
        isHr ? api.listCycles(signal).catch((error) => error) : Promise.resolve(null),
      ]);
      if (signal.aborted) return;
      replaceChildren(body, ...renderAll(reviews || [], cycles));
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      replaceChildren(body,
        h("p", { class: "notice notice-error", role: "alert", text: loadErrorMessage(error) }),
        h("button", { type: "button", class: "button", text: "Try again", on: { click: () => context.reload() } }));
    }
  }

  function renderAll(reviews, cycles) {
    const iWrite = reviews.filter((r) => sameId(r.reviewer_id, user.id));
    const aboutMe = reviews.filter((r) => sameId(r.reviewee_id, user.id) && !sameId(r.reviewer_id, user.id));
    const others = reviews.filter((r) => !sameId(r.reviewer_id, user.id) && !sameId(r.reviewee_id, user.id));

    const sections = [
      section("Reviews I write", "reviews-mine", iWrite,
        "You have no reviews to write right now."),
      section("Reviews about me", "reviews-about-me", aboutMe,
        "Reviews about you appear here once they are shared with you."),
    ];
    if (others.length) sections.push(section("Other reviews", "reviews-other", others, ""));
    if (cycles !== null) sections.unshift(cycleSection(cycles));
    return sections;
  }

  function section(title, id, reviews, emptyText) {
    const heading = h("h2", { id: `${id}-heading`, text: title });
    if (reviews.length === 0) {
      return h("section", { class: "section", "aria-labelledby": heading.id, "data-testid": id },
        heading, h("p", { class: "empty", text: emptyText }));
    }
    return h("section", { class: "section", "aria-labelledby": heading.id, "data-testid": id },
      heading, ...groupByCycle(reviews).map(([cycleName, items]) =>
        h("div", { class: "cycle-group", "data-closed": items.every(isClosed) ? "true" : null },
          h("h3", { class: "cycle-name", text: items.every(isClosed) ? `${cycleName} (closed)` : cycleName }),
          h("ul", { class: "review-list" }, ...items.sort(byStatusThenName).map(reviewItem)))));
  }

  function reviewItem(review) {
    // A closed cycle's review is no longer to do: it says "Closed" and where it stopped.
    const closed = isClosed(review);
    const meta = closed
      ? `Cycle closed · ${STATUS_LABELS[review.status] || review.status}`
      : reviewMeta(review);
    return h("li", {
      class: closed ? "review-item review-item-closed" : "review-item",
      "data-testid": "review-item",
      "data-review-id": review.id,
      "data-status": review.status,
      "data-closed": closed ? "true" : null,
    },
    h("a", { class: "review-link", href: `#/reviews/${encodeURIComponent(review.id)}` },
      h("span", { class: "review-main" },
        h("span", { class: "review-title", text: reviewTitle(review, user) }),
        h("span", { class: "review-meta", text: meta })),
      closed ? h("span", { class: "badge badge-closed", "data-testid": "review-closed", text: "Closed" })
        : statusBadge(review.status)));
  }

  function cycleSection(cycles) {
    const heading = h("h2", { id: "cycles-heading", text: "Cycle dashboards" });
    if (cycles instanceof Error) {
      return h("section", { class: "section", "aria-labelledby": heading.id }, heading,
        h("p", { class: "notice notice-error", text: "The cycles could not be loaded." }));
    }
    if (!Array.isArray(cycles) || cycles.length === 0) {
      return h("section", { class: "section", "aria-labelledby": heading.id }, heading,
        h("p", { class: "empty", text: "There are no review cycles yet." }));
    }
    return h("section", { class: "section", "aria-labelledby": heading.id, "data-testid": "cycles" }, heading,
      h("ul", { class: "cycle-list" }, ...cycles.map((cycle) =>
        h("li", { "data-testid": "cycle-link", "data-cycle-id": cycle.id },
          h("a", { class: "cycle-link", href: `#/cycles/${encodeURIComponent(cycle.id)}` },
            h("span", { class: "review-title", text: cycle.name }),
            h("span", { class: "review-meta", text: cycleMeta(cycle) }))))));
  }
}

/** A one-line title from the reader's point of view. */
export function reviewTitle(review, user) {
  const mine = sameId(review.reviewer_id, user.id);
  const aboutMe = sameId(review.reviewee_id, user.id);
  if (review.kind === "self") {
    return aboutMe ? "My self review" : `Self review — ${review.reviewee_name}`;
  }
  if (review.kind === "manager") {
    if (mine) return `Manager review of ${review.reviewee_name}`;
    if (aboutMe) return `Manager review from ${review.reviewer_name}`;
    return `Manager review of ${review.reviewee_name} by ${review.reviewer_name}`;
  }
  const kind = String(review.kind || "Review");
  const label = kind.charAt(0).toUpperCase() + kind.slice(1).replace(/_/g, " ");
  return `${label} review of ${review.reviewee_name}`;
}

/** Ids may be numbers or strings; compare them as strings. */
export function sameId(a, b) {
  return a !== null && a !== undefined && String(a) === String(b);
}

/** Whether the review's cycle is closed (nothing in it can change any more). */
function isClosed(review) {
  return review.cycle_phase === "closed";
}

// Cycles with work still open come first, closed cycles last.
function groupByCycle(reviews) {
  const groups = new Map();
  const ordered = [...reviews.filter((r) => !isClosed(r)), ...reviews.filter(isClosed)];
  for (const review of ordered) {
    const name = review.cycle_name || "Review cycle";
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push(review);
  }
  return [...groups.entries()];
}

// Work still to do comes first, then self reviews, then by the reviewee's name.
function byStatusThenName(a, b) {
  const rank = (status) => {
    const index = STATUS_ORDER.indexOf(status);
    return index === -1 ? STATUS_ORDER.length : index;
  };
  const kindRank = (review) => (review.kind === "self" ? 0 : 1);
  return rank(a.status) - rank(b.status) || kindRank(a) - kindRank(b) ||
    String(a.reviewee_name || "").localeCompare(String(b.reviewee_name || ""), undefined, { numeric: true });
}

// A review nobody has touched has no meaningful "updated" time to show.
function reviewMeta(review) {
  if (!review.updated_at || review.status === "not_started") return "";
  return `Updated ${formatDateTime(review.updated_at)}`;
}

function cycleMeta(cycle) {
  const parts = [cycle.status === "closed" ? "Closed" : "Open"];
  if (cycle.due_at) parts.push(`due ${formatDate(cycle.due_at)}`);
  return parts.join(" · ");
}

function loadErrorMessage(error) {
  if (error instanceof api.ApiError && error.isNetwork) {
    return "Cannot reach the server. Check your connection and try again.";
  }
  if (error instanceof api.ApiError && error.status === 429) return api.rateLimitMessage(error);
  return "Your reviews could not be loaded. Please try again.";
}
