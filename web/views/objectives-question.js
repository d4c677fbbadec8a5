// The objectives question of a review: one rating per objective of the
// reviewee linked into the cycle, each with an optional comment, and the
// weighted score (Σ weight·rating / Σ weight over the rated objectives; an
// objective linked without a weight counts 1).
//
// The answer is one object keyed by objective id,
// {"<id>": {"rating": 4, "comment": "…"}}, saved whole: `onChange` gets the
// new object. Ratings of objectives no longer linked stay in it unchanged (the
// server keeps them) but count for nothing and are not shown as editable.

import { h } from "../dom.js";

/** The weighted score of `answer` over `objectives`, or null when none is rated. */
export function objectivesScore(answer, objectives) {
  let sum = 0;
  let weights = 0;
  for (const objective of objectives) {
    const rated = answer && answer[objective.id];
    if (!rated || !Number.isInteger(rated.rating)) continue;
    const weight = Number.isInteger(objective.score_weight) ? objective.score_weight : 1;
    sum += weight * rated.rating;
    weights += weight;
  }
  return weights > 0 ? Math.round((sum / weights) * 100) / 100 : null;
}

/** Whether every linked objective is rated (trivially so with none linked). */
export function objectivesAnswered(answer, objectives) {
  return objectives.every((o) => answer && answer[o.id] && Number.isInteger(answer[o.id].rating));
}

function scoreText(score, scale) {
  return score === null ? "Weighted score: not rated yet" : `Weighted score: ${score.toFixed(2)} / ${scale.max}`;
}

function detailText(objective) {
  const weight = objective.weight === null || objective.weight === undefined
    ? "no weight given (counts 1)" : `weight ${objective.weight}`;
  return `${weight} · progress ${objective.progress}%`;
}

/**
 * The control or display of an objectives question. Returns {element, show}:
 * `show(answer)` puts an answer saved elsewhere into the controls.
 */
export function objectivesQuestion({ qid, value, objectives, scale, editable, serverScore, onChange }) {
  let answer = value && typeof value === "object" ? { ...value } : {};
  const scoreEl = h("p", { class: "objectives-score", role: "status", "aria-live": "polite",
    "data-testid": `answer-${qid}-score` });
  const rows = [];

  const update = () => {
    const score = editable || serverScore === undefined ? objectivesScore(answer, objectives) : serverScore;
    scoreEl.textContent = scoreText(score, scale);
  };

  const list = h("ul", { class: "objective-ratings", "data-testid": `answer-${qid}` });
  for (const objective of objectives) {
    const oid = String(objective.id);
    const base = `q-${qid}-o-${oid}`;
    const titleId = `${base}-title`;
    const detail = h("p", { class: "objective-rating-detail", id: `${base}-detail`, text: detailText(objective) });
    const item = h("li", { class: "objective-rating", "data-objective-id": oid });

    if (!editable) {
      const rated = answer[oid];
      item.append(
        h("p", { class: "objective-rating-title", id: titleId, text: objective.title }), detail,
        h("p", { class: "answer-rating", "data-testid": `answer-${qid}-${oid}`,
          text: rated ? `${rated.rating} / ${scale.max}` : "No rating" }),
        rated && rated.comment ? h("p", { class: "answer-text", text: rated.comment }) : null);
      list.append(item);
      continue;
    }

    // A labelled radio group per objective: arrow keys move within it, Tab
    // moves on to its comment and then to the next objective.
    const radios = [];
    const group = h("div", { class: "segmented", role: "radiogroup", "aria-labelledby": titleId,
      "aria-describedby": detail.id, "data-testid": `answer-${qid}-${oid}` });
    for (let n = scale.min; n <= scale.max; n += 1) {
      const radio = h("input", { type: "radio", name: base, value: String(n), class: "segment-input",
        id: `${base}-${n}`, "data-testid": `answer-${qid}-${oid}-${n}`,
        "aria-label": `${n} for ${objective.title}`, checked: answer[oid] && answer[oid].rating === n });
      radio.addEventListener("change", () => {
        if (!radio.checked) return;
        const comment = comments.value.trim();
        answer = { ...answer, [oid]: comment ? { rating: n, comment } : { rating: n } };
        comments.disabled = false;
        update();
        onChange(answer);
      });
      radios.push(radio);
      group.append(h("label", { class: "segment", for: radio.id },
        radio, h("span", { class: "segment-text", text: String(n) })));
    }
    const commentId = `${base}-comment`;
    const comments = h("input", { type: "text", class: "input", id: commentId, maxlength: "2000",
      "data-testid": `answer-${qid}-${oid}-comment`, disabled: !answer[oid],
      value: answer[oid] && answer[oid].comment ? answer[oid].comment : "" });
    comments.addEventListener("input", () => {
      const rated = answer[oid];
      if (!rated) return;
      const comment = comments.value.trim();
      answer = { ...answer, [oid]: comment ? { rating: rated.rating, comment } : { rating: rated.rating } };
      onChange(answer);
    });
    item.append(
      h("p", { class: "objective-rating-title", id: titleId, text: objective.title }), detail,
      h("div", { class: "rating-row" }, group),
      h("label", { class: "objective-rating-comment", for: commentId,
        text: `Comment on “${objective.title}” (optional; rate it first)` }),
      comments);
    rows.push({ oid, radios, comments });
    list.append(item);
  }

  const element = h("div", { class: "objectives-question" },
    objectives.length ? list
      : h("p", { class: "empty", "data-testid": `answer-${qid}-none`,
        text: "No objectives of this person are linked to this cycle: nothing to rate here." }),
    scoreEl);
  update();

  const show = (next) => {
    answer = next && typeof next === "object" ? { ...next } : {};
    for (const { oid, radios, comments } of rows) {
      const rated = answer[oid];
      for (const radio of radios) radio.checked = Boolean(rated) && Number(radio.value) === rated.rating;
      comments.value = rated && rated.comment ? rated.comment : "";
      comments.disabled = !rated;
    }
    update();
  };
  return { element, show };
}
