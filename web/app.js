// Kaizen web app: session state, the top bar and the hash router.
//
// Routes:
//   #/login          sign in
//   #/reviews        my reviews (and, for HR admins, the cycle dashboards)
//   #/reviews/<id>   the review editor
//   #/cycles/<id>    the HR cycle dashboard, live
//   #/cycles/<id>/calibration  calibrate a cycle's manager ratings (HR admins)
//   #/admin/cycles   create cycles, move them through their phases (HR)
//   #/objectives     the objective tree, key results and comments
//   #/feedback       360 feedback: requests, nominations, approvals, HR settings
//   #/feedback/requests/<id>            write one feedback
//   #/feedback/results/<cycle>/<person> the results about a person
//   #/account        the user's sessions, password and 2-step verification
//   #/admin/security the company's security policy (HR admins)
//   #/admin/users    people: roles, disabled accounts, sessions (HR admins)
//   #/admin/audit    the audit log: filters, pages, CSV and Excel downloads (HR admins)
//   #/reset-request  ask for a password reset link (no session needed)
//   #/reset/<token>  choose a new password from the emailed link (no session needed)
//
// Each view is a function `(root, context) => cleanup` that renders into
// `root` and returns a function to run when the route changes (to flush an
// autosave, close a WebSocket, ...). `context.signal` is aborted when the
// view is left, so late answers never render into the next view.
//
// Two answers take over the whole page wherever they come from: a 401 that
// ends the session (back to sign-in) and a 403 `ip_not_allowed` (the company
// does not allow this network, so no page can work).

import * as api from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { clearDrafts } from "./drafts.js";
import { loginView } from "./views/login.js";
import { reviewsView } from "./views/reviews.js";
import { editorView } from "./views/editor.js";
import { dashboardView } from "./views/dashboard.js";
import { accountView } from "./views/account.js";
import { securityView } from "./views/security.js";
import { peopleView } from "./views/people.js";
import { auditView } from "./views/audit.js";
import { objectivesView } from "./views/objectives.js";
import { feedbackView, feedbackWriteView, feedbackResultsView } from "./views/feedback.js";
import { resetRequestView, resetView } from "./views/reset.js";
import { cyclesView } from "./views/cycles.js";
import { calibrationView } from "./views/calibration.js";

const SESSION_ENDED = "Your session has ended. Please sign in again.";

// Window titles until a view knows better (the editor and dashboard refine them).
const PAGE_TITLES = {
  login: "Sign in",
  reviews: "My reviews",
  editor: "Review",
  dashboard: "Cycle dashboard",
  objectives: "Objectives",
  account: "Your account",
  security: "Security policy",
  people: "People",
  audit: "Audit log",
  cycles: "Review cycles",
  calibration: "Calibration",
  feedback: "360 feedback",
  "feedback-write": "Write feedback",
  "feedback-results": "Feedback results",
  "reset-request": "Reset your password",
  reset: "Choose a new password",
};

// Routes that work without a session (and, for the reset link, with one).
const PUBLIC_ROUTES = new Set(["login", "reset-request", "reset"]);

/** What the whole app shares: the signed-in user and a one-time notice. */
const session = {
  user: null,
  // Shown once on the sign-in page (session ended, signed out).
  notice: null,
  // Where to go after signing in, when sign-in interrupted a route.
  returnTo: null,
  // True while the company refuses this network; every route shows that.
  blocked: false,
};

const main = document.getElementById("main");
const topbar = document.getElementById("topbar");
let current = null;
let listening = false;

/** Turn a location hash into a route name and its parameters. */
function parseRoute(hash) {
  const path = hash.replace(/^#/, "") || "/";
  const parts = path.split("/").filter(Boolean).map(decodeSegment);
  if (parts.length === 1 && parts[0] === "login") return { name: "login" };
  if (parts.length === 1 && parts[0] === "reviews") return { name: "reviews" };
  if (parts.length === 2 && parts[0] === "reviews") return { name: "editor", id: parts[1] };
  if (parts.length === 2 && parts[0] === "cycles") return { name: "dashboard", id: parts[1] };
  if (parts.length === 3 && parts[0] === "cycles" && parts[2] === "calibration") return { name: "calibration", id: parts[1] };
  if (parts.length === 2 && parts[0] === "admin" && parts[1] === "cycles") return { name: "cycles" };
  if (parts.length === 1 && parts[0] === "feedback") return { name: "feedback" };
  if (parts.length === 3 && parts[0] === "feedback" && parts[1] === "requests") return { name: "feedback-write", id: parts[2] };
  if (parts.length === 4 && parts[0] === "feedback" && parts[1] === "results") {
    return { name: "feedback-results", cycle: parts[2], subject: parts[3] };
  }
  if (parts.length === 1 && parts[0] === "account") return { name: "account" };
  if (parts.length === 1 && parts[0] === "objectives") return { name: "objectives" };
  if (parts.length === 2 && parts[0] === "admin" && parts[1] === "security") return { name: "security" };
  if (parts.length === 2 && parts[0] === "admin" && parts[1] === "users") return { name: "people" };
  if (parts.length === 2 && parts[0] === "admin" && parts[1] === "audit") return { name: "audit" };
  if (parts.length === 1 && parts[0] === "reset-request") return { name: "reset-request" };
  if (parts.length === 2 && parts[0] === "reset") return { name: "reset", token: parts[1] };
  return { name: "home" };
}

function decodeSegment(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Go to a route; re-render when the hash is already there. */
export function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

/** Render the view for the current hash, after leaving the previous one. */
function render() {
  leaveCurrent();
  if (session.blocked) {
    showBlocked();
    return;
  }
  const route = parseRoute(location.hash);

  // Without a session every route leads to sign-in, remembering the target.
  if (!session.user && !PUBLIC_ROUTES.has(route.name)) {
    if (route.name !== "home") session.returnTo = location.hash;
    location.replace("#/login");
    return;
  }
  if (session.user && (route.name === "login" || route.name === "home")) {
    location.replace("#/reviews");
    return;
  }

  renderTopbar(route.name);
  const controller = new AbortController();
  const context = {
    user: session.user,
    signal: controller.signal,
    navigate,
    reload: render,
    signedIn,
    sessionEnded,
    refreshUser,
    takeNotice: () => {
      const notice = session.notice;
      session.notice = null;
      return notice;
    },
  };

  document.title = `${PAGE_TITLES[route.name] || "Kaizen"} — Kaizen`;
  const root = h("div", { class: "view", dataset: { view: route.name } });
  replaceChildren(main, root);
  let cleanup = null;
  if (route.name === "login") cleanup = loginView(root, context);
  else if (route.name === "reviews") cleanup = reviewsView(root, context);
  else if (route.name === "editor") cleanup = editorView(root, context, route.id);
  else if (route.name === "dashboard") cleanup = dashboardView(root, context, route.id);
  else if (route.name === "feedback") cleanup = feedbackView(root, context);
  else if (route.name === "feedback-write") cleanup = feedbackWriteView(root, context, route.id);
  else if (route.name === "feedback-results") cleanup = feedbackResultsView(root, context, route.cycle, route.subject);
  else if (route.name === "account") cleanup = accountView(root, context);
  else if (route.name === "objectives") cleanup = objectivesView(root, context);
  else if (route.name === "security") cleanup = securityView(root, context);
  else if (route.name === "people") cleanup = peopleView(root, context);
  else if (route.name === "audit") cleanup = auditView(root, context);
  else if (route.name === "cycles") cleanup = cyclesView(root, context);
  else if (route.name === "calibration") cleanup = calibrationView(root, context, route.id);
  else if (route.name === "reset-request") cleanup = resetRequestView(root, context);
  else if (route.name === "reset") cleanup = resetView(root, context, route.token);
  current = { controller, cleanup };
  focusHeading(root);
}

/** Leave the current view; resolves when its cleanup (e.g. a final save) is done. */
function leaveCurrent() {
  if (!current) return Promise.resolve();
  const { controller, cleanup } = current;
  current = null;
  controller.abort();
  if (typeof cleanup !== "function") return Promise.resolve();
  try {
    return Promise.resolve(cleanup()).catch((error) => console.error(error));
  } catch (error) {
    console.error(error);
    return Promise.resolve();
  }
}

// Move focus to the new page's heading so screen readers announce the page
// and keyboard users start at its top (skipped on the very first render).
let firstRender = true;
function focusHeading(root) {
  if (firstRender) {
    firstRender = false;
    return;
  }
  const heading = root.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: false });
  }
}

/** The login view calls this with the user from a successful sign-in. */
function signedIn(user) {
  session.user = user;
  const target = session.returnTo;
  session.returnTo = null;
  navigate(target && target !== "#/login" ? target : "#/reviews");
}

/**
 * The server ended this tab's session on purpose (a password reset, signing
 * oneself out everywhere). With a `notice`, go to sign-in and show it there;
 * without, stay on the page, which says what happened itself.
 */
function sessionEnded(notice = null) {
  session.user = null;
  session.returnTo = null;
  clearDrafts();
  renderTopbar();
  if (notice) {
    session.notice = notice;
    navigate("#/login");
  }
}

/**
 * Ask the server who we are again after changing one's own account (e.g. an
 * HR admin taking their own role away), then show the page for that. A 401
 * means the change ended this session: sign-in, with `noticeIfEnded`.
 */
async function refreshUser(noticeIfEnded = SESSION_ENDED) {
  try {
    session.user = await api.me({ expect401: true });
    render();
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 401) sessionEnded(noticeIfEnded);
  }
}

/** The top bar: product name, navigation, who is signed in, sign out. */
function renderTopbar(routeName = null) {
  const user = session.user;
  if (!user) {
    replaceChildren(topbar, h("span", { class: "brand", text: "Kaizen" }));
    return;
  }
  const signOut = h("button", {
    type: "button",
    class: "button button-quiet",
    "data-testid": "sign-out",
    text: "Sign out",
    on: { click: () => signOutNow(signOut) },
  });
  const isHr = Array.isArray(user.roles) && user.roles.includes("hr_admin");
  const runsCycles = isHr || (Array.isArray(user.roles) && user.roles.includes("hr_assistant"));
  const link = (href, text, routes, testid) => h("a", {
    href,
    text,
    "data-testid": testid,
    "aria-current": routes.includes(routeName) ? "page" : null,
  });
  // On a phone the links, the name and Sign out fold into a menu behind one button;
  // on wider screens the button is hidden and the menu's box does not count in layout.
  const menu = h("div", { class: "topbar-menu", id: "topbar-menu" });
  const toggle = h("button", {
    type: "button",
    class: "button button-quiet menu-toggle",
    "aria-expanded": "false",
    "aria-controls": "topbar-menu",
    "data-testid": "menu-toggle",
    text: "Menu",
    on: { click: () => setMenuOpen(toggle.getAttribute("aria-expanded") !== "true") },
  });
  const setMenuOpen = (open) => {
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    topbar.dataset.menu = open ? "open" : "closed";
  };
  // Escape closes the open menu and gives the focus back to its button.
  const closeOnEscape = (event) => {
    if (event.key !== "Escape" || toggle.getAttribute("aria-expanded") !== "true") return;
    event.preventDefault();
    setMenuOpen(false);
    toggle.focus();
  };
  menu.addEventListener("keydown", closeOnEscape);
  toggle.addEventListener("keydown", closeOnEscape);
  setMenuOpen(false);
  replaceChildren(
    topbar,
    h("a", { class: "brand", href: "#/reviews", text: "Kaizen" }),
    toggle,
    menu,
  );
  replaceChildren(
    menu,
    h("nav", { class: "topnav", "aria-label": "Main" },
      link("#/reviews", "My reviews", ["reviews", "editor", "dashboard"], null),
      link("#/objectives", "Objectives", ["objectives"], "nav-objectives"),
      link("#/feedback", "Feedback", ["feedback", "feedback-write", "feedback-results"], "nav-feedback"),
      link("#/account", "Account", ["account"], "nav-account"),
      runsCycles ? link("#/admin/cycles", "Cycles", ["cycles", "calibration"], "nav-cycles") : null,
      isHr ? link("#/admin/users", "People", ["people"], "nav-people") : null,
      isHr ? link("#/admin/security", "Security", ["security"], "nav-security") : null,
      isHr ? link("#/admin/audit", "Audit log", ["audit"], "nav-audit") : null),
    h("div", { class: "who" },
      h("span", { class: "who-name", "data-testid": "user-name", text: user.name || user.email }),
      h("span", { class: "who-company", "data-testid": "user-company", text: user.company || "" })),
    signOut,
  );
}

async function signOutNow(button) {
  button.disabled = true;
  button.textContent = "Signing out…";

  // Leave the view first so a pending autosave is flushed under the session
  // (waiting a few seconds at most for a slow server).
  await Promise.race([leaveCurrent(), new Promise((resolve) => setTimeout(resolve, 4000))]);
  try {
    await api.logout();
  } catch (error) {
    // Offline: the cookie is still set, so say so rather than pretend.
    if (error instanceof api.ApiError && error.isNetwork) {
      button.disabled = false;
      button.textContent = "Sign out";
      render();
      main.prepend(h("p", { class: "notice notice-error", role: "alert", "data-testid": "app-error",
        text: "Could not reach the server to sign out. Please try again." }));
      return;
    }
  }
  session.user = null;
  session.returnTo = null;
  session.notice = "You have signed out.";
  clearDrafts();
  renderTopbar();
  navigate("#/login");
}

// Any unexpected 401 means the session is gone: back to sign-in with a notice.
api.onSessionEnded(() => {
  if (!session.user) return;
  session.user = null;
  session.notice = SESSION_ENDED;
  if (location.hash !== "#/login") session.returnTo = location.hash;
  leaveCurrent();
  renderTopbar();
  navigate("#/login");
});

// The company's address ranges exclude this network: one clear page instead
// of every view failing in its own way. Another request would be refused
// too, so nothing else is tried until the user asks.
api.onAccessDenied(() => {
  if (session.blocked) return;
  session.blocked = true;
  leaveCurrent();
  showBlocked();
});

function showBlocked() {
  document.title = "Access not allowed — Kaizen";
  replaceChildren(topbar, h("span", { class: "brand", text: "Kaizen" }));
  const heading = h("h1", { tabindex: "-1", text: "Access not allowed from this network" });
  const retry = h("button", { type: "button", class: "button", "data-testid": "ip-not-allowed-retry",
    text: "Try again", on: { click: () => {
      session.blocked = false;
      start();
    } } });
  replaceChildren(main, h("div", { class: "view blocked", dataset: { view: "blocked" }, "data-testid": "ip-not-allowed" },
    heading,
    h("p", { class: "notice notice-error", role: "alert",
      text: "Your company does not allow access from this network." }),
    h("p", { text: "Connect from a network your company allows, such as the office network or its VPN, " +
      "then try again. If you think this is a mistake, ask your HR team." }),
    retry));
  heading.focus();
}

// The skip link must not touch the hash: the router owns it.
document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

/** Ask the server who we are, then route; offer a retry when it is unreachable. */
async function start() {
  replaceChildren(main, h("p", { class: "loading", role: "status", text: "Loading…" }));
  try {
    session.user = await api.me({ expect401: true });
  } catch (error) {
    // The access-denied handler has already shown its page.
    if (error instanceof api.ApiError && error.code === "ip_not_allowed") return;
    if (error instanceof api.ApiError && error.status === 401) {
      session.user = null;
    } else {
      const retry = h("button", { type: "button", class: "button", text: "Try again", on: { click: start } });
      replaceChildren(main, h("div", { class: "view" },
        h("h1", { text: "Kaizen is not reachable" }),
        h("p", { class: "notice notice-error", role: "alert",
          text: error instanceof api.ApiError && error.isNetwork
            ? "Cannot reach the server. Check your connection and try again."
            : "The server had a problem. Please try again in a moment." }),
        retry));
      return;
    }
  }
  if (!listening) {
    window.addEventListener("hashchange", render);
    listening = true;
  }
  render();
}

start();
