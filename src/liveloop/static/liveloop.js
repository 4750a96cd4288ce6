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
 * `window.liveloop.setToken(token)`.
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

  function open() {
    if (source) source.close();
    source = null;
    if (!token || !window.EventSource) return;
    var es = new EventSource(api + "/v1/stream?token=" + encodeURIComponent(token));
    es.onmessage = function (e) {
      var msg;
      try { msg = JSON.parse(e.data); } catch (err) { return; }
      window.dispatchEvent(new CustomEvent("liveloop:message", { detail: msg }));
      show(msg);
    };
    es.onerror = function () {
      // The browser retries dropped connections itself; a refused one (expired token) stays closed.
      if (es.readyState === EventSource.CLOSED) expire();
    };
    source = es;
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
