// One live topic over the /api/v1/live WebSocket, with resume on reconnect.
//
// The server numbers every message of a topic with `seq`. We remember the
// last one we applied and, after a dropped connection, subscribe again with
// `since` so the server can replay what we missed or answer with a fresh
// snapshot. Reconnects back off exponentially (1 s doubling to 30 s, with
// jitter) so that a restarting server is not hammered by every open
// dashboard at once.

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;

// Topic errors that retrying cannot fix: stop instead of looping.
const FATAL_CODES = new Set(["forbidden", "not_found", "bad_request", "unauthenticated"]);

// Close codes after which reconnecting cannot help (see the README): the
// client broke the rules (1008) or sent too much (1009).
const FATAL_CLOSE_CODES = new Set([1008, 1009]);

/** The WebSocket URL on this page's own host, ws: or wss: to match the page. */
export function liveUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/v1/live`;
}

/**
 * A subscription to one topic that survives dropped connections.
 *
 * Callbacks: `onData(data, message)` for every snapshot and event,
 * `onStatus(status)` with "connecting" | "live" | "reconnecting" | "stopped",
 * `onError({code, message})` for a topic error from the server (after which
 * the subscription stops), and `beforeReconnect()` — an async check run
 * before each reconnect; returning false stops (the page uses it to notice
 * an ended session, which the browser hides from a failed WebSocket).
 */
export class LiveTopic {
  constructor(topic, callbacks = {}) {
    this.topic = topic;
    this.callbacks = callbacks;
    this.lastSeq = null;
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.closed = false;
    this.presence = undefined;
    this.onOnline = () => this.reconnectNow();
  }

  /**
   * Say which answer of a review topic this tab is in (a question id or
   * null). Kept and sent again after every reconnect.
   */
  setPresence(answer) {
    if (this.presence === answer) return;
    this.presence = answer;
    this.sendPresence();
  }

  sendPresence() {
    const socket = this.socket;
    if (this.presence === undefined || !socket || socket.readyState !== WebSocket.OPEN) return;
    this.sendOn(socket, { type: "presence", topic: this.topic, answer: this.presence });
  }

  /** Open the connection and subscribe. */
  start() {
    window.addEventListener("online", this.onOnline);
    this.connect();
    return this;
  }

  /** Unsubscribe and close for good. */
  close() {
    this.closed = true;
    window.removeEventListener("online", this.onOnline);
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      if (socket.readyState === WebSocket.OPEN) {
        this.sendOn(socket, { type: "unsubscribe", topic: this.topic });
      }
      socket.close(1000, "page closed");
    }
  }

  connect() {
    if (this.closed) return;
    this.status(this.lastSeq === null && this.attempt === 0 ? "connecting" : "reconnecting");

    let socket;
    try {
      socket = new WebSocket(liveUrl());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;

    // Subscribe as soon as the connection is up, resuming after lastSeq.
    socket.addEventListener("open", () => {
      const message = { type: "subscribe", topic: this.topic };
      if (this.lastSeq !== null) message.since = this.lastSeq;
      this.sendOn(socket, message);
    });

    socket.addEventListener("message", (event) => {
      if (socket === this.socket) this.handle(event.data);
    });

    // Either a failed handshake or a dropped connection ends up here.
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      if (FATAL_CLOSE_CODES.has(event.code)) {
        this.stop();
        return;
      }
      this.scheduleReconnect();
    });
  }

  handle(raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (!message || typeof message !== "object") return;

    if (message.type === "error") {
      const code = String(message.code || "error");
      if (this.callbacks.onError) this.callbacks.onError({ code, message: message.message || "" });
      if (FATAL_CODES.has(code)) this.stop();
      return;
    }
    if (message.topic !== this.topic) return;

    // A snapshot is the whole truth: take it even if its seq went backwards
    // (the server may have restarted and begun numbering again).
    if (message.type === "snapshot") {
      this.lastSeq = typeof message.seq === "number" ? message.seq : this.lastSeq;
      this.attempt = 0;
      this.status("live");
      if (this.presence) this.sendPresence();
      if (this.callbacks.onData) this.callbacks.onData(message.data, message);
      return;
    }

    // Events at or below lastSeq were already applied (replayed on resume).
    if (message.type === "event") {
      if (typeof message.seq === "number") {
        if (this.lastSeq !== null && message.seq <= this.lastSeq) return;
        this.lastSeq = message.seq;
      }
      // The first event after a resume means the subscription is back.
      if (this.attempt !== 0 && this.presence) this.sendPresence();
      this.attempt = 0;
      this.status("live");
      if (this.callbacks.onData) this.callbacks.onData(message.data, message);
    }
  }

  scheduleReconnect() {
    if (this.closed) return;
    this.status("reconnecting");
    const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    const delay = base * (0.8 + Math.random() * 0.4);
    this.attempt += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reconnect(), delay);
  }

  async reconnect() {
    if (this.closed || this.socket) return;
    if (this.callbacks.beforeReconnect) {
      let proceed = true;
      try {
        proceed = await this.callbacks.beforeReconnect();
      } catch {
        proceed = true;
      }
      if (proceed === false) {
        this.stop();
        return;
      }
      if (this.closed || this.socket) return;
    }
    this.connect();
  }

  /** The browser says the network is back: skip the rest of the backoff. */
  reconnectNow() {
    if (this.closed || this.socket) return;
    clearTimeout(this.timer);
    this.reconnect();
  }

  stop() {
    this.close();
    this.status("stopped");
  }

  status(value) {
    if (this.callbacks.onStatus) this.callbacks.onStatus(value);
  }

  sendOn(socket, message) {
    try {
      socket.send(JSON.stringify(message));
    } catch {
      // The close handler takes care of a socket that died meanwhile.
    }
  }
}
