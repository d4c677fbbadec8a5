// Share and sign buttons under a review, for the people who may use them:
// the manager who wrote a submitted manager review (or an HR admin) shares it
// with the reviewee; then the reviewee and the manager each sign it. The
// server decides whether the cycle's phase allows it and says why not.

import { request, ApiError } from "../api.js";
import { h, formatDateTime } from "../dom.js";

/** The rating scale of a review, 1 to 5 unless the cycle set another. */
export function ratingScaleOf(review) {
  const scale = review && review.rating_scale;
  if (scale && Number.isInteger(scale.min) && Number.isInteger(scale.max) && scale.min < scale.max) {
    return { min: scale.min, max: scale.max };
  }
  return { min: 1, max: 5 };
}

/**
 * The share/sign block for `review` as `user` sees it, or null when there is
 * nothing to do or show. `done(updatedReview, message)` re-renders the page.
 */
export function signoffActions(review, user, done) {
  if (!review || review.kind !== "manager") return null;
  const me = String(user.id);
  const isWriter = String(review.reviewer_id) === me;
  const isSubject = String(review.reviewee_id) === me;
  const isHr = Array.isArray(user.roles) && user.roles.includes("hr_admin");

  const facts = [];
  if (review.shared_at) facts.push(`Shared ${formatDateTime(review.shared_at)}`);
  if (review.reviewee_signed_at) facts.push(`signed by the reviewee ${formatDateTime(review.reviewee_signed_at)}`);
  if (review.reviewer_signed_at) facts.push(`signed by the manager ${formatDateTime(review.reviewer_signed_at)}`);

  const error = h("p", { class: "field-error", role: "alert", "data-testid": "signoff-error", hidden: true });
  const buttons = [];
  const action = (label, testid, path, message) => {
    const button = h("button", { type: "button", class: "button button-primary", "data-testid": testid, text: label });
    button.addEventListener("click", async () => {
      button.disabled = true;
      error.hidden = true;
      try {
        const updated = await request("POST", path);
        done(updated || {}, message);
      } catch (failure) {
        button.disabled = false;
        if (failure instanceof ApiError && failure.status === 401) return;
        error.textContent = failure instanceof ApiError && failure.message
          ? failure.message : "That did not work. Please try again.";
        error.hidden = false;
      }
    });
    buttons.push(button);
  };

  const id = encodeURIComponent(review.id);
  if (review.status === "submitted" && (isWriter || isHr)) {
    action("Share with the reviewee", "review-share", `/reviews/${id}/share`,
      "The review is shared: the reviewee can read it now.");
  }
  const mySignature = isSubject ? review.reviewee_signed_at : isWriter ? review.reviewer_signed_at : "none";
  if (review.status === "shared" && (isSubject || isWriter) && !mySignature) {
    action("Sign", "review-sign", `/reviews/${id}/sign`, "You signed this review.");
  }
  if (!buttons.length && !facts.length) return null;

  const calibrated = review.calibrated_ratings && Object.keys(review.calibrated_ratings).length
    ? h("p", { class: "hint", "data-testid": "review-calibrated",
      text: "HR calibrated some ratings; the reviewee sees the calibrated ones." })
    : null;
  return h("section", { class: "section signoff", "aria-label": "Sharing and sign-off", "data-testid": "signoff" },
    facts.length ? h("p", { class: "meta", "data-testid": "signoff-facts", text: facts.join(" · ") }) : null,
    calibrated,
    buttons.length ? h("div", { class: "form-actions" }, ...buttons) : null,
    error);
}
