/*! idleguard browser client. It only shows what the server decides: the
 * server ends the session whatever this script does or does not do. */
(function () {
  "use strict";
  var g = globalThis;
  var doc = g.document;
  if (!doc || g.idleguard) return;

  var TEXTS = {
    title: "Your session is about to end",
    body: "You will be signed out in {time} because there was no activity.",
    bodyAbsolute: "Your session reaches its time limit in {time}. Save your work, then sign in again.",
    stay: "Stay logged in",
    ok: "OK",
    signOut: "Sign me out",
    announce: "You will be signed out in {time}."
  };
  var CSS =
    ":where(.idleguard-dialog){box-sizing:border-box;max-width:min(28rem,calc(100vw - 2rem));border:0;" +
    "border-radius:.5rem;padding:1.5rem;box-shadow:0 .5rem 2rem rgba(0,0,0,.3);font:inherit;" +
    "color:var(--idleguard-color,#1a1a1a);background:var(--idleguard-background,#fff)}" +
    ":where(.idleguard-dialog)::backdrop{background:rgba(0,0,0,.45)}" +
    ":where(.idleguard-title){margin:0 0 .5rem;font-size:1.25rem}" +
    ":where(.idleguard-body){margin:0}" +
    ":where(.idleguard-time){font-weight:700;font-variant-numeric:tabular-nums}" +
    ":where(.idleguard-actions){display:flex;flex-wrap:wrap;gap:.75rem;justify-content:flex-end;margin-top:1.25rem}" +
    ":where(.idleguard-actions button){font:inherit;padding:.5rem 1rem;border-radius:.375rem;cursor:pointer;" +
    "border:1px solid var(--idleguard-accent,#1d4ed8)}" +
    ":where(.idleguard-stay){background:var(--idleguard-accent,#1d4ed8);color:#fff}" +
    ":where(.idleguard-signout){background:transparent;color:var(--idleguard-accent,#1d4ed8)}" +
    ":where(.idleguard-actions button:focus-visible){outline:3px solid var(--idleguard-focus,#f59e0b);outline-offset:2px}" +
    ":where(.idleguard-sr){position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}" +
    ":where(html.idleguard-veil) body{visibility:hidden}";
  var ACTIVITY = ["pointerdown", "pointermove", "keydown", "scroll", "touchstart", "wheel"];
  var MAX_WAIT = 30000;
  // How long a tab waits for the tab that speaks before it asks the server itself.
  var GRACE = 5000;
  var LEASE = "idleguard:leader";

  var opts = null;
  var tab = Math.random().toString(36).slice(2);
  var channel = null;
  var st = { active: false, was: false, idle: Infinity, abs: Infinity, warn: 0, login: null };
  var pointer = "", gone = false, local = false, remote = false, sharedAt = 0, busy = 0, dismissedAbs = 0, elsewhere = false;
  var timer = 0, flusher = 0, ticker = 0, asking = null, heard = 0, waited = false;
  var locks = g.navigator && g.navigator.locks, leader = false, queued = null;
  var ui = null;

  function now() { return Date.now(); }
  function deadline() { return Math.min(st.idle, st.abs); }
  function fill(text, time) { return text.split("{time}").join(time); }
  function clock(ms) {
    var s = Math.max(0, Math.ceil(ms / 1000));
    return Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2);
  }
  function emit(name, detail) { doc.dispatchEvent(new CustomEvent("idleguard:" + name, { detail: detail })); }
  function url(name) {
    var query = "?path=" + encodeURIComponent(g.location.pathname);
    // The dialog's words come with the first status, in the page's language.
    if (name === "status" && !opts.lang) query += "&lang=" + encodeURIComponent(doc.documentElement.lang || "");
    return opts.prefix + name + query;
  }

  // -- talking to the server -------------------------------------------------
  function call(name, post) {
    var headers = { Accept: "application/json" };
    if (post) headers["X-Idleguard"] = "1";
    else headers["X-Idleguard-Passive"] = "1";
    var sent = now();
    return g.fetch(url(name), {
      method: post ? "POST" : "GET",
      headers: headers,
      credentials: "same-origin",
      cache: "no-store"
    }).then(function (response) {
      return response.json().then(function (body) {
        return { status: response.status, body: body || {}, sent: sent };
      }, function () { return { status: response.status, body: {}, sent: sent }; });
    });
  }

  function answer(result, reported) {
    var body = result.body;
    if (body.messages) {
      opts.lang = body.lang;
      // The page's own strings win over the server's.
      opts.texts = Object.assign({}, TEXTS, body.messages, opts.own);
    }
    if (result.status === 200 && body.active) return apply(body, true, reported, result.sent);
    // No reason: the cookie is already gone (another request of this page ended the
    // session first). Past the deadline that was the idle limit, not a sign-out.
    if (result.status === 200 || result.status === 401) return ended(body.reason || (st.active && now() >= deadline() ? "idle" : "signed_out"), body.logout_url);
    throw new Error("idleguard: " + result.status);
  }

  /** Ask the server how things stand (passive: it never extends the session). */
  function refresh() {
    if (!asking) {
      asking = call("status", false).then(function (result) { answer(result, false); }).catch(offline).then(function () { asking = null; });
    }
    return asking;
  }

  /** Tell the server the user is here ("Stay logged in", or activity since the last report). */
  function report() {
    local = remote = false;
    return call("keepalive", true).then(function (result) {
      if (result.status === 403) throw new Error("idleguard: keepalive refused (" + result.body.detail + ")");
      return answer(result, true);
    }).catch(offline);
  }

  function offline() {
    // The server could not be asked. Past the deadline it has ended the session anyway.
    if (st.active && now() >= deadline()) return ended("idle");
    if (st.active) { clearTimeout(timer); timer = setTimeout(tick, 10000); }
  }

  // -- state -----------------------------------------------------------------
  function apply(body, share, reported, sent) {
    var at = now();
    // The time left is the server's when the question was asked: counted from then, so an
    // answer that arrives late never moves a deadline later than the server's.
    var asked = sent == null || sent > at ? at : sent;
    heard = at;
    waited = false;
    st.active = st.was = true;
    st.warn = (body.warn_before || 0) * 1000;
    st.idle = body.idle_remaining == null ? Infinity : asked + body.idle_remaining * 1000;
    st.abs = body.absolute_remaining == null ? Infinity : asked + body.absolute_remaining * 1000;
    st.login = body.login_url || opts.loginUrl;
    unveil();
    elect();
    // A report carried every tab's activity to the server: none is left to send,
    // and this tab's next activity is news to share at once.
    if (reported) { local = remote = false; sharedAt = 0; }
    // Decided before the answer is shared, so the tabs hear "shown" first and one dialog opens.
    if (deadline() - at > st.warn) { elsewhere = false; close(); }
    else warn();
    if (share) post({ t: "status", s: body, r: reported, a: asked });
    schedule();
    emit("status", body);
  }

  function schedule() {
    clearTimeout(timer);
    if (!st.active) return;
    var at = now(), due = deadline() - st.warn;
    // In the warning time the server has been asked already: the next question is at the deadline.
    if (at >= due) due = deadline();
    timer = setTimeout(tick, Math.max(250, Math.min(due - at, MAX_WAIT)));
  }

  function tick() {
    if (!st.active) return;
    var at = now(), due = deadline() - st.warn;
    if (at < due) return schedule();
    var act = (local || remote || busy) && at < deadline();
    // The server said so in the warning time already (a tab handed the dialog over).
    if (!act && heard >= due && at < deadline()) { warn(); return schedule(); }
    // Warning time or the deadline (possibly long after it, when the machine
    // slept): ask the server before showing or hiding anything. One tab asks for
    // all; the others hear its answer, and ask themselves only when none comes.
    if (!waited && !leads()) {
      waited = true;
      clearTimeout(timer);
      timer = setTimeout(tick, GRACE);
      return;
    }
    waited = false;
    if (act) report();
    else refresh();
  }

  function absoluteBinding() { return st.abs <= st.idle; }

  function warn() {
    if (ui && ui.open) return;
    // Declared work keeps the session alive; only the absolute limit is worth a word then.
    if (busy && !absoluteBinding()) return;
    if (absoluteBinding() && dismissedAbs === st.abs) return;
    if (elsewhere || doc.visibilityState !== "visible") return;
    open();
    post({ t: "shown" });
    emit("warn", { remaining: deadline() - now() });
  }

  // With single sign-on the server names the identity provider's logout (logout_url):
  // going there ends the provider's session too, then comes back to the sign-in page.
  function ended(reason, logoutUrl) {
    var was = st.was;
    if (gone) return;
    st.active = false;
    clearTimeout(timer);
    resign();
    close();
    post({ t: "ended" });
    if (!was) return;
    gone = true;
    veil();
    emit("signout", { reason: reason });
    if (logoutUrl) return g.location.replace(logoutUrl);
    var login = st.login || opts.loginUrl;
    if (!login) return g.location.reload();
    var sep = login.indexOf("?") < 0 ? "?" : "&";
    var next = reason === "signed_out" ? "" : "&next=" + encodeURIComponent(g.location.pathname);
    g.location.replace(login + sep + "reason=" + encodeURIComponent(reason) + next);
  }

  function veil() { doc.documentElement.classList.add("idleguard-veil"); }
  function unveil() { doc.documentElement.classList.remove("idleguard-veil"); }

  // -- tabs ------------------------------------------------------------------
  // One signed-in tab speaks for all in each round (activity reports, the question at
  // the warning time): the holder of a Web Lock, which passes to a waiting tab when
  // the holder goes. A hidden tab hands it on, since its timers are slowed.
  function elect() {
    if (!locks || queued || !st.active) return;
    var abort = queued = new AbortController();
    locks.request("idleguard", { signal: abort.signal }, function () {
      leader = true;
      return new Promise(function (resolve) { abort.signal.addEventListener("abort", resolve); });
    }).catch(function (error) {
      // Refused (an opaque origin): the lease below decides instead. Aborted: this tab resigned.
      if (error.name !== "AbortError") { locks = null; queued = null; }
    });
  }

  function resign() {
    leader = false;
    if (queued) queued.abort();
    queued = null;
    try {
      if (!locks && JSON.parse(g.localStorage.getItem(LEASE)).id === tab) g.localStorage.removeItem(LEASE);
    } catch (error) { /* no lease */ }
  }

  function leads() {
    if (locks) return leader;
    // Without Web Locks: a lease in localStorage that its holder renews every round.
    try {
      var at = now(), lease = JSON.parse(g.localStorage.getItem(LEASE)) || {};
      leader = lease.id === tab || !(lease.until > at);
      if (leader) g.localStorage.setItem(LEASE, JSON.stringify({ id: tab, until: at + 2 * opts.interval }));
    } catch (error) { leader = true; /* storage refused: this tab speaks for itself */ }
    return leader;
  }

  function post(message) {
    message.from = tab;
    if (channel) return channel.postMessage(message);
    try {
      message.n = Math.random();
      g.localStorage.setItem("idleguard:message", JSON.stringify(message));
    } catch (error) { /* storage refused: this tab goes it alone */ }
  }

  function receive(message) {
    if (!message || message.from === tab) return;
    var type = message.t;
    if (type === "status" && st.was) apply(message.s, false, message.r, message.a);
    else if (type === "activity") remote = true;
    else if (type === "shown") {
      elsewhere = true;
      if (ui && ui.open && message.from < tab) close();
    } else if (type === "released") {
      elsewhere = false;
      if (st.active && doc.visibilityState === "visible") tick();
    } else if (type === "dismissed") { dismissedAbs = st.abs; close(); }
    else if (type === "ended" && st.active) refresh();
  }

  // -- activity --------------------------------------------------------------
  function activity(event) {
    if (!st.active || (ui && ui.open)) return;
    if (event.type === "pointermove") {
      // Browsers send a pointermove without motion when the page changes under a
      // still pointer (a poll updating the page): that is not the user.
      // The first one only says where the pointer is.
      var at = event.screenX + "," + event.screenY;
      var moved = pointer && at !== pointer;
      pointer = at;
      if (!moved) return;
    }
    local = true;
    var time = now();
    if (time - sharedAt > 5000) { sharedAt = time; post({ t: "activity" }); }
  }

  function flush() {
    if (!st.active) return;
    if (leads()) { if (local || remote) report(); }
    // Declared work is activity: the tab that speaks reports it with the rest.
    else if (busy) post({ t: "activity" });
  }

  // -- the dialog ------------------------------------------------------------
  function styles() {
    if (!opts.styles) return;
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      doc.adoptedStyleSheets = doc.adoptedStyleSheets.concat([sheet]);
    } catch (error) {
      var style = doc.createElement("style");
      if (opts.nonce) style.nonce = opts.nonce;
      style.textContent = CSS;
      doc.head.appendChild(style);
    }
  }

  function element(tag, className, text) {
    var node = doc.createElement(tag);
    node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function build() {
    var texts = opts.texts;
    var dialog = element("dialog", "idleguard-dialog");
    if (opts.lang) dialog.lang = opts.lang;
    dialog.setAttribute("role", "alertdialog");
    dialog.setAttribute("aria-modal", "true");
    dialog.setAttribute("aria-labelledby", "idleguard-title");
    dialog.setAttribute("aria-describedby", "idleguard-body");
    var title = element("h2", "idleguard-title", texts.title);
    title.id = "idleguard-title";
    var body = element("p", "idleguard-body");
    body.id = "idleguard-body";
    var live = element("p", "idleguard-sr");
    live.setAttribute("aria-live", "assertive");
    var actions = element("div", "idleguard-actions");
    var stay = element("button", "idleguard-stay");
    var out = element("button", "idleguard-signout", texts.signOut);
    stay.type = out.type = "button";
    actions.append(stay, out);
    dialog.append(title, body, actions, live);
    stay.addEventListener("click", function () { choose(true); });
    out.addEventListener("click", function () { choose(false); });
    dialog.addEventListener("cancel", function (event) { event.preventDefault(); choose(true); });
    dialog.addEventListener("keydown", function (event) {
      if (event.key !== "Tab") return;
      // Focus stays on the two buttons: Tab past the last returns to the first.
      var target = event.shiftKey ? (doc.activeElement === stay ? out : null) : (doc.activeElement === out ? stay : null);
      if (target || !dialog.contains(doc.activeElement)) {
        event.preventDefault();
        (target || stay).focus();
      }
    });
    doc.body.appendChild(dialog);
    return { dialog: dialog, body: body, live: live, stay: stay, open: false, said: 0 };
  }

  function render() {
    var left = deadline() - now();
    var time = clock(left);
    var texts = opts.texts;
    var parts = (absoluteBinding() ? texts.bodyAbsolute : texts.body).split("{time}");
    var span = element("span", "idleguard-time", time);
    span.setAttribute("role", "timer");
    ui.body.replaceChildren(parts[0], span, parts.slice(1).join(time));
    // Announce at the start and then sparingly: a screen reader reading every second is noise.
    var mark = left > 60500 ? 0 : left > 30500 ? 60 : left > 10500 ? 30 : 10;
    if (!ui.said || (mark && mark < ui.said)) {
      ui.said = mark || 999;
      ui.live.textContent = fill(texts.announce, time);
    }
    if (left <= 0) tick();
  }

  function open() {
    if (!ui) ui = build();
    ui.stay.textContent = absoluteBinding() ? opts.texts.ok : opts.texts.stay;
    ui.said = 0;
    render();
    ui.dialog.showModal();
    ui.stay.focus();
    ui.open = true;
    clearInterval(ticker);
    ticker = setInterval(render, 1000);
    schedule();
  }

  function close() {
    if (!ui || !ui.open) return;
    ui.open = false;
    clearInterval(ticker);
    ui.dialog.close();
    ui.live.textContent = "";
  }

  function choose(stay) {
    close();
    if (!stay) {
      return call("logout", true).catch(function () {}).then(function () { ended("signed_out"); });
    }
    if (absoluteBinding()) {
      // Nothing extends an absolute limit: the user has read the notice.
      dismissedAbs = st.abs;
      post({ t: "dismissed" });
      return schedule();
    }
    report();
  }

  // -- public ----------------------------------------------------------------
  /** ``fetch`` that marks ``{passive: true}`` requests and signs out on ``401 session_expired``. */
  function guardedFetch(input, init) {
    var options = Object.assign({}, init);
    if (options.passive) {
      var headers = new Headers(options.headers || (input instanceof Request ? input.headers : undefined));
      headers.set("X-Idleguard-Passive", "1");
      options.headers = headers;
    }
    delete options.passive;
    return g.fetch(input, options).then(function (response) {
      if (response.status === 401) {
        response.clone().json().then(function (body) {
          if (body && body.error === "session_expired") ended(body.reason || "idle");
        }, function () {});
      }
      return response;
    });
  }

  /** Declare long work (an upload): no warning while it runs. Pass a promise, or call the returned function when done. */
  function work(promise) {
    var done = false;
    busy += 1;
    function finish() { if (!done) { done = true; busy -= 1; } }
    if (promise && promise.then) {
      promise.then(finish, finish);
      return promise;
    }
    return finish;
  }

  function start(options) {
    if (opts) return api;
    options = options || {};
    opts = {
      prefix: options.prefix || "/_idleguard/",
      loginUrl: options.loginUrl || null,
      interval: (options.interval || 60) * 1000,
      nonce: options.nonce || null,
      styles: options.styles !== false,
      own: Object.assign({}, options.texts),
      lang: null
    };
    opts.texts = Object.assign({}, TEXTS, opts.own);
    if (opts.prefix.slice(-1) !== "/") opts.prefix += "/";
    styles();
    ACTIVITY.forEach(function (name) {
      g.addEventListener(name, activity, { capture: true, passive: true });
    });
    if (g.BroadcastChannel) {
      channel = new BroadcastChannel("idleguard");
      channel.onmessage = function (event) { receive(event.data); };
    } else {
      g.addEventListener("storage", function (event) {
        if (event.key === "idleguard:message" && event.newValue) {
          try { receive(JSON.parse(event.newValue)); } catch (error) { /* not ours */ }
        }
      });
    }
    doc.addEventListener("visibilitychange", function () {
      if (doc.visibilityState === "visible") { if (st.was) refresh(); return; }
      if (leader && locks) { resign(); elect(); }
      if (ui && ui.open) { close(); elsewhere = false; post({ t: "released" }); }
    });
    // A page in the back-forward cache or frozen must not hold the lock the other tabs wait for.
    g.addEventListener("pagehide", function (event) { resign(); if (event.persisted && st.was) veil(); });
    doc.addEventListener("freeze", resign);
    doc.addEventListener("resume", elect);
    g.addEventListener("pageshow", function (event) {
      // Restored from the back-forward cache: show nothing until the server says the session lives.
      if (event.persisted && st.was) { veil(); refresh(); }
    });
    flusher = setInterval(flush, opts.interval);
    refresh();
    return api;
  }

  function stop() {
    clearTimeout(timer);
    clearInterval(flusher);
    close();
    st.active = false;
    resign();
  }

  var api = {
    start: start,
    stop: stop,
    fetch: guardedFetch,
    work: work,
    refresh: refresh,
    signOut: function () { choose(false); },
    state: function () {
      return { active: st.active, idleDeadline: st.idle, absoluteDeadline: st.abs, warnBefore: st.warn, busy: busy, leader: leader };
    }
  };
  g.idleguard = api;

  var script = doc.currentScript;
  if (script && !script.hasAttribute("data-manual")) {
    var data = script.dataset;
    var src = script.getAttribute("src") || "";
    var texts = {};
    // data-text-stay="...", data-text-body-absolute="...": the page's own words.
    Object.keys(TEXTS).forEach(function (key) {
      var text = data["text" + key[0].toUpperCase() + key.slice(1)];
      if (text) texts[key] = text;
    });
    start({
      prefix: data.prefix || src.replace(/[^/]*$/, "") || undefined,
      loginUrl: data.loginUrl,
      interval: data.interval ? Number(data.interval) : undefined,
      nonce: script.nonce || data.nonce,
      styles: data.styles !== "off",
      texts: texts
    });
  }
})();
