// The report's charts: their data is in the page (a JSON block), drawn by Chart.js.
(function () {
  "use strict";
  var source = document.getElementById("report-charts");
  if (!source) return;
  var charts = JSON.parse(source.textContent);
  var lang = document.documentElement.lang;
  var rtl = document.documentElement.dir === "rtl";
  var colours = ["#2454d6", "#93a9f0"];
  new Chart(document.getElementById("report-funnel"), {
    type: "bar",
    data: {labels: charts.funnel.labels, datasets: charts.funnel.series.map(function (s, i) {
      return {label: s.label, data: s.data, backgroundColor: colours[i]};
    })},
    options: {animation: false, maintainAspectRatio: false, locale: lang,
              plugins: {legend: {rtl: rtl}, tooltip: {rtl: rtl}},
              scales: {x: {stacked: true, reverse: rtl}, y: {stacked: true, beginAtZero: true, ticks: {precision: 0},
                                                               position: rtl ? "right" : "left"}}}
  });
  new Chart(document.getElementById("report-rewards"), {
    type: "doughnut",
    data: {labels: charts.rewards.labels,
           datasets: [{data: charts.rewards.data, backgroundColor: ["#067647", "#f79009", "#b42318", "#98a2b3"]}]},
    options: {animation: false, maintainAspectRatio: false, locale: lang,
              plugins: {legend: {rtl: rtl, position: "bottom"}, tooltip: {rtl: rtl}}}
  });
})();

// The room view: the room stream's snapshots (read through htmx's SSE extension) drawn into the page.
// Every text that comes from users (display names) is set with textContent, never as HTML, and the
// extension's swap is cancelled: the stream's JSON never becomes markup.
(function () {
  "use strict";
  var root = document.getElementById("room");
  if (!root) return;
  var texts = JSON.parse(document.getElementById("room-texts").textContent);
  var seed = JSON.parse(document.getElementById("room-seed").textContent);
  var lang = document.documentElement.lang;
  var rtl = document.documentElement.dir === "rtl";
  var numbers = new Intl.NumberFormat(lang);
  var statusEl = document.getElementById("room-status");
  var MINUTE = 60000;

  function status(state) {
    statusEl.dataset.state = state;
    statusEl.textContent = texts["room.status." + state];
  }

  function cell(text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  // -- joins per minute: the log's last minutes, then the growth of the joins counter as it comes --
  var minutes = [];
  for (var i = 0; i < seed.minutes; i++) {
    var start = seed.since + i * MINUTE;
    minutes.push({start: start, joins: seed.joins[String(start)] || 0});
  }
  var timeFormat = new Intl.DateTimeFormat(lang, {hour: "2-digit", minute: "2-digit"});
  function minuteFor(now) {
    var start = Math.floor(now / MINUTE) * MINUTE;
    var last = minutes[minutes.length - 1];
    while (last.start < start) {
      last = {start: last.start + MINUTE, joins: 0};
      minutes.push(last);
      if (minutes.length > seed.minutes) minutes.shift();
    }
    return last;
  }

  var joinsChart = new Chart(document.getElementById("joins-chart"), {
    type: "bar",
    data: {labels: [], datasets: [{label: texts["room.joins_per_minute"], data: [], backgroundColor: "#2454d6"}]},
    options: {animation: false, maintainAspectRatio: false, locale: lang,
              plugins: {legend: {display: false}, tooltip: {rtl: rtl}},
              scales: {x: {reverse: rtl}, y: {beginAtZero: true, ticks: {precision: 0}, position: rtl ? "right" : "left"}}}
  });
  var funnelChart = new Chart(document.getElementById("funnel-chart"), {
    type: "bar",
    data: {labels: [texts["room.clicks"], texts["room.joins"], texts["room.reservations"], texts["room.orders"]],
           datasets: [{data: [0, 0, 0, 0], backgroundColor: ["#93a9f0", "#5b7fe6", "#2454d6", "#163a9c"]}]},
    options: {animation: false, maintainAspectRatio: false, indexAxis: "y", locale: lang,
              plugins: {legend: {display: false}, tooltip: {rtl: rtl}},
              scales: {x: {beginAtZero: true, reverse: rtl, ticks: {precision: 0}}, y: {position: rtl ? "right" : "left"}}}
  });

  // -- K-factor over time: 5-minute points from the log, then the last one moved by the 10-second poll --
  var kPoints = [];
  seed.k.values.forEach(function (value, n) { kPoints.push({start: seed.k.since + n * seed.k.step, value: value}); });
  function kPointFor(now) {
    var start = Math.floor(now / seed.k.step) * seed.k.step;
    var last = kPoints[kPoints.length - 1];
    while (last.start < start) {
      last = {start: last.start + seed.k.step, value: last.value};  // no poll yet: the K-factor as it was
      kPoints.push(last);
      if (kPoints.length > seed.k.points) kPoints.shift();
    }
    return last;
  }
  var kChart = new Chart(document.getElementById("k-chart"), {
    type: "line",
    data: {labels: [], datasets: [{label: texts["room.k_factor"], data: [], borderColor: "#2454d6",
                                   backgroundColor: "#2454d6", spanGaps: true, tension: 0.2}]},
    // A line's end points sit on the chart's edges: room for the newest time's label on the side away
    // from the y axis (the left one in Arabic, where it was cut off).
    options: {animation: false, maintainAspectRatio: false, locale: lang,
              layout: {padding: rtl ? {left: 20} : {right: 20}},
              plugins: {legend: {display: false}, tooltip: {rtl: rtl}},
              scales: {x: {reverse: rtl}, y: {beginAtZero: true, position: rtl ? "right" : "left"}}}
  });
  var kFactorEl = document.getElementById("k-factor");
  function drawK() {
    var value = parseFloat(kFactorEl.textContent);  // "–" (nobody holds a link) is no point
    kPointFor(Date.now()).value = isNaN(value) ? null : value;
    kChart.data.labels = kPoints.map(function (p) { return timeFormat.format(new Date(p.start)); });
    kChart.data.datasets[0].data = kPoints.map(function (p) { return p.value; });
    kChart.update();
  }
  drawK();
  kFactorEl.addEventListener("htmx:afterSettle", drawK);

  function drawJoins() {
    minuteFor(Date.now());
    joinsChart.data.labels = minutes.map(function (m) { return timeFormat.format(new Date(m.start)); });
    joinsChart.data.datasets[0].data = minutes.map(function (m) { return m.joins; });
    joinsChart.update();
  }
  drawJoins();
  setInterval(drawJoins, 15000);

  // -- snapshots ------------------------------------------------------------------------------------
  var lastJoins = null;

  function room(snapshot) {
    var c = snapshot.counters;
    root.querySelectorAll("[data-counter]").forEach(function (el) {
      var value = c[el.dataset.counter];
      el.textContent = typeof value === "number" ? numbers.format(value) : value;
    });
    if (lastJoins !== null && c.joins > lastJoins) minuteFor(Date.now()).joins += c.joins - lastJoins;
    lastJoins = c.joins;
    drawJoins();
    funnelChart.data.datasets[0].data = [c.clicks, c.joins, c.reservations, c.orders];
    funnelChart.update();

    var rows = snapshot.top.map(function (entry) {
      var tr = document.createElement("tr");
      tr.dataset.user = entry.user_id;
      tr.append(cell(numbers.format(entry.rank)), cell(entry.display_name || texts["room.no_name"], "name"),
                cell(typeof entry.score === "number" ? numbers.format(entry.score) : entry.score, "score"));
      return tr;
    });
    document.getElementById("leaderboard").replaceChildren.apply(document.getElementById("leaderboard"), rows);
    draws(snapshot.draws);
  }

  function draws(list) {
    var body = document.getElementById("draws");
    if (!list.length) {
      var empty = document.createElement("tr");
      var td = cell(texts["room.no_draws"], "muted");
      td.colSpan = 3;
      empty.append(td);
      body.replaceChildren(empty);
      return;
    }
    body.replaceChildren.apply(body, list.slice().reverse().map(function (d) {
      var tr = document.createElement("tr");
      var names = d.winners.map(function (w) { return w.display_name || texts["room.no_name"]; }).join(", ");
      tr.append(cell(d.rule_id + " · " + d.period), cell(names), cell(d.seed_hash, "hash"));
      return tr;
    }));
  }

  root.addEventListener("htmx:sseBeforeMessage", function (event) {
    event.preventDefault();  // no swap: the message is data, drawn below
    var message = JSON.parse(event.detail.data);
    if (message.type === "room") room(message);
  });
  root.addEventListener("htmx:sseOpen", function () { status("live"); });
  root.addEventListener("htmx:sseError", function () { status("lost"); });
})();
