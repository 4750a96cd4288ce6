/* liveloop viewer widget: one line on the live page.
 *
 *   <script src="https://LIVELOOP/widget/liveloop.js" data-token="VIEWER_TOKEN"
 *           data-invite-url="https://LIVELOOP/s/CODE" async></script>
 *
 * Optional attributes: data-lang (the widget's own words; default: the page's lang), data-title (share text),
 * data-position ("left" or "right", default "right"), data-api (default: where this script came from).
 * It sends a presence beat every 30 s, listens to the viewer's stream and shows a small panel with
 * what the viewer's friends did, rank and rewards, and an invite button (share sheet or copy).
 * Every message is also dispatched on `window` as a `liveloop:message` CustomEvent, and
 * `liveloop:token-expired` when the token no longer works: hand a fresh one to
 * `window.liveloop.setToken(token)`. A stream refused for a limit (429) is opened again after the
 * Retry-After the server gave; one refused otherwise, later and later.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.liveloop) return;

  var token = script.getAttribute("data-token") || "";
  var inviteUrl = script.getAttribute("data-invite-url") || "";
  var api = (script.getAttribute("data-api") || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var lang = (script.getAttribute("data-lang") || document.documentElement.lang || navigator.language || "en")
    .toLowerCase();
  var shareTitle = script.getAttribute("data-title") || document.title;
  var side = script.getAttribute("data-position") === "left" ? "left" : "right";
  var ref = null;
  try { ref = new URLSearchParams(location.search).get("ll_ref"); } catch (e) { ref = null; }

  // Generated from the gettext catalogues (src/liveloop/i18n/locales) when the script is served:
  // {strings: {lang: {msgid: text}}, rtl: [lang], aliases: {tag: lang}}, English wherever a
  // catalogue lacks a text.
  var I18N = {/* liveloop:i18n */};
  var base = lang.split(/[-_]/)[0];
  base = I18N.aliases[base] || base;
  var code = I18N.strings[lang] ? lang : I18N.strings[base] ? base : "en";
  var t = I18N.strings[code];
  var rtl = I18N.rtl.indexOf(code) >= 0 || document.documentElement.dir === "rtl";

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_m, k) { return values[k] == null ? "" : String(values[k]); });
  }

  function num(n) {
    try { return new Intl.NumberFormat(code).format(n); } catch (e) { return String(n); }
  }

  // -- the panel (in a shadow root, so neither the page's styles nor ours leak) --------------
  var host = document.createElement("div");
  host.setAttribute("data-liveloop", "");
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  root.innerHTML =
    "<style>" +
    ".p{position:fixed;bottom:16px;" + side + ":16px;z-index:2147483000;width:260px;max-width:calc(100vw - 32px);" +
    "font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#111;background:#fff;" +
    "border-radius:12px;box-shadow:0 6px 24px rgba(0,0,0,.18);overflow:hidden}" +
    ".m{max-height:160px;overflow-y:auto;margin:0;padding:0;list-style:none}" +
    ".m li{padding:8px 12px;border-bottom:1px solid #eee;animation:f .3s ease-out}" +
    ".m li:empty{display:none}" +
    "button{display:block;width:100%;border:0;padding:12px;font:inherit;font-weight:600;color:#fff;" +
    "background:#e4003a;cursor:pointer}button:focus-visible{outline:3px solid #111;outline-offset:-3px}" +
    // `display:block` above would otherwise show a button without an invite URL (hidden attribute).
    "button[hidden]{display:none}" +
    "@keyframes f{from{opacity:0;transform:translateY(6px)}to{opacity:1;transform:none}}" +
    "@media (prefers-reduced-motion:reduce){.m li{animation:none}}" +
    "</style>" +
    "<div class='p' role='complementary'><ul class='m' aria-live='polite'></ul><button type='button'></button></div>";
  var panel = root.querySelector(".p");
  var list = root.querySelector(".m");
  var button = root.querySelector("button");
  panel.setAttribute("dir", rtl ? "rtl" : "ltr");
  panel.setAttribute("lang", code);
  button.textContent = t["widget.invite"];
  if (!inviteUrl) button.hidden = true;

  function say(text) {
    var item = document.createElement("li");
    item.textContent = text;
    list.insertBefore(item, list.firstChild);
    while (list.children.length > 20) list.removeChild(list.lastChild);
  }

  button.addEventListener("click", function () {
    var data = { title: shareTitle, url: inviteUrl };
    if (navigator.share && (!navigator.canShare || navigator.canShare(data))) {
      navigator.share(data).catch(function () { /* the viewer closed the share sheet */ });
    } else if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(inviteUrl).then(function () { say(t["widget.copied"]); }, function () { prompt("", inviteUrl); });
    } else {
      prompt("", inviteUrl);
    }
  });

  function friendName(friend) {
    return (friend && (friend.display_name || null)) || t["stream.friend_unknown"];
  }

  // The server writes each message in the viewer's language (`text`); the table covers a message without one.
  function show(msg) {
    if (typeof msg.text === "string" && msg.text) { say(msg.text); return; }
    switch (msg.type) {
      case "friend_clicked":
      case "friend_reserved":
      case "friend_joined": say(fmt(t["stream." + msg.type], { name: friendName(msg.friend) })); break;
      case "rank": if (msg.rank) say(fmt(t["stream.rank"], { rank: num(msg.rank) })); break;
      case "draw_entered": say(t["widget.draw_entered"]); break;
      case "draw_won": say(t["widget.draw_won"]); break;
      default: break;
    }
  }

  // -- the stream ------------------------------------------------------------------------------
  var source = null;
  var expired = false;
  function expire() {
    if (expired) return;
    expired = true;
    window.dispatchEvent(new CustomEvent("liveloop:token-expired"));
  }

  var retryTimer = null;
  var failures = 0;

  function open() {
    clearTimeout(retryTimer);
    if (source) source.close();
    source = null;
    if (!token || !window.EventSource) return;
    var url = api + "/v1/stream?token=" + encodeURIComponent(token);
    var es = new EventSource(url);
    es.onopen = function () { failures = 0; };
    es.onmessage = function (e) {
      var msg;
      try { msg = JSON.parse(e.data); } catch (err) { return; }
      window.dispatchEvent(new CustomEvent("liveloop:message", { detail: msg }));
      show(msg);
    };
    es.onerror = function () {
      // The browser retries dropped connections itself; a refused one stays closed without saying why.
      if (es.readyState === EventSource.CLOSED && source === es) whyRefused(url, es);
    };
    source = es;
  }

  // One request to learn the refusal's status: an expired token (401) needs a fresh one from the page,
  // a limit (429) passes after its Retry-After, anything else is retried later and later (at most 60 s).
  function whyRefused(url, es) {
    var abort = window.AbortController ? new AbortController() : null;
    fetch(url, { mode: "cors", cache: "no-store", signal: abort ? abort.signal : undefined }).then(function (res) {
      if (abort) abort.abort();  // an answer that is a stream after all is not kept: the EventSource reopens
      if (source !== es) return;  // a new token was handed over meanwhile
      if (res.status === 401 || res.status === 403) expire();
      else if (res.status === 429) reopen(retryAfter(res.headers.get("retry-after")) || 5);
      else if (res.ok) reopen(1);
      else reopen(backoff());
    }, function () { if (source === es) reopen(backoff()); });
  }

  function backoff() {
    failures += 1;
    return Math.min(60, Math.pow(2, failures));
  }

  function retryAfter(value) {
    if (!value) return 0;
    var seconds = Number(value);
    if (!isNaN(seconds)) return Math.max(1, seconds);
    var at = Date.parse(value);
    return isNaN(at) ? 0 : Math.max(1, (at - Date.now()) / 1000);
  }

  function reopen(seconds) {
    if (source) source.close();
    source = null;
    clearTimeout(retryTimer);
    // Up to a fifth later, so that the viewers refused together do not all come back together.
    retryTimer = setTimeout(open, seconds * (1 + Math.random() / 5) * 1000);
  }

  // -- presence ----------------------------------------------------------------------------------
  var timer = null;
  function schedule(seconds) {
    clearTimeout(timer);
    timer = setTimeout(beat, (seconds || 30) * 1000);
  }

  function beat() {
    clearTimeout(timer);
    if (!token || expired) return;
    // text/plain keeps it a "simple" cross-origin request: no preflight for every beat.
    fetch(api + "/v1/presence", {
      method: "POST", mode: "cors", keepalive: true, headers: { "content-type": "text/plain" },
      body: JSON.stringify(ref ? { token: token, ref: ref } : { token: token })
    }).then(function (res) {
      if (res.status === 401) { expire(); return undefined; }
      return res.ok ? res.json() : null;
    }).then(function (body) {
      if (body !== undefined) schedule(body && body.next_beat_seconds);
    }, function () { schedule(30); });
  }

  window.liveloop = {
    setToken: function (next) { token = next || ""; expired = false; open(); beat(); },
    setInviteUrl: function (url) { inviteUrl = url || ""; button.hidden = !inviteUrl; },
    say: say
  };

  function start() {
    document.body.appendChild(host);
    open();
    beat();
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
