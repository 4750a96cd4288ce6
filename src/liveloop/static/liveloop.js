/* liveloop viewer widget: one line on the live page.
 *
 *   <script src="https://LIVELOOP/widget/liveloop.js" data-token="VIEWER_TOKEN"
 *           data-invite-url="https://LIVELOOP/s/CODE" async></script>
 *
 * Optional attributes: data-lang (default: the page's lang), data-title (share text),
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

  var T = {
    en: { invite: "Invite friends", copied: "Link copied", friend: "A friend", clicked: "{n} opened your invite",
      reserved: "{n} reserved a seat", joined: "{n} joined the live", rank: "You are #{r} ({s})",
      reward: "You earned a reward: {w}", entered: "You are in the draw", won: "You won the draw!" },
    id: { invite: "Undang teman", copied: "Tautan disalin", friend: "Seorang teman", clicked: "{n} membuka undanganmu",
      reserved: "{n} memesan tempat", joined: "{n} bergabung ke live", rank: "Kamu peringkat #{r} ({s})",
      reward: "Kamu dapat hadiah: {w}", entered: "Kamu ikut undian", won: "Kamu menang undian!" },
    ms: { invite: "Jemput rakan", copied: "Pautan disalin", friend: "Seorang rakan", clicked: "{n} membuka jemputan anda",
      reserved: "{n} menempah tempat", joined: "{n} menyertai siaran langsung", rank: "Anda di tempat #{r} ({s})",
      reward: "Anda menerima ganjaran: {w}", entered: "Anda menyertai cabutan", won: "Anda memenangi cabutan!" },
    th: { invite: "ชวนเพื่อน", copied: "คัดลอกลิงก์แล้ว", friend: "เพื่อนคนหนึ่ง", clicked: "{n} เปิดคำเชิญของคุณ",
      reserved: "{n} จองที่นั่งแล้ว", joined: "{n} เข้าร่วมไลฟ์แล้ว", rank: "คุณอยู่อันดับ #{r} ({s})",
      reward: "คุณได้รับรางวัล: {w}", entered: "คุณได้สิทธิ์ลุ้นรางวัลแล้ว", won: "คุณชนะการจับรางวัล!" },
    vi: { invite: "Mời bạn bè", copied: "Đã sao chép liên kết", friend: "Một người bạn", clicked: "{n} đã mở lời mời của bạn",
      reserved: "{n} đã đặt chỗ", joined: "{n} đã vào buổi live", rank: "Bạn đang hạng #{r} ({s})",
      reward: "Bạn nhận được phần thưởng: {w}", entered: "Bạn đã tham gia bốc thăm", won: "Bạn đã trúng thưởng!" },
    fil: { invite: "Mag-imbita ng kaibigan", copied: "Nakopya ang link", friend: "Isang kaibigan",
      clicked: "Binuksan ni {n} ang imbitasyon mo", reserved: "Nagpareserba si {n}", joined: "Sumali si {n} sa live",
      rank: "Ikaw ay #{r} ({s})", reward: "Nakakuha ka ng gantimpala: {w}", entered: "Kasali ka na sa draw",
      won: "Nanalo ka sa draw!" },
    ar: { invite: "ادعُ أصدقاءك", copied: "تم نسخ الرابط", friend: "صديق", clicked: "فتح {n} دعوتك",
      reserved: "حجز {n} مقعدًا", joined: "انضم {n} إلى البث المباشر", rank: "ترتيبك #{r} ({s})",
      reward: "حصلت على مكافأة: {w}", entered: "أنت مشارك في السحب", won: "لقد فزت في السحب!" },
    de: { invite: "Freunde einladen", copied: "Link kopiert", friend: "Ein Freund", clicked: "{n} hat deine Einladung geöffnet",
      reserved: "{n} hat einen Platz reserviert", joined: "{n} ist dem Live beigetreten", rank: "Du bist auf Platz {r} ({s})",
      reward: "Du hast eine Belohnung erhalten: {w}", entered: "Du nimmst an der Verlosung teil",
      won: "Du hast die Verlosung gewonnen!" },
    fr: { invite: "Inviter des amis", copied: "Lien copié", friend: "Un ami", clicked: "{n} a ouvert ton invitation",
      reserved: "{n} a réservé une place", joined: "{n} a rejoint le live", rank: "Tu es n°{r} ({s})",
      reward: "Tu as gagné une récompense : {w}", entered: "Tu participes au tirage", won: "Tu as gagné le tirage !" },
    es: { invite: "Invitar amigos", copied: "Enlace copiado", friend: "Un amigo", clicked: "{n} abrió tu invitación",
      reserved: "{n} reservó un lugar", joined: "{n} se unió al directo", rank: "Vas en el puesto #{r} ({s})",
      reward: "Ganaste una recompensa: {w}", entered: "Participas en el sorteo", won: "¡Ganaste el sorteo!" },
    zh: { invite: "邀请好友", copied: "链接已复制", friend: "一位好友", clicked: "{n}打开了你的邀请",
      reserved: "{n}预约了直播", joined: "{n}进入了直播间", rank: "你排名第{r}位（{s}）",
      reward: "你获得了奖励：{w}", entered: "你已参与抽奖", won: "你中奖了！" }
  };
  var base = lang.split(/[-_]/)[0];
  var t = T[lang] || T[base === "tl" ? "fil" : base] || T.en;
  var rtl = base === "ar" || document.documentElement.dir === "rtl";

  function fmt(text, values) {
    return text.replace(/\{(\w)\}/g, function (_m, k) { return values[k] == null ? "" : String(values[k]); });
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
    "@keyframes f{from{opacity:0;transform:translateY(6px)}to{opacity:1;transform:none}}" +
    "@media (prefers-reduced-motion:reduce){.m li{animation:none}}" +
    "</style>" +
    "<div class='p' role='complementary'><ul class='m' aria-live='polite'></ul><button type='button'></button></div>";
  var panel = root.querySelector(".p");
  var list = root.querySelector(".m");
  var button = root.querySelector("button");
  panel.setAttribute("dir", rtl ? "rtl" : "ltr");
  panel.setAttribute("lang", t === T.en ? "en" : base);
  button.textContent = t.invite;
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
      navigator.clipboard.writeText(inviteUrl).then(function () { say(t.copied); }, function () { prompt("", inviteUrl); });
    } else {
      prompt("", inviteUrl);
    }
  });

  function friendName(friend) {
    return (friend && (friend.display_name || null)) || t.friend;
  }

  function rewardText(r) {
    if (!r) return "";
    if (r.amount) return r.amount + " " + (r.currency || "") + (r.kind === "cashback" ? " cashback" : "");
    if (r.percent_off) return r.percent_off + "%";
    if (r.points) return r.points + " pts";
    return r.name || r.sku || r.content || r.kind;
  }

  function show(msg) {
    switch (msg.type) {
      case "friend_clicked": say(fmt(t.clicked, { n: friendName(msg.friend) })); break;
      case "friend_reserved": say(fmt(t.reserved, { n: friendName(msg.friend) })); break;
      case "friend_joined": say(fmt(t.joined, { n: friendName(msg.friend) })); break;
      case "rank": if (msg.rank) say(fmt(t.rank, { r: msg.rank, s: msg.score })); break;
      case "reward":
        if (msg.reward && (msg.reward.status === "available" || msg.reward.status === "pending")) {
          say(fmt(t.reward, { w: rewardText(msg.reward) }));
        }
        break;
      case "draw_entered": say(t.entered); break;
      case "draw_won": say(t.won); break;
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
