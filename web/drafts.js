// Unsaved answers kept in memory while they cannot reach the server.
//
// When a save fails for good — the session ended, or someone else changed
// the review first — the answers the user typed must not vanish. They are
// kept here, in this tab's memory only (never in localStorage: the content
// is confidential), keyed by user and review, and offered again when the
// same user opens the same review. Signing out forgets them all.

// Limitation: kept drafts live only as long as this tab; a page reload
// loses them.
const drafts = new Map();

const key = (userId, reviewId) => `${userId}\u0000${reviewId}`;

/** Keep `answers` ({question_id: value}) typed against review `version`. */
export function keepDraft(userId, reviewId, version, answers) {
  if (!answers || Object.keys(answers).length === 0) return;
  const previous = drafts.get(key(userId, reviewId));
  const merged = previous ? { ...previous.answers, ...answers } : { ...answers };
  const baseVersion = previous ? previous.version : version;
  drafts.set(key(userId, reviewId), { version: baseVersion, answers: merged });
}

/** Take (and forget) the kept draft for this user and review, or null. */
export function takeDraft(userId, reviewId) {
  const k = key(userId, reviewId);
  const draft = drafts.get(k) || null;
  drafts.delete(k);
  return draft;
}

/** Forget every kept draft (on sign-out). */
export function clearDrafts() {
  drafts.clear();
}
