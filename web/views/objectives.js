// "Objectives": the company's objective tree as the signed-in user sees it
// (company → team → person), with key result progress, a form to create an
// objective, and per objective its details, key results, edits and comments.
//
// GET /objectives/tree fills the tree. Opening an objective shows its
// description, key results (editable by its editors: a percentage or the
// current value of a measured one), an edit form (PATCH with the version last
// read; a 409 reloads the tree and says so) and its comments (GET/POST
// /objectives/{id}/comments, DELETE for one's own). Its editors also link it
// into a review cycle of GET /cycles with an optional weight (PUT/DELETE
// /objectives/{id}/cycles/{cycle_id}; a refusal stays there as an alert).
// Styles live in objectives.css next to this file, linked once when the view
// first opens.

import * as api from "../api.js";
import { h, replaceChildren, formatDate, formatDateTime } from "../dom.js";

const LEVEL_LABELS = { company: "Company", team: "Team", person: "Personal" };
const STATUS_LABELS = {
  draft: "Draft",
  on_track: "On track",
  at_risk: "At risk",
  off_track: "Off track",
  done: "Done",
};
const LEVEL_RANK = { company: 0, team: 1, person: 2 };

const path = (...parts) => parts.map((p) => encodeURIComponent(String(p))).join("/");

/** Link the objectives stylesheet once (the review page uses it too). */
export function linkStyles() {
  if (document.querySelector('link[data-styles="objectives"]')) return;
  document.head.append(h("link", { rel: "stylesheet", href: "/app/views/objectives.css",
    "data-styles": "objectives" }));
}

export function objectivesView(root, context) {
  const { user, signal } = context;
  const roles = Array.isArray(user.roles) ? user.roles : [];
  const isHr = roles.includes("hr_admin");
  const isManager = roles.includes("manager");
  linkStyles();

  const message = h("p", { class: "notice server-text", role: "status", "data-testid": "objectives-message",
    hidden: true });
  const newButton = h("button", { type: "button", class: "button button-primary",
    "data-testid": "objective-new", text: "New objective" });
  const formSlot = h("div", {});
  const body = h("div", {}, h("p", { class: "loading", role: "status", text: "Loading objectives…" }));
  root.append(
    h("div", { class: "title-row objectives-header" }, h("h1", { text: "Objectives" }), newButton),
    h("p", { class: "meta", text: "Company and team objectives, and the personal objectives you may see, " +
      "each under the objective it contributes to." }),
    message, formSlot, body);

  let tree = [];
  // Which objectives are open, so a reload keeps them open.
  const open = new Set();
  newButton.addEventListener("click", () => showCreateForm());
  load();

  async function load() {
    try {
      const nodes = await api.request("GET", "/objectives/tree", { signal });
      if (signal.aborted) return;
      tree = Array.isArray(nodes) ? nodes : [];
      render();
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      replaceChildren(body,
        h("p", { class: "notice notice-error", role: "alert", text: "The objectives could not be loaded." }),
        h("button", { type: "button", class: "button", text: "Try again", on: { click: () => context.reload() } }));
    }
  }

  function flat(nodes = tree, out = []) {
    for (const node of nodes) {
      out.push(node);
      flat(node.children || [], out);
    }
    return out;
  }

  function render() {
    if (tree.length === 0) {
      replaceChildren(body, h("p", { class: "empty", "data-testid": "objectives-empty",
        text: "There are no objectives yet. Create the first one." }));
      return;
    }
    // The details' headings (h3) sit under this one, for the outline screen readers read.
    replaceChildren(body, h("h2", { class: "sr-only", text: "Objective tree" }),
      h("ul", { class: "objective-tree", "data-testid": "objectives-tree" }, ...tree.map(nodeItem)));
  }

  function nodeItem(node) {
    const detailsId = `objective-${node.id}-details`;
    const expanded = open.has(node.id);
    const toggle = h("button", { type: "button", class: "objective-toggle", "aria-expanded": String(expanded),
      "aria-controls": detailsId, "data-testid": "objective-toggle" },
    h("span", { class: "objective-title", "data-testid": "objective-title", text: node.title }));
    toggle.addEventListener("click", () => {
      if (open.has(node.id)) open.delete(node.id);
      else open.add(node.id);
      render();
    });
    const details = h("div", { id: detailsId, class: "objective-details", hidden: !expanded });
    if (expanded) fillDetails(details, node);
    const children = node.children || [];
    return h("li", { class: `objective objective-${node.level}`, "data-testid": "objective-node",
      "data-objective-id": node.id, "data-level": node.level, "data-status": node.status },
    h("div", { class: "objective-row" },
      toggle,
      h("span", { class: "badge", text: LEVEL_LABELS[node.level] || node.level }),
      h("span", { class: `badge objective-status status-${node.status}`, text: STATUS_LABELS[node.status] || node.status }),
      h("span", { class: "objective-owner", text: node.owner_name }),
      progressBar(node.progress, "objective-progress")),
    details,
    children.length ? h("ul", { class: "objective-tree" }, ...children.map(nodeItem)) : null);
  }

  function progressBar(value, testid) {
    return h("span", { class: "objective-progress" },
      h("progress", { max: "100", value: String(value), "data-testid": testid,
        "aria-label": `${value}% done` }),
      h("span", { class: "objective-percent", text: `${value}%` }));
  }

  function fillDetails(el, node) {
    const meta = [];
    if (node.due_at) meta.push(`Due ${formatDate(node.due_at)}`);
    if (node.weight) meta.push(`Weight ${node.weight}`);
    replaceChildren(el,
      node.description ? h("p", { class: "objective-description", text: node.description }) : null,
      meta.length ? h("p", { class: "meta", text: meta.join(" · ") }) : null,
      keyResults(node),
      node.can_edit ? editForm(node) : null,
      node.can_edit ? cyclesSection(node) : null,
      commentsSection(node));
  }

  // The review cycles the user can see, read once when the first objective opens.
  let cyclesList = null;
  async function cycles() {
    if (!cyclesList) {
      cyclesList = api.listCycles(signal).then((list) => (Array.isArray(list) ? list : []))
        .catch((error) => {
          cyclesList = null;
          throw error;
        });
    }
    return cyclesList;
  }

  /** Links into review cycles: where the objective's owner is reviewed, with a weight. */
  function cyclesSection(node) {
    const links = Array.isArray(node.cycles) ? node.cycles : [];
    const note = h("div", { "data-testid": "objective-cycles-message" });
    const list = h("ul", { class: "objective-cycles", "data-testid": "objective-cycles" });
    const select = h("select", { class: "input", id: `link-cycle-${node.id}`, "data-testid": "objective-cycle-select" },
      h("option", { value: "", text: "Loading cycles…" }));
    const weight = h("input", { class: "input input-short", type: "number", min: "1", max: "100", step: "1",
      id: `link-weight-${node.id}`, "aria-describedby": `link-weight-hint-${node.id}`,
      "data-testid": "objective-cycle-weight" });
    const link = h("button", { type: "submit", class: "button button-small", text: "Link",
      "data-testid": "objective-cycle-link" });
    const form = h("form", { class: "objective-cycle-form", "data-testid": "objective-cycle-form" },
      field("Review cycle", select),
      h("div", { class: "field" },
        h("label", { for: weight.id, text: "Weight (optional)" }), weight,
        h("p", { class: "hint meta", id: `link-weight-hint-${node.id}`, text: "1 to 100. Linking again changes the weight." })),
      h("div", { class: "section-actions" }, link));
    const cycleName = (id, all) => {
      const cycle = all.find((c) => c.id === id);
      return cycle ? cycle.name : "A review cycle";
    };
    const renderLinks = (all) => {
      if (!links.length) {
        replaceChildren(list, h("li", { class: "empty", text: "Not linked into any review cycle." }));
        return;
      }
      replaceChildren(list, ...links.map((l) => {
        const name = cycleName(l.cycle_id, all);
        const unlink = h("button", { type: "button", class: "button button-quiet button-small", text: "Unlink",
          "aria-label": `Unlink from ${name}`, "data-testid": "objective-cycle-unlink" });
        unlink.addEventListener("click", () =>
          linkWrite(() => api.request("DELETE", `/objectives/${path(node.id, "cycles", l.cycle_id)}`),
            `Unlinked from ${name}.`, unlink));
        return h("li", { class: "objective-cycle", "data-testid": "objective-cycle", "data-cycle-id": l.cycle_id },
          h("span", { text: l.weight ? `${name} · weight ${l.weight}` : name }), unlink);
      }));
    };
    renderLinks([]);
    cycles().then((all) => {
      renderLinks(all);
      replaceChildren(select, h("option", { value: "", text: "Choose a cycle" }),
        ...all.map((c) => h("option", { value: c.id,
          text: c.status === "closed" || c.phase === "closed" ? `${c.name} (closed)` : c.name })));
    }).catch((error) => {
      if (signal.aborted || error.name === "AbortError") return;
      replaceChildren(select, h("option", { value: "", text: "The cycles could not be loaded" }));
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      replaceChildren(note);
      if (!select.value) {
        alertNote("Choose a review cycle.");
        select.focus();
        return;
      }
      const body = {};
      if (weight.value !== "") {
        const number = Number(weight.value);
        if (!Number.isInteger(number) || number < 1 || number > 100) {
          alertNote("The weight is a whole number from 1 to 100, or empty.");
          weight.focus();
          return;
        }
        body.weight = number;
      }
      const name = select.options[select.selectedIndex].text;
      linkWrite(() => api.request("PUT", `/objectives/${path(node.id, "cycles", select.value)}`, { body }),
        `Linked into ${name}.`, link);
    });

    function alertNote(text) {
      replaceChildren(note, h("p", { class: "notice notice-error server-text", role: "alert", text }));
    }

    /** A link change; success reloads the tree, a failure stays here with the server's words. */
    async function linkWrite(call, success, button) {
      hide();
      replaceChildren(note);
      button.disabled = true;
      try {
        await call();
      } catch (error) {
        button.disabled = false;
        if (!(error instanceof api.ApiError)) alertNote("Something went wrong. Please try again.");
        else if (error.isNetwork) alertNote("Not saved: cannot reach the server.");
        else if (error.status === 429) alertNote(api.rateLimitMessage(error));
        else if (error.status === 404) alertNote("That objective or cycle is not there for you.");
        else if (error.status >= 400 && error.status < 500) alertNote(`Not saved: ${error.message}`);
        else alertNote("Not saved: the server had a problem. Please try again.");
        return;
      }
      show("success", success);
      await load();
    }

    return h("section", { class: "objective-section", "data-testid": "objective-cycles-section" },
      h("h3", { text: "Review cycles" }), list, form, note);
  }

  function keyResults(node) {
    const list = h("ul", { class: "key-results", "data-testid": "key-results" },
      ...node.key_results.map((kr) => {
        const measured = kr.target !== null && kr.target !== undefined;
        const label = measured ? `${kr.title} (${kr.current} of ${kr.target})` : kr.title;
        let editor = null;
        if (node.can_edit) {
          const input = h("input", { class: "input input-short", type: "number",
            "aria-label": measured ? `Current value of ${kr.title}` : `Progress of ${kr.title} in percent`,
            value: String(measured ? kr.current : kr.progress),
            min: measured ? null : "0", max: measured ? null : "100", step: "any",
            "data-testid": "key-result-input" });
          const save = h("button", { type: "button", class: "button button-small", text: "Update",
            "data-testid": "key-result-save" });
          save.addEventListener("click", () => {
            const number = Number(input.value);
            if (input.value === "" || !Number.isFinite(number)) {
              show("error", "Enter a number.");
              return;
            }
            const change = measured ? { current: number } : { progress: Math.round(number) };
            write(() => api.request("PATCH", `/objectives/${path(node.id, "key-results", kr.id)}`, { body: change }),
              "Progress updated.");
          });
          editor = h("span", { class: "key-result-edit" }, input, save);
        }
        return h("li", { class: "key-result", "data-testid": "key-result", "data-key-result-id": kr.id },
          h("span", { class: "key-result-title", text: label }),
          progressBar(kr.progress, "key-result-progress"),
          editor);
      }));
    const parts = [h("h3", { text: "Key results" }),
      node.key_results.length ? list : h("p", { class: "empty", text: "No key results yet." })];
    if (node.can_edit) {
      const title = h("input", { class: "input", "aria-label": "New key result", placeholder: "New key result",
        "data-testid": "key-result-new-title", maxlength: "200" });
      const target = h("input", { class: "input input-short", type: "number", step: "any",
        "aria-label": "Target value (optional)", placeholder: "Target", "data-testid": "key-result-new-target" });
      const add = h("button", { type: "button", class: "button button-small", text: "Add key result",
        "data-testid": "key-result-add" });
      add.addEventListener("click", () => {
        if (!title.value.trim()) {
          show("error", "A key result needs a title.");
          return;
        }
        const kr = { title: title.value };
        if (target.value !== "") kr.target = Number(target.value);
        write(() => api.request("POST", `/objectives/${path(node.id, "key-results")}`, { body: kr }),
          "Key result added.");
      });
      parts.push(h("div", { class: "key-result-new" }, title, target, add));
    }
    return h("section", { class: "objective-section" }, ...parts);
  }

  function editForm(node) {
    const title = h("input", { class: "input", value: node.title, maxlength: "200", id: `edit-title-${node.id}`,
      "data-testid": "objective-edit-title" });
    const description = h("textarea", { class: "textarea", id: `edit-description-${node.id}`,
      "data-testid": "objective-edit-description" });
    description.value = node.description;
    const status = h("select", { class: "input", id: `edit-status-${node.id}`, "data-testid": "objective-edit-status" },
      ...Object.entries(STATUS_LABELS).map(([value, label]) =>
        h("option", { value, text: label, selected: value === node.status ? "selected" : null })));
    const save = h("button", { type: "submit", class: "button button-primary", text: "Save",
      "data-testid": "objective-save" });
    const archive = h("button", { type: "button", class: "button button-quiet", text: "Archive",
      "data-testid": "objective-archive" });
    archive.addEventListener("click", () =>
      write(() => api.request("DELETE", `/objectives/${path(node.id)}`), "The objective was archived."));
    const form = h("form", { class: "objective-edit", "data-testid": "objective-edit" },
      h("h3", { text: "Edit" }),
      field("Title", title), field("Description", description), field("Status", status),
      h("div", { class: "section-actions" }, save, archive));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      write(() => api.request("PATCH", `/objectives/${path(node.id)}`, {
        body: { version: node.version, title: title.value, description: description.value, status: status.value },
      }), "Saved.");
    });
    return form;
  }

  function commentsSection(node) {
    const list = h("ul", { class: "comments", "data-testid": "objective-comments" },
      h("li", { class: "loading", text: "Loading comments…" }));
    const text = h("textarea", { class: "textarea", "aria-label": "Your comment", maxlength: "5000",
      "data-testid": "comment-body" });
    const send = h("button", { type: "submit", class: "button button-small", text: "Comment",
      "data-testid": "comment-submit" });
    const form = h("form", { class: "comment-form" }, text, send);
    const base = `/objectives/${path(node.id, "comments")}`;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!text.value.trim()) return;
      send.disabled = true;
      try {
        await api.request("POST", base, { body: { body: text.value } });
        text.value = "";
        await loadComments();
      } catch (error) {
        failed(error);
      } finally {
        send.disabled = false;
      }
    });

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
            text: "Delete", "data-testid": "comment-delete" }) : null;
          if (remove) {
            remove.addEventListener("click", async () => {
              try {
                await api.request("DELETE", `${base}/${path(c.id)}`);
                await loadComments();
              } catch (error) {
                failed(error);
              }
            });
          }
          return h("li", { class: "comment", "data-testid": "comment-item", "data-comment-id": c.id },
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
    loadComments();
    return h("section", { class: "objective-section" }, h("h3", { text: "Comments" }), list, form);
  }

  function showCreateForm() {
    hide();
    const levels = ["person"];
    if (isManager || isHr) levels.push("team");
    if (isHr) levels.push("company");
    const title = h("input", { class: "input", id: "new-objective-title", maxlength: "200", required: true,
      "data-testid": "objective-form-title" });
    const description = h("textarea", { class: "textarea", id: "new-objective-description",
      "data-testid": "objective-form-description" });
    const level = h("select", { class: "input", id: "new-objective-level", "data-testid": "objective-form-level" },
      ...levels.map((l) => h("option", { value: l, text: LEVEL_LABELS[l] })));
    const parent = h("select", { class: "input", id: "new-objective-parent", "data-testid": "objective-form-parent" });
    const due = h("input", { class: "input input-short", type: "date", id: "new-objective-due",
      "data-testid": "objective-form-due" });
    const fillParents = () => {
      const rank = LEVEL_RANK[level.value];
      replaceChildren(parent, h("option", { value: "", text: "None" }),
        ...flat().filter((o) => LEVEL_RANK[o.level] <= rank && !o.archived)
          .map((o) => h("option", { value: o.id, text: `${LEVEL_LABELS[o.level]}: ${o.title}` })));
    };
    level.addEventListener("change", fillParents);
    fillParents();
    const cancel = h("button", { type: "button", class: "button button-quiet", text: "Cancel",
      on: { click: () => replaceChildren(formSlot) } });
    const form = h("form", { class: "card objective-create", "data-testid": "objective-form" },
      h("h2", { text: "New objective" }),
      field("Title", title), field("Description", description), field("Level", level),
      field("Contributes to", parent), field("Due date", due),
      h("div", { class: "section-actions" },
        h("button", { type: "submit", class: "button button-primary", text: "Create",
          "data-testid": "objective-form-submit" }), cancel));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { title: title.value, description: description.value, level: level.value };
      if (parent.value) body.parent_id = parent.value;
      if (due.value) body.due_at = `${due.value}T17:00:00Z`;
      try {
        const created = await api.request("POST", "/objectives", { body });
        replaceChildren(formSlot);
        open.add(created.id);
        show("success", "The objective was created.");
        await load();
      } catch (error) {
        failed(error);
      }
    });
    replaceChildren(formSlot, form);
    title.focus();
  }

  function field(label, control) {
    return h("div", { class: "field" }, h("label", { for: control.id || null, text: label }), control);
  }

  /** Run a change, then reload the tree; failures say why in the message. */
  async function write(call, success) {
    hide();
    try {
      await call();
      show("success", success);
    } catch (error) {
      failed(error);
    }
    await load();
  }

  function failed(error) {
    if (!(error instanceof api.ApiError)) show("error", "Something went wrong. Please try again.");
    else if (error.isNetwork) show("error", "Not saved: cannot reach the server.");
    else if (error.status === 409) show("warning", "Someone changed this objective meanwhile. It was reloaded: check it and try again.");
    else if (error.status === 422) show("error", error.message);
    else if (error.status === 403) show("error", "You may not change this.");
    else if (error.status === 404) show("error", "That objective is no longer there.");
    else if (error.status === 429) show("error", api.rateLimitMessage(error));
    else show("error", "Not saved: the server had a problem. Please try again.");
  }

  function show(kind, text) {
    message.classList.remove("notice-success", "notice-error", "notice-warning");
    message.classList.add(`notice-${kind}`);
    message.setAttribute("role", kind === "success" ? "status" : "alert");
    message.dataset.kind = kind;
    message.textContent = text;
    message.hidden = false;
  }

  function hide() {
    message.hidden = true;
    message.textContent = "";
  }

  return null;
}
