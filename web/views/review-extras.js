// Below the review editor: the review subject's objectives linked into the
// review's cycle (GET /reviews/{id}/objectives; the section stays hidden when
// there are none) and the review's comments (GET/POST /reviews/{id}/comments,
// DELETE for one's own). Both answer only to those who may read the review.

import * as api from "../api.js";
import { h, replaceChildren, formatDateTime } from "../dom.js";
import { linkStyles } from "./objectives.js";

const path = (...parts) => parts.map((p) => encodeURIComponent(String(p))).join("/");

/** The panel for review `reviewId`; loads itself and stops when `signal` aborts. */
export function reviewExtras(reviewId, signal) {
  linkStyles();
  const objectives = h("section", { class: "section", "data-testid": "review-objectives", hidden: true });
  const list = h("ul", { class: "comments", "data-testid": "review-comments" },
    h("li", { class: "loading", text: "Loading comments…" }));
  const message = h("p", { class: "notice notice-error", role: "alert", "data-testid": "review-comments-message",
    hidden: true });
  const text = h("textarea", { class: "textarea", "aria-label": "Your comment", maxlength: "5000",
    "data-testid": "review-comment-body" });
  const send = h("button", { type: "submit", class: "button button-small", text: "Comment",
    "data-testid": "review-comment-submit" });
  const form = h("form", { class: "comment-form" }, text, send);
  const base = `/reviews/${path(reviewId, "comments")}`;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!text.value.trim()) return;
    send.disabled = true;
    try {
      await api.request("POST", base, { body: { body: text.value } });
      text.value = "";
      message.hidden = true;
      await loadComments();
    } catch (error) {
      fail(error);
    } finally {
      send.disabled = false;
    }
  });

  function fail(error) {
    message.textContent = error instanceof api.ApiError && error.status === 422
      ? error.message : "The comment could not be saved. Please try again.";
    message.hidden = false;
  }

  async function loadComments() {
    try {
      const comments = await api.request("GET", base, { signal });
      if (signal.aborted) return;
      if (!comments || comments.length === 0) {
        replaceChildren(list, h("li", { class: "empty", text: "No comments yet." }));
        return;
      }
      replaceChildren(list, ...comments.map((c) => {
        const remove = c.mine ? h("button", { type: "button", class: "button button-quiet button-small",
          text: "Delete", "data-testid": "review-comment-delete" }) : null;
        if (remove) {
          remove.addEventListener("click", async () => {
            try {
              await api.request("DELETE", `${base}/${path(c.id)}`);
              await loadComments();
            } catch (error) {
              fail(error);
            }
          });
        }
        return h("li", { class: "comment", "data-testid": "review-comment", "data-comment-id": c.id },
          h("p", { class: "comment-meta" },
            h("strong", { text: c.author_name }), " · ",
            h("time", { datetime: c.created_at, text: formatDateTime(c.created_at) })),
          h("p", { class: "comment-text", text: c.body }),
          remove);
      }));
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      replaceChildren(list, h("li", { class: "notice notice-error", text: "The comments could not be loaded." }));
    }
  }

  async function loadObjectives() {
    try {
      const linked = await api.request("GET", `/reviews/${path(reviewId, "objectives")}`, { signal });
      if (signal.aborted || !Array.isArray(linked) || linked.length === 0) return;
      replaceChildren(objectives,
        h("h2", { text: "Objectives in this cycle" }),
        h("ul", { class: "key-results" }, ...linked.map((o) => {
          const weight = o.cycles && o.cycles[0] && o.cycles[0].weight;
          return h("li", { class: "key-result", "data-testid": "review-objective", "data-objective-id": o.id },
            h("span", { class: "key-result-title", text: weight ? `${o.title} (weight ${weight})` : o.title }),
            h("span", { class: "objective-progress" },
              h("progress", { max: "100", value: String(o.progress), "aria-label": `${o.progress}% done` }),
              h("span", { class: "objective-percent", text: `${o.progress}%` })));
        })));
      objectives.hidden = false;
    } catch (error) {
      // The objectives are extra: without them the review is still whole.
      if (!(signal.aborted || error.name === "AbortError")) console.error(error);
    }
  }

  loadObjectives();
  loadComments();
  return h("div", { class: "review-extras" }, objectives,
    h("section", { class: "section" }, h("h2", { text: "Comments" }), list, message, form));
}
