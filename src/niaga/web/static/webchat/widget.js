/*
 * niaga web chat widget. A business's site embeds it with
 *   <script src="https://<niaga>/static/webchat/widget.js" data-channel="<channel key>" async></script>
 * Optional attributes: data-lang ("id" or "en"; default: the page's lang), and, for a signed-in user of the
 * site, data-user-id, data-user-email, data-user-name and data-user-hash (hex HMAC-SHA256 of the user id
 * under the channel's identity secret, computed by the site's server).
 *
 * Plain JavaScript, no dependencies. The panel lives in a shadow root so the site's styles and ours do not
 * mix. Text from the network is only ever set with textContent.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector('script[data-channel][src*="/static/webchat/widget.js"]');
  if (!script || !script.getAttribute("data-channel")) { return; }
  var channelKey = script.getAttribute("data-channel");
  if (window.__niagaWebchat && window.__niagaWebchat[channelKey]) { return; }
  window.__niagaWebchat = window.__niagaWebchat || {};
  window.__niagaWebchat[channelKey] = true;

  var origin = new URL(script.src, window.location.href).origin;
  var api = origin + "/webchat/" + encodeURIComponent(channelKey);
  var lang = (script.getAttribute("data-lang") || document.documentElement.lang || "id").slice(0, 2).toLowerCase();
  if (lang !== "en") { lang = "id"; }
  var storeKey = "niaga-webchat:" + channelKey;
  var CLOSED_POLL_FACTOR = 4;

  var siteUser = null;
  if (script.getAttribute("data-user-hash") && script.getAttribute("data-user-id")) {
    siteUser = {
      id: script.getAttribute("data-user-id"),
      email: script.getAttribute("data-user-email") || "",
      name: script.getAttribute("data-user-name") || "",
      hash: script.getAttribute("data-user-hash")
    };
  }

  var memoryStore = {};
  function load() {
    try { return JSON.parse(window.localStorage.getItem(storeKey) || "null"); } catch (e) { return memoryStore.v || null; }
  }
  function save(value) {
    memoryStore.v = value;
    try {
      if (value) { window.localStorage.setItem(storeKey, JSON.stringify(value)); }
      else { window.localStorage.removeItem(storeKey); }
    } catch (e) { /* storage refused (private mode): the session lasts as long as the page */ }
  }

  function randomId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    var out = "m";
    for (var i = 0; i < bytes.length; i++) { out += ("0" + bytes[i].toString(16)).slice(-2); }
    return out;
  }

  function request(method, path, body, token) {
    var headers = {};
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    if (token) { headers["X-Visitor-Token"] = token; }
    return window.fetch(api + path, {
      method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body),
      mode: "cors", credentials: "omit", cache: "no-store"
    }).then(function (resp) {
      return resp.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { status: resp.status, data: data };
      });
    });
  }

  // -- state ----------------------------------------------------------------------------------------
  var config = null;
  var state = load() || {};
  var shown = {};      // message keys already on screen
  var isOpen = false;
  var timer = null;
  var unread = 0;
  var ui = {};

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function build() {
    var host = el("div");
    host.id = "niaga-webchat";
    host.setAttribute("data-niaga-webchat", channelKey);
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var css = el("link");
    css.rel = "stylesheet";
    css.href = origin + "/static/webchat/widget.css";
    root.appendChild(css);

    var strings = config.strings;
    var wrap = el("div", "wc");
    wrap.setAttribute("lang", config.lang);
    var launcher = el("button", "wc-launcher", strings.open);
    launcher.type = "button";
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "wc-panel");
    var badge = el("span", "wc-badge");
    badge.hidden = true;
    launcher.appendChild(badge);

    var panel = el("section", "wc-panel");
    panel.id = "wc-panel";
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", config.name || strings.title);
    var header = el("header", "wc-header");
    header.appendChild(el("h2", "wc-title", config.name || strings.title));
    var close = el("button", "wc-close", "\u00d7");
    close.type = "button";
    close.setAttribute("aria-label", strings.close);
    header.appendChild(close);

    var log = el("ol", "wc-log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    var empty = el("p", "wc-empty", strings.empty);
    var notice = el("p", "wc-notice", strings.notice);
    var status = el("p", "wc-status");
    status.setAttribute("role", "status");

    var form = el("form", "wc-form");
    var input = el("textarea", "wc-input");
    input.rows = 2;
    input.maxLength = config.max_length;
    input.placeholder = strings.placeholder;
    input.setAttribute("aria-label", strings.placeholder);
    var send = el("button", "wc-send", strings.send);
    send.type = "submit";
    form.appendChild(input);
    form.appendChild(send);

    panel.appendChild(header);
    panel.appendChild(empty);
    panel.appendChild(log);
    panel.appendChild(status);
    panel.appendChild(form);
    panel.appendChild(notice);
    wrap.appendChild(panel);
    wrap.appendChild(launcher);
    root.appendChild(wrap);
    document.body.appendChild(host);

    ui = { launcher: launcher, badge: badge, panel: panel, close: close, log: log, empty: empty, status: status,
           form: form, input: input, send: send };
    launcher.addEventListener("click", function () { setOpen(!isOpen); });
    close.addEventListener("click", function () { setOpen(false); });
    form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); submit(); }
    });
    panel.addEventListener("keydown", function (event) { if (event.key === "Escape") { setOpen(false); } });
  }

  function setOpen(open) {
    isOpen = open;
    ui.panel.hidden = !open;
    ui.launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      unread = 0;
      showBadge();
      ui.input.focus();
      ensureSession().then(function () { schedule(0); }, function () { say(config.strings.failed); });
    } else {
      ui.launcher.focus();
    }
  }

  function showBadge() {
    ui.badge.hidden = unread === 0;
    ui.badge.textContent = unread ? String(unread) : "";
  }

  function say(text) { ui.status.textContent = text || ""; }

  // -- session ----------------------------------------------------------------------------------------
  var starting = null;
  function ensureSession() {
    var wanted = siteUser ? siteUser.id : "";
    if (state.token && (state.user || "") === wanted) { return Promise.resolve(state.token); }
    if (starting) { return starting; }
    starting = startSession(siteUser).then(function (result) {
      if (result.status === 401 && siteUser) {
        // The site's signature of its user was refused: the chat goes on without the identity.
        if (window.console) { window.console.warn("niaga web chat: the user hash was refused"); }
        return startSession(null);
      }
      return result;
    }).then(function (result) {
      starting = null;
      if (result.status !== 201 || !result.data || !result.data.token) { throw new Error("session " + result.status); }
      state = { token: result.data.token, user: result.data.verified ? wanted : "", cursor: "" };
      if (!result.data.verified && siteUser) { state.user = wanted; }  // do not retry a refused identity each load
      save(state);
      return state.token;
    }, function (error) { starting = null; throw error; });
    return starting;
  }

  function startSession(user) {
    return request("POST", "/sessions", user ? { user: user } : {});
  }

  function dropSession() {
    state = {};
    save(null);
  }

  // -- messages ---------------------------------------------------------------------------------------
  function render(key, who, text, pending) {
    var existing = shown[key];
    if (existing) {
      existing.classList.toggle("wc-pending", !!pending);
      return;
    }
    var item = el("li", "wc-msg wc-" + who + (pending ? " wc-pending" : ""));
    item.setAttribute("data-from", who);
    var label = el("span", "wc-who", who === "visitor" ? config.strings.you : (config.name || config.strings.title));
    var body = el("p", "wc-text", text);
    item.appendChild(label);
    item.appendChild(body);
    ui.log.appendChild(item);
    shown[key] = item;
    ui.empty.hidden = true;
    ui.log.scrollTop = ui.log.scrollHeight;
    if (who === "agent" && !isOpen) { unread += 1; showBadge(); }
  }

  function submit() {
    var text = ui.input.value.trim();
    if (!text) { return; }
    if (text.length > config.max_length) { say(config.strings.too_long); return; }
    var clientId = randomId();
    ui.input.value = "";
    say("");
    render("c:" + clientId, "visitor", text, true);
    deliver(clientId, text, true);
  }

  function deliver(clientId, text, mayRenew) {
    ensureSession().then(function (token) {
      return request("POST", "/messages", { id: clientId, text: text }, token);
    }).then(function (result) {
      if (result.status === 202) {
        render("c:" + clientId, "visitor", text, false);
        schedule(1000);
      } else if (result.status === 401 && mayRenew) {
        dropSession();
        deliver(clientId, text, false);
      } else if (result.status === 429) {
        say(config.strings.too_many);
      } else {
        say(config.strings.failed);
      }
    }, function () { say(config.strings.failed); });
  }

  function poll() {
    timer = null;
    if (!state.token) { return; }
    var query = state.cursor ? "?after=" + encodeURIComponent(state.cursor) : "";
    request("GET", "/messages" + query, undefined, state.token).then(function (result) {
      if (result.status === 401) { dropSession(); return; }
      if (result.status === 200 && result.data) {
        (result.data.messages || []).forEach(function (message) {
          var key = message.client_id ? "c:" + message.client_id : "s:" + message.id;
          render(key, message.from === "visitor" ? "visitor" : "agent", message.text, false);
        });
        if (result.data.cursor) { state.cursor = result.data.cursor; save(state); }
      }
      schedule();
    }, function () { schedule(); });
  }

  function schedule(delay) {
    if (timer) { window.clearTimeout(timer); }
    if (!state.token) { return; }
    var every = config.poll_seconds * 1000 * (isOpen && !document.hidden ? 1 : CLOSED_POLL_FACTOR);
    timer = window.setTimeout(poll, delay === undefined ? every : delay);
  }

  document.addEventListener("visibilitychange", function () { if (!document.hidden && state.token) { schedule(0); } });

  function start() {
    request("GET", "/config?lang=" + lang).then(function (result) {
      if (result.status !== 200 || !result.data || !result.data.strings) { return; }
      config = result.data;
      if (state.token && (state.user || "") !== (siteUser ? siteUser.id : "")) {
        dropSession();  // another user of the site (or none) now: never show the previous one's chat
      }
      state.cursor = "";  // the history is read again on each page load
      build();
      if (state.token) { schedule(0); }
    }, function () { /* the chat is unavailable: show nothing */ });
  }

  if (document.body) { start(); } else { document.addEventListener("DOMContentLoaded", start); }
}());
