// The Kaizen HTTP API as plain functions over fetch.
//
// Every request goes to the same origin with the session cookie
// (`credentials: "same-origin"`); bodies are JSON. Errors come back as
// ApiError with the server's stable error code, so views can choose their
// words by code and status rather than by parsing messages.

const BASE = "/api/v1";

/** An HTTP API failure. `status` is 0 when the server could not be reached. */
export class ApiError extends Error {
  constructor(status, code, message, details = null, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }

  /** True when no HTTP answer arrived at all (offline, server down). */
  get isNetwork() {
    return this.status === 0;
  }
}

// Called on every 401 that the caller did not expect: the session has ended
// (expired, signed out elsewhere, revoked), so the app returns to sign-in.
let sessionEndedHandler = () => {};

/** Register the function to call when a request finds the session gone. */
export function onSessionEnded(handler) {
  sessionEndedHandler = handler;
}

// Called on every 403 `ip_not_allowed`: the company's address ranges exclude
// this network, so no page can work and the app says so instead of each view.
let accessDeniedHandler = () => {};

/** Register the function to call when the company refuses this network. */
export function onAccessDenied(handler) {
  accessDeniedHandler = handler;
}

/**
 * Send one request and return the parsed JSON body (null for 204).
 *
 * Options: `body` (sent as JSON), `signal` (AbortSignal; an aborted request
 * rejects with the DOMException "AbortError", which callers ignore),
 * `keepalive` (lets a final save outlive the page), `expect401` (a 401 is
 * an ordinary answer for this call, not the end of a session; a string
 * limits that to a 401 with this error code, e.g. "invalid_credentials" for
 * a wrong password, so that an ended session is still noticed).
 */
export async function request(method, path, options = {}) {
  const { body, signal, keepalive = false, expect401 = false } = options;
  const headers = { Accept: "application/json" };
  const init = { method, credentials: "same-origin", headers, signal, keepalive };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }

  // A rejected fetch means no answer: offline, DNS, refused connection.
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch (cause) {
    if (cause && cause.name === "AbortError") throw cause;
    throw new ApiError(0, "network_error", "The server could not be reached.");
  }

  const data = await readJson(response);
  if (response.ok) return data;
  throw failureOf(response, data, expect401);
}

/**
 * The ApiError of a failed answer with body `data`, after telling the app
 * about an ended session or a refused network.
 */
function failureOf(response, data, expect401) {
  // Errors follow {"error":{"code","message"}}; tolerate anything else.
  const error = (data && typeof data === "object" && data.error) || {};
  const failure = new ApiError(
    response.status,
    typeof error.code === "string" ? error.code : `http_${response.status}`,
    typeof error.message === "string" && error.message ? error.message : defaultMessage(response),
    error.details ?? error.fields ?? error.conflict ?? null,
    retryAfterSeconds(response),
  );
  if (response.status === 401 && !expects401(expect401, failure.code)) sessionEndedHandler(failure);
  if (response.status === 403 && failure.code === "ip_not_allowed") accessDeniedHandler(failure);
  return failure;
}

/**
 * GET a file (an export): resolves `{blob, filename}`, the name taken from
 * the answer's Content-Disposition. Failures reject with ApiError as for
 * `request`. `params` become the query string; empty values are left out.
 */
export async function download(path, params = {}, signal = undefined) {
  let response;
  try {
    response = await fetch(BASE + path + queryString(params), { credentials: "same-origin", signal });
  } catch (cause) {
    if (cause && cause.name === "AbortError") throw cause;
    throw new ApiError(0, "network_error", "The server could not be reached.");
  }
  if (!response.ok) throw failureOf(response, await readJson(response), false);
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") || "";
  const named = /filename="([^"]+)"/.exec(disposition);
  return { blob, filename: named ? named[1] : "kaizen-export" };
}

/** `?a=1&b=2` of the non-empty values, or "". */
function queryString(params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `?${text}` : "";
}

function expects401(expect401, code) {
  return typeof expect401 === "string" ? expect401 === code : Boolean(expect401);
}

async function readJson(response) {
  if (response.status === 204) return null;
  const text = await response.text().catch(() => "");
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function defaultMessage(response) {
  if (response.status >= 500) return "The server had a problem. Please try again.";
  return response.statusText || `Request failed (${response.status}).`;
}

function retryAfterSeconds(response) {
  const value = response.headers.get("Retry-After");
  if (!value) return null;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds) : null;
}

/**
 * The words for a 429 `rate_limited`, with the server's `Retry-After` when
 * it sent one.
 */
export function rateLimitMessage(error) {
  const wait = error && error.retryAfter;
  if (!wait) return "Too many attempts. Please wait a minute and try again.";
  return `Too many attempts. Try again in ${wait} second${wait === 1 ? "" : "s"}.`;
}

const id = (value) => encodeURIComponent(String(value));

/** GET /me. With `expect401`, a missing session is not treated as an ending one. */
export const me = (options = {}) => request("GET", "/me", options);

/** POST /auth/login; a 401 here means wrong credentials, never "session ended". */
export const login = (company, email, password, rememberMe) =>
  request("POST", "/auth/login", {
    body: { company, email, password, remember_me: rememberMe },
    expect401: true,
  });

/** POST /auth/logout. */
export const logout = () => request("POST", "/auth/logout", { expect401: true });

/** GET /reviews: reviews the caller writes or is the subject of. */
export const listReviews = (signal) => request("GET", "/reviews", { signal });

/** GET /reviews/{id} with its questions and answers. */
export const getReview = (reviewId, signal) =>
  request("GET", `/reviews/${id(reviewId)}`, { signal });

/** PATCH /reviews/{id}: save draft answers against the version last seen. */
export const saveReview = (reviewId, answers, version, options = {}) =>
  request("PATCH", `/reviews/${id(reviewId)}`, {
    body: { answers, version },
    keepalive: Boolean(options.keepalive),
  });

/** POST /reviews/{id}/submit. */
export const submitReview = (reviewId) =>
  request("POST", `/reviews/${id(reviewId)}/submit`);

/** GET /cycles. */
export const listCycles = (signal) => request("GET", "/cycles", { signal });

/** GET /cycles/{id}/progress (HR admins). */
export const cycleProgress = (cycleId, signal) =>
  request("GET", `/cycles/${id(cycleId)}/progress`, { signal });

/** POST /auth/reauthenticate: confirm the password again before a sensitive change. */
export const reauthenticate = (password) =>
  request("POST", "/auth/reauthenticate", { body: { password }, expect401: "invalid_credentials" });

/** PUT /me/password; every other session of the user ends. */
export const changePassword = (currentPassword, newPassword) =>
  request("PUT", "/me/password", {
    body: { current_password: currentPassword, new_password: newPassword },
    expect401: "invalid_credentials",
  });

/** GET /me/sessions: the caller's sessions, the current one marked. */
export const listSessions = (signal) => request("GET", "/me/sessions", { signal });

/** DELETE /me/sessions/{id}: end one of the caller's sessions. */
export const endSession = (sessionId) => request("DELETE", `/me/sessions/${id(sessionId)}`);

/** GET /admin/security-policy (HR admins). */
export const getSecurityPolicy = (signal) => request("GET", "/admin/security-policy", { signal });

/**
 * PUT /admin/security-policy (HR admins, reauthenticated in the last ten
 * minutes). `confirmOwnAddressExcluded` saves ranges that lock out the
 * caller's own address, after the 409 that warned about it.
 */
export const saveSecurityPolicy = (policy, confirmOwnAddressExcluded = false) =>
  request("PUT", "/admin/security-policy", {
    body: confirmOwnAddressExcluded ? { ...policy, confirm_own_address_excluded: true } : policy,
  });

/**
 * POST /auth/second-factor: finish a half-done sign-in with a code. A 401
 * here is an answer, not an ended session: `invalid_credentials` for a wrong
 * code, `unauthenticated` when the pending sign-in is void.
 */
export const verifySecondFactor = (method, code, trustDevice) =>
  request("POST", "/auth/second-factor", {
    body: { method, code, trust_device: trustDevice },
    expect401: true,
  });

/**
 * POST /me/second-factor/totp: a new authenticator secret with its QR code.
 * `enrolling` marks the half-signed-in session that must set one up before
 * it may do anything else; its 401 is an answer there, not a session ending.
 */
export const startTotp = (enrolling = false) =>
  request("POST", "/me/second-factor/totp", { expect401: enrolling });

/** POST /me/second-factor/totp/confirm: turns the app on; answers the recovery codes. */
export const confirmTotp = (code, enrolling = false) =>
  request("POST", "/me/second-factor/totp/confirm", {
    body: { code },
    expect401: enrolling ? true : "invalid_credentials",
  });

/** DELETE /me/second-factor/totp: removes the authenticator app (reauthenticated). */
export const disableTotp = () => request("DELETE", "/me/second-factor/totp");

/**
 * GET /me/second-factor: which methods the caller has —
 * `{totp, sms_phone (masked or null), recovery_codes_left, trusted_devices}`.
 */
export const factorStatus = (signal) => request("GET", "/me/second-factor", { signal });

/**
 * POST /me/second-factor/sms: texts a code to `phone` (international form) to
 * prove the number; 202. Reauthenticated, except for an enrolling session,
 * whose 401 is an answer there, as with `startTotp`.
 */
export const startSms = (phone, enrolling = false) =>
  request("POST", "/me/second-factor/sms", { body: { phone }, expect401: enrolling });

/** POST /me/second-factor/sms/confirm: turns text messages on; answers the recovery codes. */
export const confirmSms = (code, enrolling = false) =>
  request("POST", "/me/second-factor/sms/confirm", {
    body: { code },
    expect401: enrolling ? true : "invalid_credentials",
  });

/** DELETE /me/second-factor/sms: removes text messages as a method (reauthenticated). */
export const disableSms = () => request("DELETE", "/me/second-factor/sms");

/**
 * POST /auth/second-factor/sms: texts a code for this pending sign-in; 202.
 * A 401 means the pending sign-in is gone, an answer rather than an ended
 * session; 409 means the user has no phone set up.
 */
export const sendSignInSms = () =>
  request("POST", "/auth/second-factor/sms", { expect401: true });

/** POST /auth/password-reset: always 202, whether or not the account exists. */
export const requestPasswordReset = (company, email) =>
  request("POST", "/auth/password-reset", { body: { company, email }, expect401: true });

/** POST /auth/password-reset/complete with the token from the emailed link. */
export const completePasswordReset = (token, newPassword) =>
  request("POST", "/auth/password-reset/complete", {
    body: { token, new_password: newPassword },
    expect401: true,
  });

/**
 * POST /password-strength: a 0–4 score with advice, for the live meter.
 * `company` and `email`, when known, count against the password.
 */
export const passwordStrength = (password, { company, email, name, signal } = {}) =>
  request("POST", "/password-strength", {
    body: {
      password,
      ...(company ? { company } : {}),
      ...(email ? { email } : {}),
      ...(name ? { name } : {}),
    },
    signal,
    expect401: true,
  });

/** GET /admin/users (HR admins). */
export const listUsers = (signal) => request("GET", "/admin/users", { signal });

/** PATCH /admin/users/{id} with `{role}` and/or `{disabled}` (HR admins, reauthenticated). */
export const updateUser = (userId, update) =>
  request("PATCH", `/admin/users/${id(userId)}`, { body: update });

/** DELETE /admin/users/{id}/sessions: signs the user out everywhere (reauthenticated). */
export const endUserSessions = (userId) =>
  request("DELETE", `/admin/users/${id(userId)}/sessions`);

/**
 * POST /admin/users/import (HR admins, reauthenticated): the org chart as CSV
 * text. Resolves the report `{created, updated, unchanged, errors, dry_run}`;
 * a file with bad rows (422 with `errors: [{line, message}]`) resolves too,
 * its `errors` filled, since nothing was written. Other failures reject.
 */
export async function importPeople(csv, dryRun) {
  let response;
  try {
    response = await fetch(`${BASE}/admin/users/import${dryRun ? "?dry_run=true" : ""}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "text/csv; charset=utf-8" },
      body: csv,
    });
  } catch (cause) {
    if (cause && cause.name === "AbortError") throw cause;
    throw new ApiError(0, "network_error", "The server could not be reached.");
  }
  const data = await readJson(response);
  if (response.ok) return data;
  if (response.status === 422 && data && Array.isArray(data.errors) && data.errors.length) {
    return { created: 0, updated: 0, unchanged: 0, dry_run: dryRun, errors: data.errors };
  }
  throw failureOf(response, data, false);
}

/**
 * GET /admin/audit (HR admins): one page of the audit trail, newest first,
 * as `{entries, next}`. `filters`: from, to (RFC 3339), person, kind,
 * before (a page's `next`), limit.
 */
export const auditLog = (filters, signal) =>
  request("GET", `/admin/audit${queryString(filters)}`, { signal });
