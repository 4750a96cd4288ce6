/* liveloop viewer widget: one line on the live page.
 *
 *   <script src="https://LIVELOOP/widget/liveloop.js" data-token="VIEWER_TOKEN"
 *           data-invite-url="https://LIVELOOP/s/CODE" async></script>
 *
 * Optional attributes: data-lang (the widget's own words; default: the page's lang), data-title (share text),
 * data-position ("left" or "right", default "right"), data-api (default: where this script came from).
 * It sends a presence beat every 30 s, listens to the viewer's stream and shows a small panel with
 * the viewer's rank, progress to the next milestone, rewards, draw entries and group buys (GET
 * /v1/viewer/progress, read again when the stream brings news of them; a group's progress follows its
 * `group_progress` messages), the flash deals the stream announces or the standing lists (until they
 * end), what the viewer's friends did, a box to ask the host a question (POST /v1/questions), and an
 * invite button:
 * the browser's Web Share sheet, else the market's apps (WhatsApp, LINE, Telegram, Facebook, X, copy).
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
  // Reading order = focus order: the viewer's standing, the news (announced politely to screen
  // readers as it arrives), then the invite button and its share sheet.
  var host = document.createElement("div");
  host.setAttribute("data-liveloop", "");
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  root.innerHTML =
    "<style>" +
    ".p{position:fixed;bottom:16px;" + side + ":16px;z-index:2147483000;width:280px;max-width:calc(100vw - 32px);" +
    "max-height:calc(100vh - 32px);overflow-y:auto;" +
    "font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','Noto Sans Arabic',sans-serif;color:#111;" +
    "background:#fff;border-radius:12px;box-shadow:0 6px 24px rgba(0,0,0,.18);overflow-x:hidden}" +
    ".st{padding:10px 12px;border-bottom:1px solid #eee;background:#fafafa}.st[hidden]{display:none}" +
    ".st p{margin:0 0 4px}.rk{font-weight:700}.lbl{color:#555;font-size:12px;margin:6px 0 2px}" +
    ".bar{height:8px;border-radius:4px;background:#eee;overflow:hidden}" +
    ".bar i{display:block;height:100%;width:0;background:#e4003a;transition:width .4s}" +
    ".rw{margin:2px 0 0;padding:0;list-style:none;font-size:13px}.rw li{margin:2px 0}.rw small{color:#666}" +
    ".m{max-height:140px;overflow-y:auto;margin:0;padding:0;list-style:none}" +
    ".m li{padding:8px 12px;border-bottom:1px solid #eee;animation:f .3s ease-out}" +
    ".m li:empty{display:none}" +
    ".inv{display:block;width:100%;border:0;padding:12px;font:inherit;font-weight:600;color:#fff;" +
    "background:#e4003a;cursor:pointer}" +
    "button:focus-visible,a:focus-visible{outline:3px solid #111;outline-offset:-3px}" +
    // `display:block` above would otherwise show a button without an invite URL (hidden attribute).
    ".inv[hidden],.sh[hidden],.st [hidden]{display:none}" +
    ".sh{padding:8px 12px 12px;border-top:1px solid #eee}.sh p{margin:0 0 6px;font-weight:600}" +
    ".ap{display:grid;grid-template-columns:1fr 1fr;gap:6px}" +
    ".ap a,.ap button{display:block;padding:8px;border:1px solid #ddd;border-radius:8px;background:#fff;color:#111;" +
    "font:inherit;text-align:center;text-decoration:none;cursor:pointer}" +
    ".cl{margin-top:6px;width:100%;padding:6px;border:0;background:none;color:#555;font:inherit;cursor:pointer}" +
    ".fl{margin:0;padding:0;list-style:none}.fl li{padding:10px 12px;background:#fff4d6;border-bottom:1px solid #f0d98a}" +
    ".fl b{display:block;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#8a5a00}" +
    ".fl .tt{display:block;font-weight:700;font-size:15px;overflow-wrap:anywhere}.fl small{color:#5c4400}" +
    ".gp{padding:10px 12px;border-bottom:1px solid #eee}.gp[hidden]{display:none}.gp ul{margin:0;padding:0;list-style:none}" +
    ".gp p{margin:0 0 4px}.gp .gm{font-weight:600}.gp .gt{margin:4px 0 0}" +
    ".gp li+li{margin-top:8px}.gp .gb{margin:6px 0 0;padding:6px 10px;border:1px solid #e4003a;border-radius:8px;" +
    "background:#fff;color:#e4003a;font:inherit;font-weight:600;cursor:pointer}" +
    ".q{display:flex;flex-wrap:wrap;gap:6px;padding:10px 12px;border-top:1px solid #eee}" +
    ".q label{flex-basis:100%;font-size:12px;color:#555}" +
    ".q input{flex:1;min-width:0;padding:7px 8px;border:1px solid #bbb;border-radius:8px;font:inherit}" +
    ".q input[aria-invalid=true]{border-color:#b00020}" +
    ".q button{padding:7px 12px;border:0;border-radius:8px;background:#111;color:#fff;font:inherit;cursor:pointer}" +
    ".q button:disabled{opacity:.6;cursor:default}" +
    ".qs{flex-basis:100%;margin:0;font-size:12px;color:#1b5e20}.qs.er{color:#b00020}.qs:empty{display:none}" +
    "input:focus-visible{outline:3px solid #111;outline-offset:1px}" +
    "@keyframes f{from{opacity:0;transform:translateY(6px)}to{opacity:1;transform:none}}" +
    "@media (prefers-reduced-motion:reduce){.m li{animation:none}.bar i{transition:none}}" +
    "</style>" +
    "<div class='p' role='complementary'>" +
    "<ul class='fl' role='region' hidden></ul>" +
    "<div class='st' hidden><p class='rk'></p>" +
    "<div class='ms' hidden><p class='lbl nr'></p><div class='bar' role='progressbar' aria-valuemin='0'><i></i></div>" +
    "<p class='lbl pg'></p></div>" +
    "<div class='rws' hidden><p class='lbl rh'></p><ul class='rw'></ul></div>" +
    "<p class='lbl dr' hidden></p></div>" +
    "<div class='gp' role='region' hidden><p class='lbl gh'></p><ul></ul></div>" +
    "<ul class='m' aria-live='polite'></ul>" +
    "<form class='q' novalidate><label for='liveloop-ask'></label><input id='liveloop-ask' name='text' " +
    "autocomplete='off' aria-describedby='liveloop-ask-status'><button type='submit'></button>" +
    "<p class='qs' id='liveloop-ask-status' role='status' aria-live='polite'></p></form>" +
    "<button type='button' class='inv' aria-expanded='false'></button>" +
    "<div class='sh' role='group' hidden><p></p><div class='ap'></div><button type='button' class='cl'></button></div>" +
    "</div>";
  var panel = root.querySelector(".p");
  var list = root.querySelector(".m");
  var button = root.querySelector(".inv");
  var sheet = root.querySelector(".sh");
  var apps = root.querySelector(".ap");
  var standing = root.querySelector(".st");
  panel.setAttribute("dir", rtl ? "rtl" : "ltr");
  panel.setAttribute("lang", code);
  panel.setAttribute("aria-label", t["widget.invite"]);
  button.textContent = t["widget.invite"];
  sheet.id = "liveloop-share";
  button.setAttribute("aria-controls", sheet.id);
  sheet.querySelector("p").textContent = t["widget.share_with"];
  sheet.querySelector("p").id = "liveloop-share-label";
  sheet.setAttribute("aria-labelledby", "liveloop-share-label");
  sheet.querySelector(".cl").textContent = t["widget.close"];
  root.querySelector(".rh").textContent = t["widget.rewards"];
  root.querySelector(".gh").textContent = t["widget.group_title"];
  root.querySelector(".gp").setAttribute("aria-label", t["widget.group_title"]);
  root.querySelector(".fl").setAttribute("aria-label", t["widget.flash_title"]);
  root.querySelector(".q label").textContent = t["widget.ask_label"];
  root.querySelector(".q button").textContent = t["widget.ask_send"];
  if (!inviteUrl) button.hidden = true;

  function say(text) {
    var item = document.createElement("li");
    item.textContent = text;
    list.insertBefore(item, list.firstChild);
    while (list.children.length > 20) list.removeChild(list.lastChild);
  }

  // -- the viewer's standing (GET /v1/viewer/progress): rank, next milestone, rewards, draws -----
  var market = { apps: ["whatsapp", "facebook", "x", "telegram", "line", "copy"] };
  function render(s) {
    root.querySelector(".rk").textContent = s.rank ? fmt(t["widget.your_rank"], { rank: num(s.rank) })
      : t["widget.not_ranked"];
    var ms = root.querySelector(".ms");
    var next = s.next_milestone;
    ms.hidden = !next;
    if (next) {
      var target = Number(next.at), current = Math.max(0, target - Number(next.remaining));
      root.querySelector(".nr").textContent = fmt(t["widget.next_reward"], { reward: next.reward_text });
      var bar = root.querySelector(".bar");
      bar.setAttribute("aria-valuemax", String(target));
      bar.setAttribute("aria-valuenow", String(current));
      bar.setAttribute("aria-label", fmt(t["widget.next_reward"], { reward: next.reward_text }));
      bar.querySelector("i").style.width = Math.round(Math.min(1, Math.max(0, next.done)) * 100) + "%";
      root.querySelector(".pg").textContent = fmt(t["widget.progress"], { current: num(current), target: num(target) });
    }
    var rws = root.querySelector(".rws"), rw = root.querySelector(".rw");
    rws.hidden = !s.rewards.length;
    while (rw.firstChild) rw.removeChild(rw.firstChild);
    // The same reward earned several times is one line: "a $5 coupon × 3".
    var seen = {}, lines = [];
    s.rewards.forEach(function (r) {
      var key = r.status + "\n" + r.text;
      if (seen[key]) { seen[key].n += 1; return; }
      seen[key] = { text: r.text, status: r.status, n: 1 };
      lines.push(seen[key]);
    });
    lines.forEach(function (r) {
      var li = document.createElement("li");
      li.textContent = r.n > 1 ? r.text + " \u00d7 " + num(r.n) : r.text;
      if (r.status === "pending") {
        var small = document.createElement("small");
        small.textContent = " · " + t["widget.pending"];
        li.appendChild(small);
      }
      rw.appendChild(li);
    });
    var dr = root.querySelector(".dr");
    var entered = s.draws.filter(function (d) { return d.entered; }).length;
    dr.hidden = !s.draws.length;
    dr.textContent = fmt(t["widget.draws"], { entered: num(entered), total: num(s.draws.length) });
    if (s.share_apps && s.share_apps.length) market.apps = s.share_apps;
    if (s.groups) standingGroups(s.groups);
    // A deal announced before this page opened (or while its stream was away) is shown too.
    if (s.flash_deals) s.flash_deals.forEach(flashDeal);
    standing.hidden = false;
  }

  var refreshing = null;
  function refresh(delay) {
    clearTimeout(refreshing);
    refreshing = setTimeout(function () {
      if (!token || expired) return;
      fetch(api + "/v1/viewer/progress?token=" + encodeURIComponent(token), { mode: "cors" })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (body) { if (body) render(body); }, function () { /* shown again at the next message */ });
    }, delay || 0);
  }

  // -- inviting: the Web Share sheet where the browser has one, else the market's apps ------------
  var APP_NAMES = { whatsapp: "WhatsApp", line: "LINE", telegram: "Telegram", facebook: "Facebook", x: "X" };
  var sharing = "";  // the link the sheet shares: the viewer's invite, or one of their groups' links
  function appUrl(app) {
    var u = encodeURIComponent(sharing), both = encodeURIComponent(shareTitle + " " + sharing);
    switch (app) {
      case "whatsapp": return "https://wa.me/?text=" + both;
      case "line": return "https://line.me/R/share?text=" + both;
      case "telegram": return "https://t.me/share/url?url=" + u + "&text=" + encodeURIComponent(shareTitle);
      case "facebook": return "https://www.facebook.com/sharer/sharer.php?u=" + u;
      case "x": return "https://x.com/intent/post?text=" + encodeURIComponent(shareTitle) + "&url=" + u;
      default: return null;
    }
  }

  function copy() {
    var url = sharing;
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(url).then(function () { say(t["widget.copied"]); },
        function () { prompt("", url); });
    } else {
      prompt("", url);
    }
  }

  var opener = button;  // the button that opened the sheet gets the focus back
  function closeSheet(focusButton) {
    sheet.hidden = true;
    opener.setAttribute("aria-expanded", "false");
    if (focusButton) opener.focus();
  }

  function openSheet(url, from) {
    if (!sheet.hidden) closeSheet(false);
    sharing = url;
    opener = from;
    while (apps.firstChild) apps.removeChild(apps.firstChild);
    market.apps.forEach(function (app) {
      var item;
      if (app === "copy") {
        item = document.createElement("button");
        item.type = "button";
        item.textContent = t["widget.copy_link"];
        item.addEventListener("click", function () { copy(); closeSheet(true); });
      } else {
        var href = appUrl(app);
        if (!href) return;
        item = document.createElement("a");
        item.href = href;
        item.target = "_blank";
        item.rel = "noopener noreferrer";
        item.textContent = APP_NAMES[app];
        item.addEventListener("click", function () { closeSheet(false); });
      }
      item.setAttribute("data-app", app);
      apps.appendChild(item);
    });
    sheet.hidden = false;
    from.setAttribute("aria-expanded", "true");
    if (apps.firstChild) apps.firstChild.focus();
  }

  // The invite button and each group's share button: the Web Share sheet, else ours (a second press closes it).
  function share(url, from) {
    var data = { title: shareTitle, url: url };
    if (navigator.share && (!navigator.canShare || navigator.canShare(data))) {
      navigator.share(data).catch(function () { /* the viewer closed the share sheet */ });
    } else if (sheet.hidden || opener !== from) {
      openSheet(url, from);
    } else {
      closeSheet(true);
    }
  }

  sheet.querySelector(".cl").addEventListener("click", function () { closeSheet(true); });
  sheet.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { e.preventDefault(); closeSheet(true); }
  });

  button.addEventListener("click", function () { share(inviteUrl, button); });

  // -- countdowns (group buys, flash deals): one timer while anything counts down -------------------
  function clock(ms) {
    var s = Math.max(0, Math.ceil(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    var two = function (n) {
      try { return new Intl.NumberFormat(code, { minimumIntegerDigits: 2 }).format(n); } catch (e) { return (n < 10 ? "0" : "") + n; }
    };
    return (h ? num(h) + ":" + two(m) : num(m)) + ":" + two(s % 60);
  }

  var ticking = null;
  function tick() {
    var more = tickDeals() | tickGroups();  // both, always: each updates its own countdowns
    clearTimeout(ticking);
    ticking = more ? setTimeout(tick, 1000 - (Date.now() % 1000)) : null;
  }

  // -- group buys: the viewer's groups from the standing, kept current by `group_progress` -----------
  var groups = {};  // group_id -> {group_id, members, group_size, expires_at, status, url}
  var groupBox = root.querySelector(".gp");
  var groupList = groupBox.querySelector("ul");

  function standingGroups(open) {
    var listed = {};
    open.forEach(function (g) { listed[g.group_id] = true; groups[g.group_id] = g; });
    // An open group the standing no longer lists has ended without its message reaching us: gone.
    Object.keys(groups).forEach(function (id) {
      if (!listed[id] && groups[id].status === "open") delete groups[id];
    });
    drawGroups();
  }

  function groupProgress(msg) {
    var known = groups[msg.group_id] || {};
    groups[msg.group_id] = {
      group_id: msg.group_id, members: msg.members || [], group_size: msg.group_size, expires_at: msg.expires_at,
      status: msg.status || "open", url: known.url || api + "/s/" + encodeURIComponent(msg.group_id)
    };
    drawGroups();
  }

  // Each group's line is made once and updated in place, so that a share button keeps its focus (and
  // stays the sheet's opener) while members join; the countdowns are updated by tickGroups.
  function groupLine(id) {
    var li = groupList.querySelector("[data-group='" + CSS.escape(id) + "']");
    if (li) return li;
    li = document.createElement("li");
    li.setAttribute("data-group", id);
    li.appendChild(document.createElement("p")).className = "gm";
    var bar = li.appendChild(document.createElement("div"));
    bar.className = "bar";
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-label", t["widget.group_title"]);
    bar.appendChild(document.createElement("i"));
    li.appendChild(document.createElement("p")).className = "lbl gt";
    var link = li.appendChild(document.createElement("button"));
    link.type = "button";
    link.className = "gb";
    link.textContent = t["widget.group_share"];
    link.setAttribute("aria-expanded", "false");
    link.setAttribute("aria-controls", sheet.id);
    link.addEventListener("click", function () { if (groups[id]) share(groups[id].url, link); });
    groupList.appendChild(li);
    return li;
  }

  function drawGroups() {
    Array.prototype.slice.call(groupList.children).forEach(function (li) {
      if (!groups[li.getAttribute("data-group")]) groupList.removeChild(li);
    });
    Object.keys(groups).sort(function (a, b) {
      return String(groups[a].expires_at).localeCompare(String(groups[b].expires_at));
    }).forEach(function (id) {
      var g = groups[id], size = Number(g.group_size) || 0, members = g.members.length, li = groupLine(id);
      li.querySelector(".gm").textContent = fmt(t["widget.group_members"], { members: num(members), size: num(size) });
      var bar = li.querySelector(".bar");
      bar.setAttribute("aria-valuemax", String(size));
      bar.setAttribute("aria-valuenow", String(members));
      bar.querySelector("i").style.width = (size ? Math.round(Math.min(1, members / size) * 100) : 0) + "%";
      var link = li.querySelector(".gb");
      if (g.status !== "open") {
        li.querySelector(".gt").textContent =
          t[g.status === "completed" ? "widget.group_completed" : "widget.group_failed"];
        if (link) {
          if (opener === link && !sheet.hidden) closeSheet(false);
          li.removeChild(link);
        }
      }
    });
    groupBox.hidden = !groupList.children.length;
    tick();
  }

  function tickGroups() {
    var counting = false;
    Array.prototype.forEach.call(groupList.children, function (li) {
      var g = groups[li.getAttribute("data-group")];
      if (!g || g.status !== "open") return;
      var left = Date.parse(g.expires_at) - Date.now();
      li.querySelector(".gt").textContent = fmt(t["widget.group_time_left"], { time: clock(left) });
      counting = counting || left > 0;
    });
    return counting;
  }

  // -- flash deals: shown from the stream's `flash_deal` (early for early_notice holders) to their end --
  var deals = {};  // id -> {title, starts, ends (ms or null), early}
  var dealList = root.querySelector(".fl");

  function flashDeal(msg) {
    var ends = msg.ends_at ? Date.parse(msg.ends_at) : null;
    if (ends !== null && ends <= Date.now()) return;
    var fresh = !deals[msg.id];
    deals[msg.id] = { title: String(msg.title || ""), starts: Date.parse(msg.starts_at), ends: ends,
                      early: msg.phase === "early" };
    var li = dealList.querySelector("[data-deal='" + CSS.escape(msg.id) + "']");
    if (!li) {
      li = document.createElement("li");
      li.setAttribute("data-deal", msg.id);
      li.appendChild(document.createElement("b"));
      li.appendChild(document.createElement("span")).className = "tt";
      li.appendChild(document.createElement("small"));
      dealList.insertBefore(li, dealList.firstChild);
    }
    var deal = deals[msg.id];
    li.querySelector("b").textContent = t["widget.flash_title"] + (deal.early ? " \u00b7 " + t["widget.flash_early"] : "");
    li.querySelector(".tt").textContent = deal.title;
    dealList.hidden = false;
    if (fresh) say(fmt(t["widget.flash_news"], { title: deal.title }));
    tick();
  }

  function tickDeals() {
    var now = Date.now(), counting = false;
    Object.keys(deals).forEach(function (id) {
      var deal = deals[id], li = dealList.querySelector("[data-deal='" + CSS.escape(id) + "']");
      if (deal.ends !== null && now >= deal.ends) {  // it ended: taken down
        delete deals[id];
        if (li) dealList.removeChild(li);
        return;
      }
      var line = now < deal.starts ? fmt(t["widget.flash_starts"], { time: clock(deal.starts - now) })
        : deal.ends !== null ? fmt(t["widget.flash_ends"], { time: clock(deal.ends - now) }) : "";
      if (li) li.querySelector("small").textContent = line;
      counting = counting || now < deal.starts || deal.ends !== null;
    });
    dealList.hidden = !dealList.children.length;
    return counting;
  }

  // -- asking the host a question (POST /v1/questions with the viewer token) ------------------------
  var form = root.querySelector(".q");
  var askBox = form.querySelector("input");
  var askButton = form.querySelector("button");
  var askStatus = form.querySelector(".qs");
  var MAX_QUESTION = 2000;  // the API refuses 2,000 characters or more

  function asked(text, isError) {
    askStatus.textContent = text;
    askStatus.className = isError ? "qs er" : "qs";
    if (isError) askBox.setAttribute("aria-invalid", "true"); else askBox.removeAttribute("aria-invalid");
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (askButton.disabled) return;
    if (!token || expired) { asked(t["widget.ask_failed"], true); return; }
    var text = askBox.value;
    askButton.disabled = true;
    asked("", false);
    fetch(api + "/v1/questions", {
      method: "POST", mode: "cors", headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: token, text: text })
    }).then(function (res) {
      if (res.ok) {
        askBox.value = "";
        asked(t["widget.ask_sent"], false);
      } else if (res.status === 401 || res.status === 403) {
        asked(t["widget.ask_failed"], true);
        expire();
      } else if (res.status === 422) {
        // The API says what is wrong with the text; the viewer reads it in their own words.
        asked(!text.trim() ? t["widget.ask_empty"]
          : text.length >= MAX_QUESTION ? fmt(t["widget.ask_too_long"], { max: num(MAX_QUESTION) })
          : t["widget.ask_failed"], true);
      } else {
        asked(t["widget.ask_failed"], true);
      }
    }, function () { asked(t["widget.ask_failed"], true); }).then(function () {
      askButton.disabled = false;
      if (askStatus.className !== "qs") askBox.focus();
    });
  });
  askBox.addEventListener("input", function () { if (askBox.hasAttribute("aria-invalid")) asked("", false); });

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
      if (msg.type === "group_progress") groupProgress(msg);
      else if (msg.type === "flash_deal") flashDeal(msg);
      show(msg);
      // The viewer's standing moved: read it again (once for a burst of messages).
      if (msg.type === "rank" || msg.type === "reward" || msg.type === "draw_entered" || msg.type === "draw_won" ||
          msg.type === "group_progress") {
        refresh(300);
      }
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
    setToken: function (next) { token = next || ""; expired = false; open(); beat(); refresh(); },
    setInviteUrl: function (url) {
      inviteUrl = url || "";
      button.hidden = !inviteUrl;
      if (!inviteUrl && opener === button) closeSheet(false);
    },
    say: say
  };

  function start() {
    document.body.appendChild(host);
    open();
    beat();
    refresh();
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
