// The review editor: one field per question, autosaved drafts, submit.
//
// Drafts save themselves ~800 ms after the last keystroke with
// PATCH {answers, version}, sending only the answers that changed. Saves
// run one at a time, in order, so the version we send is always the one the
// previous save returned. A stale version (409) stops autosave and asks the
// user to reload; what they typed is kept (see drafts.js) and offered again
// after the reload, so an edit is never silently lost.
//
// The review's live topic shows who else is here and in which answer, and
// brings in answers saved elsewhere (another browser of the same writer) as
// long as this tab has no unsaved change to the same answer; the server merges
// saves of different answers and answers 409 with both versions for the same
// one. Edits typed while offline wait in the autosave and go out as soon as
// the connection is back.

import * as api from "../api.js";
import { h, replaceChildren, statusBadge, clockTime, formatDateTime, STATUS_LABELS } from "../dom.js";
import { signoffActions, ratingScaleOf } from "./signoff.js";
import { keepDraft, takeDraft } from "../drafts.js";
import { LiveTopic } from "../live.js";
import { reviewTitle, sameId } from "./reviews.js";
import { reviewExtras } from "./review-extras.js";
import { objectivesQuestion, objectivesAnswered } from "./objectives-question.js";

const DEBOUNCE_MS = 800;
const FIRST_RETRY_MS = 2000;
const MAX_RETRY_MS = 30000;
const EDITABLE = new Set(["not_started", "draft"]);

export function editorView(root, context, reviewId) {
  const { user, signal } = context;
  const body = h("div", { class: "stack" },
    h("p", { class: "loading", role: "status", text: "Loading the review…" }));
  root.append(h("a", { class: "back", href: "#/reviews", text: "← My reviews" }), body);

  let editor = null;
  load();

  async function load() {
    try {
      const review = await api.getReview(reviewId, signal);
      if (signal.aborted) return;
      editor = new Editor(body, review, context, reviewId);
      root.append(reviewExtras(reviewId, signal));
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      replaceChildren(body,
        h("h1", { text: "Review" }),
        h("p", { class: "notice notice-error", role: "alert", text: loadErrorMessage(error) }),
        error.status === 404 || error.status === 403 ? null
          : h("button", { type: "button", class: "button", text: "Try again", on: { click: () => context.reload() } }));
    }
  }

  // Leaving the page: save what is pending, or keep it for later.
  return () => {
    return editor ? editor.leave(user.id) : undefined;
  };
}

/** One open review: its fields, its autosave and its submit button. */
class Editor {
  constructor(container, review, context, reviewId) {
    this.container = container;
    this.context = context;
    this.reviewId = reviewId;
    this.user = context.user;
    this.autosave = null;
    this.fields = new Map();
    this.onBeforeUnload = (event) => this.beforeUnload(event);
    this.onVisibility = () => {
      if (document.visibilityState === "hidden" && this.autosave) this.autosave.flush({ keepalive: true });
    };
    this.onKeydown = (event) => {
      // Ctrl/Cmd+S saves now instead of opening the browser's save dialog.
      if ((event.ctrlKey || event.metaKey) && String(event.key).toLowerCase() === "s" && this.autosave) {
        event.preventDefault();
        this.autosave.flush();
      }
    };
    window.addEventListener("beforeunload", this.onBeforeUnload);
    document.addEventListener("visibilitychange", this.onVisibility);
    document.addEventListener("keydown", this.onKeydown);
    this.viewers = [];
    this.me = null;
    this.render(review, null);
    this.live = new LiveTopic(`review:${reviewId}`, {
      onData: (data, message) => this.liveData(data, message),
      onStatus: (status) => this.liveStatus(status),
      // A WebSocket cannot say why it failed; a 401 here sends the app to sign-in.
      beforeReconnect: async () => {
        await api.me();
        return true;
      },
    }).start();
  }

  /** A snapshot or event of the review's topic. */
  liveData(data, message) {
    if (!data || typeof data !== "object") return;
    if (message.type === "snapshot") {
      this.me = data.you;
      this.showViewers(data.presence);
      if (typeof data.version === "number" && this.autosave && data.version > this.autosave.version) {
        this.catchUp();
      }
      return;
    }
    if (message.event === "presence") this.showViewers(data.presence);
    if (message.event === "saved") this.savedElsewhere(data);
  }

  /** The connection's state: a clear note while it is down, a save when it is back. */
  liveStatus(status) {
    if (!this.liveEl) return;
    const down = status === "reconnecting";
    this.liveEl.hidden = !down && status !== "stopped";
    this.liveEl.dataset.state = status;
    this.liveEl.textContent = down ? "Reconnecting… your changes are kept and saved when the connection is back."
      : status === "stopped" ? "Live updates stopped. Reload to see others' changes." : "";
    if (status === "live" && this.wasDown && this.autosave && this.autosave.hasUnsaved()) this.autosave.flush();
    this.wasDown = down;
  }

  /** Show who else is here and which answer each is in. */
  showViewers(list) {
    this.viewers = Array.isArray(list) ? list : [];
    const others = this.viewers.filter((v) => v.viewer !== this.me);
    if (this.presenceEl) {
      const names = others.map((v) => v.name + (sameId(v.user_id, this.user.id) ? " (you, elsewhere)" : ""));
      this.presenceEl.hidden = names.length === 0;
      this.presenceEl.textContent = names.length ? `Also here: ${names.join(", ")}` : "";
    }
    for (const [qid, field] of this.fields) {
      const here = others.filter((v) => String(v.answer) === qid).map((v) => v.name);
      field.presenceEl.hidden = here.length === 0;
      field.presenceEl.textContent = here.length ? `${here.join(", ")} ${here.length === 1 ? "is" : "are"} here` : "";
    }
  }

  /** Answers saved elsewhere: take those this tab has not changed itself. */
  savedElsewhere(data) {
    if (typeof data.version !== "number") return;
    const changed = Array.isArray(data.changed) ? data.changed.map(String) : [];
    const answers = data.answers && typeof data.answers === "object" ? data.answers : {};

    // A reader's page shows the new answers and status as they come.
    if (!this.autosave) {
      if (this.editable || data.version <= this.review.version) return;
      const merged = { ...(this.review.answers || {}) };
      for (const qid of changed) {
        if (qid in answers) merged[qid] = answers[qid];
        else delete merged[qid];
      }
      const status = typeof data.status === "string" ? data.status : this.review.status;
      this.render({ ...this.review, answers: merged, version: data.version, status }, null);
      return;
    }
    if (data.version <= this.autosave.version) return;
    let clash = this.autosave.inFlight;
    for (const qid of changed) {
      if (this.autosave.pending.has(qid)) {
        clash = true;
        continue;
      }
      this.showValue(qid, qid in answers ? answers[qid] : null);
    }
    // Only when nothing of ours touches what changed does this tab move to the
    // new version; otherwise the server must see the old one to report a clash.
    if (!clash) this.autosave.version = data.version;
  }

  /** After a gap in live events: read the review again and take what changed. */
  async catchUp() {
    try {
      const review = await api.getReview(this.reviewId);
      if (!this.autosave || this.autosave.hasUnsaved() || review.version <= this.autosave.version) return;
      for (const qid of this.fields.keys()) this.showValue(qid, review.answers ? review.answers[qid] : null);
      this.autosave.version = review.version;
    } catch {
      // The next save or event tries again.
    }
  }

  /** Put a value saved elsewhere into a field, without saving it again. */
  showValue(qid, value) {
    const field = this.fields.get(qid);
    if (!field) return;
    if (field.question.kind === "objectives") {
      if (field.show) field.show(value);
    } else if (field.question.kind === "rating") {
      for (const radio of field.block.querySelectorAll('input[type="radio"]')) {
        radio.checked = Number(radio.value) === value;
      }
      const clear = field.block.querySelector(`[data-testid="answer-${qid}-clear"]`);
      if (clear) clear.hidden = !isRating(value);
    } else if (field.control && "value" in field.control) {
      field.control.value = typeof value === "string" ? value : "";
    }
    this.answers[qid] = value;
  }

  /** Build the whole editor for `review`; `notice` is {kind, text} or null. */
  render(review, notice) {
    this.review = review;
    scale = ratingScaleOf(review);
    this.answers = { ...(review.answers || {}) };
    this.editable = EDITABLE.has(review.status) && sameId(review.reviewer_id, this.user.id);
    this.fields.clear();

    // Answers typed earlier that never reached the server come back here.
    const draft = takeDraft(this.user.id, this.reviewId);
    const recovered = this.recover(draft);

    this.statusEl = statusBadge(review.status, { "data-testid": "review-status" });
    this.notices = h("div", { class: "notices" });
    this.saveStatus = h("span", { class: "save-status", role: "status", "aria-live": "polite",
      "data-testid": "save-status", dataset: { state: "idle" } });

    const questions = Array.isArray(review.questions) ? review.questions : [];
    const form = h("form", { class: "questions", novalidate: true, on: { submit: (e) => e.preventDefault() } },
      ...questions.map((question, index) => this.questionBlock(question, index, recovered.conflicting)));

    document.title = `${reviewTitle(review, this.user)} — Kaizen`;
    const header = h("header", { class: "editor-header" },
      h("p", { class: "eyebrow", text: review.cycle_name || "" }),
      h("div", { class: "title-row" },
        h("h1", { text: reviewTitle(review, this.user) }),
        this.statusEl),
      h("p", { class: "meta", text: this.metaLine(review) }));

    this.presenceEl = h("p", { class: "presence", "data-testid": "presence", hidden: true });
    this.liveEl = h("p", { class: "notice notice-warning", role: "status", "data-testid": "review-live-status", hidden: true });
    form.addEventListener("focusin", (event) => {
      const block = event.target.closest("[data-question-id]");
      if (this.live) this.live.setPresence(block ? block.dataset.questionId : null);
    });
    form.addEventListener("focusout", (event) => {
      if (!event.relatedTarget || !form.contains(event.relatedTarget)) {
        if (this.live) this.live.setPresence(null);
      }
    });
    header.append(this.presenceEl);

    const parts = [header, this.liveEl, this.notices, questions.length ? form
      : h("p", { class: "empty", text: "This review has no questions." })];

    if (this.editable) {
      this.submitButton = h("button", { type: "button", class: "button button-primary",
        "data-testid": "review-submit", text: "Submit review", on: { click: () => this.submit() } });
      parts.push(h("div", { class: "editor-footer" },
        this.saveStatus,
        h("span", { class: "footer-hint", text: "Drafts save automatically. Submitting is final." }),
        this.submitButton));
      this.autosave = new Autosave({
        version: review.version,
        send: (answers, version, options) => api.saveReview(this.reviewId, answers, version, options),
        onState: (state, detail) => this.showSaveState(state, detail),
        onSaved: (result) => this.saved(result),
        onFailure: (error) => this.saveFailed(error),
      });
      this.showSaveState("idle");
    } else {
      this.autosave = null;
      parts.splice(2, 0, h("p", { class: "notice notice-info", text: this.readOnlyReason(review) }));
    }
    const signoff = signoffActions(review, this.user, (updated, text) =>
      this.render({ ...this.review, ...updated }, { kind: "success", text }));
    if (signoff) parts.push(signoff);

    replaceChildren(this.container, ...parts);
    this.showViewers(this.viewers);
    if (notice) this.notify(notice.kind, notice.text);

    // Restored answers typed against this very version: just save them.
    if (this.autosave && Object.keys(recovered.silent).length) {
      for (const [qid, value] of Object.entries(recovered.silent)) this.autosave.change(qid, value);
      this.notify("info", "Your unsaved changes were restored and are being saved.");
    } else if (Object.keys(recovered.conflicting).length) {
      this.notify("warning", this.editable
        ? "This review changed before some of your edits were saved. Your unsaved versions are shown under their questions: choose “Use my version” to keep one."
        : "This review can no longer be edited. Your unsaved versions are shown under their questions so that you can copy them.");
    }
  }

  /** Split a kept draft into answers to re-save and answers to offer. */
  recover(draft) {
    const result = { silent: {}, conflicting: {} };
    if (!draft) return result;
    const known = new Set((this.review.questions || []).map((q) => String(q.id)));
    for (const [qid, value] of Object.entries(draft.answers)) {
      if (!known.has(qid) || sameValue(value, this.answers[qid])) continue;
      if (this.editable && draft.version === this.review.version) {
        result.silent[qid] = value;
        this.answers[qid] = value;
      } else {
        result.conflicting[qid] = value;
      }
    }
    return result;
  }

  metaLine(review) {
    const parts = [];
    if (!sameId(review.reviewer_id, this.user.id)) parts.push(`Written by ${review.reviewer_name}`);
    if (!sameId(review.reviewee_id, this.user.id) && review.kind !== "self") parts.push(`About ${review.reviewee_name}`);
    if (review.updated_at && review.status !== "not_started") {
      parts.push(`Last saved ${formatDateTime(review.updated_at)}`);
    }
    return parts.join(" · ");
  }

  readOnlyReason(review) {
    if (!sameId(review.reviewer_id, this.user.id)) {
      return sameId(review.reviewee_id, this.user.id)
        ? `This review was written about you by ${review.reviewer_name}. It is read-only.`
        : `This review is written by ${review.reviewer_name}. It is read-only for you.`;
    }
    const label = STATUS_LABELS[review.status] || review.status;
    return `This review is ${label.toLowerCase()} and can no longer be edited.`;
  }

  /** One question: its prompt, its field (or answer), its error and recovery slots. */
  questionBlock(question, index, conflicting) {
    const qid = String(question.id);
    const errorEl = h("p", { class: "field-error", id: `q-${qid}-error`, hidden: true });
    const value = this.answers[qid];
    const number = `${index + 1}. `;
    let control;
    let block;
    let show = null;

    if (question.kind === "objectives") {
      // One rating per linked objective, with its title, weight and progress.
      const objectives = Array.isArray(this.review.objectives) ? this.review.objectives : [];
      const built = objectivesQuestion({
        qid, value, objectives, scale, editable: this.editable,
        serverScore: this.review.objectives_score,
        onChange: (answer) => {
          this.answers[qid] = answer;
          this.clearFieldError(qid);
          this.autosave.change(qid, answer);
        },
      });
      control = built.element;
      show = built.show;
      block = h("fieldset", { class: "question", "data-question-id": qid, "aria-describedby": errorEl.id },
        h("legend", { class: "prompt" }, h("span", { class: "qnum", text: number }), question.prompt),
        control, errorEl);
    } else if (question.kind === "rating") {
      control = this.editable ? this.ratingInput(qid, value) : ratingDisplay(qid, value);
      // The prompt states what the ends of the scale mean; the control is 1..5.
      block = h("fieldset", { class: "question", "data-question-id": qid, "aria-describedby": errorEl.id },
        h("legend", { class: "prompt" }, h("span", { class: "qnum", text: number }), question.prompt),
        control, errorEl);
    } else {
      const id = `q-${qid}`;
      control = this.editable ? this.textInput(qid, value, errorEl) : textDisplay(qid, value);
      block = h("div", { class: "question", "data-question-id": qid },
        this.editable
          ? h("label", { class: "prompt", for: id }, h("span", { class: "qnum", text: number }), question.prompt)
          : h("p", { class: "prompt" }, h("span", { class: "qnum", text: number }), question.prompt),
        control, errorEl);
    }

    const presenceEl = h("p", { class: "question-presence", "data-testid": `presence-${qid}`, hidden: true });
    block.append(presenceEl);
    this.fields.set(qid, { question, block, errorEl, control, presenceEl, show });
    if (qid in conflicting) block.append(this.recoveredBox(qid, question, conflicting[qid]));
    return block;
  }

  textInput(qid, value, errorEl) {
    const textarea = h("textarea", {
      id: `q-${qid}`, class: "input textarea", rows: 5, "data-testid": `answer-${qid}`,
      "aria-describedby": errorEl.id,
      value: typeof value === "string" ? value : "",
    });
    textarea.addEventListener("input", () => {
      const text = textarea.value;
      this.answers[qid] = text === "" ? null : text;
      this.clearFieldError(qid);
      this.autosave.change(qid, this.answers[qid]);
    });
    return textarea;
  }

  ratingInput(qid, value) {
    const clear = h("button", { type: "button", class: "button button-quiet button-small",
      "data-testid": `answer-${qid}-clear`, text: "Clear", hidden: !isRating(value) });
    const radios = [];
    const group = h("div", { class: "segmented", "data-testid": `answer-${qid}` });
    for (let n = scale.min; n <= scale.max; n += 1) {
      const radio = h("input", { type: "radio", name: `q-${qid}`, value: String(n), class: "segment-input",
        id: `q-${qid}-${n}`, "data-testid": `answer-${qid}-${n}`, checked: value === n });
      radio.addEventListener("change", () => {
        if (!radio.checked) return;
        this.answers[qid] = n;
        clear.hidden = false;
        this.clearFieldError(qid);
        this.autosave.change(qid, n);
      });
      radios.push(radio);
      group.append(h("label", { class: "segment", for: radio.id },
        radio, h("span", { class: "segment-text", text: String(n) })));
    }
    clear.addEventListener("click", () => {
      for (const radio of radios) radio.checked = false;
      clear.hidden = true;
      this.answers[qid] = null;
      this.autosave.change(qid, null);
      radios[0].focus();
    });
    return h("div", { class: "rating-row" }, group, clear);
  }

  /** Show an answer that could not be saved, with a way to take it back. */
  recoveredBox(qid, question, value) {
    const shown = question.kind === "objectives"
      ? `Ratings for ${value && typeof value === "object" ? Object.keys(value).length : 0} objectives`
      : question.kind === "rating"
      ? (isRating(value) ? `${value} / 5` : "No rating")
      : (typeof value === "string" && value !== "" ? value : "(empty)");
    const box = h("div", { class: "recovered", "data-testid": `recovered-${qid}` },
      h("p", { class: "recovered-label", text: "Your unsaved version:" }),
      h("p", { class: "recovered-text", text: shown }));
    const actions = h("div", { class: "recovered-actions" });
    if (this.editable) {
      actions.append(h("button", { type: "button", class: "button button-small", text: "Use my version",
        on: { click: () => { this.setValue(qid, value); box.remove(); } } }));
    }
    actions.append(h("button", { type: "button", class: "button button-quiet button-small", text: "Dismiss",
      on: { click: () => box.remove() } }));
    box.append(actions);
    return box;
  }

  /** Put `value` into a question's field and autosave it. */
  setValue(qid, value) {
    const field = this.fields.get(qid);
    if (!field || !this.autosave) return;
    if (field.question.kind === "objectives") {
      if (field.show) field.show(value);
    } else if (field.question.kind === "rating") {
      for (const radio of field.block.querySelectorAll('input[type="radio"]')) {
        radio.checked = Number(radio.value) === value;
      }
      const clear = field.block.querySelector(`[data-testid="answer-${qid}-clear"]`);
      if (clear) clear.hidden = !isRating(value);
    } else {
      field.control.value = typeof value === "string" ? value : "";
    }
    this.answers[qid] = value;
    this.autosave.change(qid, value);
  }

  showSaveState(state, detail) {
    const el = this.saveStatus;
    el.dataset.state = state;
    if (state === "idle") el.textContent = this.review.status === "draft" ? "All changes saved" : "No changes yet";
    else if (state === "pending") el.textContent = "Unsaved changes";
    else if (state === "saving") el.textContent = "Saving…";
    else if (state === "saved") el.textContent = `Saved at ${clockTime()}`;
    else el.textContent = detail ? `Not saved — ${detail}` : "Not saved";
  }

  saved(result) {
    if (result && result.status && result.status !== this.review.status) {
      this.review.status = result.status;
      this.statusEl.dataset.status = result.status;
      this.statusEl.textContent = STATUS_LABELS[result.status] || result.status;
    }
    if (result && result.version !== undefined) this.review.version = result.version;
    this.clearNotice("save");
  }

  /** Decide what a failed save means; the autosave acts on the answer. */
  saveFailed(error) {
    if (!(error instanceof api.ApiError)) return { halt: false, retry: true, detail: "retrying…" };
    if (error.status === 409 && error.details && Array.isArray(error.details.answers)) {
      return this.showConflict(error.details);
    }
    if (error.status === 409) {
      const reload = h("button", { type: "button", class: "button button-small", "data-testid": "review-reload",
        text: "Reload review", on: { click: () => this.context.reload() } });
      this.notify("error",
        "Someone else changed this review after you opened it, so your latest changes were not saved. Reload to see their version; your text will be kept and shown next to it.",
        { key: "conflict", action: reload, testid: "review-conflict" });
      return { halt: true, state: "conflict" };
    }
    if (error.status === 401) return { halt: true, detail: "your session has ended" };
    if (error.isNetwork || error.status >= 500 || error.status === 429) {
      return { halt: false, retry: true, detail: error.isNetwork ? "offline, retrying…" : "retrying…" };
    }
    // 400/403/404/413/422: retrying the same answers cannot help.
    this.notify("error", error.status === 413
      ? "This answer is too long to save. Please shorten it."
      : `Your changes could not be saved: ${error.message}`, { key: "save" });
    return { halt: false, retry: false };
  }

  /**
   * The same answers were saved elsewhere: show their version in the field
   * and ours under it with "Use my version", and go on saving the rest on
   * the current version.
   */
  showConflict(conflict) {
    for (const entry of conflict.answers) {
      const qid = String(entry.question_id);
      const field = this.fields.get(qid);
      if (!field) continue;
      this.autosave.pending.delete(qid);
      this.showValue(qid, entry.theirs ?? null);
      const old = field.block.querySelector(`[data-testid="recovered-${qid}"]`);
      if (old) old.remove();
      field.block.append(this.recoveredBox(qid, field.question, entry.yours ?? null));
    }
    if (typeof conflict.version === "number") this.autosave.version = conflict.version;
    this.notify("warning",
      "Someone changed the same answers in another place. Their version is in the field; yours is shown under it: choose “Use my version” to keep yours.",
      { key: "conflict", testid: "review-conflict" });
    return { halt: false, retry: this.autosave.pending.size > 0, state: "conflict" };
  }

  async submit() {
    const button = this.submitButton;
    button.disabled = true;
    button.textContent = "Submitting…";
    this.clearNotice("submit");
    for (const qid of this.fields.keys()) this.clearFieldError(qid);

    // The server must have every keystroke before it checks completeness.
    const saved = await this.autosave.flush();
    if (!saved) {
      this.notify("error", "Your latest changes are not saved, so the review was not submitted.", { key: "submit" });
      button.disabled = false;
      button.textContent = "Submit review";
      return;
    }

    try {
      const review = await api.submitReview(this.reviewId);
      this.autosave.dispose();
      this.render({ ...this.review, ...(review || {}), status: (review && review.status) || "submitted" },
        { kind: "success", text: "Your review has been submitted." });
      this.container.querySelector("h1").focus();
    } catch (error) {
      button.disabled = false;
      button.textContent = "Submit review";
      if (!(error instanceof api.ApiError) || error.status === 401) return;
      if (error.status === 422) this.showValidation(error);
      else if (error.status === 409) {
        this.notify("error", "This review was changed or submitted by someone else in the meantime.",
          { key: "submit", action: h("button", { type: "button", class: "button button-small", "data-testid": "review-reload",
            text: "Reload review", on: { click: () => this.context.reload() } }) });
      } else if (error.isNetwork) {
        this.notify("error", "Cannot reach the server, so the review was not submitted. Please try again.", { key: "submit" });
      } else {
        this.notify("error", `The review was not submitted: ${error.message}`, { key: "submit" });
      }
    }
  }

  /** Show a 422: the server's message, and each unanswered question marked. */
  showValidation(error) {
    const perQuestion = error.details && typeof error.details === "object" && !Array.isArray(error.details)
      ? error.details : {};
    let first = null;
    for (const [qid, field] of this.fields) {
      const missing = field.question.kind === "objectives"
        ? !objectivesAnswered(this.answers[qid], this.review.objectives || [])
        : isEmpty(this.answers[qid]);
      const message = typeof perQuestion[qid] === "string" ? perQuestion[qid]
        : !missing ? null
        : field.question.kind === "objectives" ? "Rate every objective listed here." : "This question needs an answer.";
      if (!message) continue;
      this.setFieldError(qid, message);
      if (!first) first = field;
    }
    this.notify("error", error.message || "Some questions still need an answer.",
      { key: "submit", testid: "review-validation" });
    if (first) {
      const target = first.block.querySelector("textarea, input");
      if (target) target.focus();
    }
  }

  setFieldError(qid, message) {
    const field = this.fields.get(qid);
    if (!field) return;
    field.errorEl.textContent = message;
    field.errorEl.hidden = false;
    field.block.classList.add("has-error");
    for (const input of field.block.querySelectorAll("textarea, input")) input.setAttribute("aria-invalid", "true");
  }

  clearFieldError(qid) {
    const field = this.fields.get(qid);
    if (!field || field.errorEl.hidden) return;
    field.errorEl.hidden = true;
    field.block.classList.remove("has-error");
    for (const input of field.block.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  }

  /** Show a notice; one per `key`, replaced when shown again. */
  notify(kind, text, options = {}) {
    const { key = kind, action = null, testid = null } = options;
    this.clearNotice(key);
    const role = kind === "error" ? "alert" : "status";
    const notice = h("div", { class: `notice notice-${kind}`, role, dataset: { key }, "data-testid": testid },
      h("span", { text }), action);
    this.notices.append(notice);
  }

  clearNotice(key) {
    for (const el of this.notices.querySelectorAll(`[data-key="${key}"]`)) el.remove();
  }

  beforeUnload(event) {
    if (!this.autosave || !this.autosave.hasUnsaved()) return;
    this.autosave.flush({ keepalive: true });
    event.preventDefault();
    event.returnValue = "";
  }

  /** Leaving the view: flush, and keep whatever could not be saved. */
  leave(userId) {
    if (this.live) this.live.close();
    this.live = null;
    window.removeEventListener("beforeunload", this.onBeforeUnload);
    document.removeEventListener("visibilitychange", this.onVisibility);
    document.removeEventListener("keydown", this.onKeydown);
    const autosave = this.autosave;
    if (!autosave) return undefined;
    const keep = () => keepDraft(userId, this.reviewId, autosave.version, autosave.unsaved());
    if (autosave.halted) {
      keep();
      autosave.dispose();
      return undefined;
    }
    return autosave.flush().then((ok) => {
      if (!ok) keep();
      autosave.dispose();
    });
  }
}

/**
 * Debounced, strictly sequential saving of changed answers.
 *
 * `send(answers, version, options)` performs one PATCH; `onFailure(error)`
 * returns {halt, retry, state, detail}: halt stops all further saves (stale
 * version, ended session), retry schedules another try with backoff.
 */
class Autosave {
  constructor({ version, send, onState, onSaved, onFailure }) {
    this.version = version;
    this.send = send;
    this.onState = onState;
    this.onSaved = onSaved;
    this.onFailure = onFailure;
    this.pending = new Map();
    this.chain = Promise.resolve(true);
    this.timer = null;
    this.retryTimer = null;
    this.retryDelay = FIRST_RETRY_MS;
    this.inFlight = false;
    this.halted = false;
  }

  /** Record a changed answer and save it after a pause in typing. */
  change(qid, value) {
    this.pending.set(qid, value);
    if (this.halted) return;
    this.onState("pending");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), DEBOUNCE_MS);
  }

  /** True while some answer has not been confirmed by the server. */
  hasUnsaved() {
    return this.pending.size > 0 || this.inFlight;
  }

  /** Answers not yet confirmed by the server, as a plain object. */
  unsaved() {
    return Object.fromEntries(this.pending);
  }

  /** Save now; resolves true once everything typed so far is saved. */
  flush(options = {}) {
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    this.timer = null;
    this.retryTimer = null;
    this.chain = this.chain.then(() => this.sendPending(options));
    return this.chain;
  }

  async sendPending(options) {
    if (this.halted) return false;
    if (this.pending.size === 0) return true;

    // Take the changes out of `pending`; keystrokes during the request
    // land in a fresh batch for the next save.
    const answers = Object.fromEntries(this.pending);
    this.pending.clear();
    this.inFlight = true;
    this.onState("saving");
    try {
      const result = await this.send(answers, this.version, options);
      if (result && result.version !== undefined) this.version = result.version;
      this.retryDelay = FIRST_RETRY_MS;
      this.onSaved(result);
      if (!this.halted) this.onState(this.pending.size ? "pending" : "saved");
      return true;
    } catch (error) {
      // Put the unsaved answers back, unless newer ones were typed since.
      for (const [qid, value] of Object.entries(answers)) {
        if (!this.pending.has(qid)) this.pending.set(qid, value);
      }
      if (this.halted) return false;
      const decision = this.onFailure(error) || {};
      if (decision.halt) this.halt();
      this.onState(decision.state || "error", decision.detail);
      if (decision.retry && !this.halted) {
        this.retryTimer = setTimeout(() => this.flush(), this.retryDelay);
        this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_MS);
      }
      return false;
    } finally {
      this.inFlight = false;
    }
  }

  halt() {
    this.halted = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
  }

  /** Stop for good (the view is gone or the review was submitted). */
  dispose() {
    this.halt();
  }
}

function textDisplay(qid, value) {
  const text = typeof value === "string" ? value : "";
  return h("div", { class: text ? "answer-text" : "answer-text answer-empty", "data-testid": `answer-${qid}`,
    text: text || "No answer" });
}

function ratingDisplay(qid, value) {
  if (!isRating(value)) {
    return h("div", { class: "answer-rating answer-empty", "data-testid": `answer-${qid}`, text: "No rating" });
  }
  const dots = [];
  for (let n = scale.min; n <= scale.max && scale.max - scale.min <= 10; n += 1) {
    dots.push(h("span", { class: n <= value ? "dot dot-on" : "dot", "aria-hidden": "true" }));
  }
  return h("div", { class: "answer-rating", "data-testid": `answer-${qid}`, dataset: { value } },
    h("span", { class: "dots" }, ...dots), h("span", { text: `${value} / ${scale.max}` }));
}

// The rating scale of the review on screen (one review per page).
let scale = { min: 1, max: 5 };

function isRating(value) {
  return Number.isInteger(value) && value >= scale.min && value <= scale.max;
}

function isEmpty(value) {
  return value === null || value === undefined || (typeof value === "string" && value.trim() === "");
}

function sameValue(a, b) {
  const norm = (v) => (v === undefined || v === "" ? null : v);
  // An objectives answer is an object; compare what it holds.
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    return JSON.stringify(a) === JSON.stringify(b);
  }
  return norm(a) === norm(b);
}

function loadErrorMessage(error) {
  if (!(error instanceof api.ApiError)) return "The review could not be loaded.";
  if (error.isNetwork) return "Cannot reach the server. Check your connection and try again.";
  if (error.status === 404) return "This review does not exist, or it is not visible to you.";
  if (error.status === 403) return "You do not have access to this review.";
  return "The review could not be loaded. Please try again.";
}
