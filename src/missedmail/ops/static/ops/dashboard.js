/* The dashboard's live part: refreshes the figures, tables and charts from /ops/live.json.
 *
 * The page is complete without this script (figures and tables are rendered by the
 * server); this adds the charts (uPlot, a static file of this site) and the refresh. Text
 * from the server is only ever set with textContent, never as HTML.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var liveUrl = script.getAttribute("data-live-url");
  var snapshot = JSON.parse(document.getElementById("ops-snapshot").textContent);
  var windowKey = snapshot.window;
  var refreshMs = Math.max(2, snapshot.refresh_seconds) * 1000;
  var WAITING_SAMPLES = 360;
  var waiting = [[], [], []];
  var charts = {};
  var timer = null;

  var COLORS = {
    sent: "#2e9d55",
    failed: "#d64532",
    retried: "#e0a020",
    skipped: "#7a86a0",
    rejected: "#9b59b6",
    pending: "#2f6fd6",
    due: "#e07b20"
  };

  // -- formatting (as missedmail.ops.formatting.duration) --------------------------------
  var UNITS = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "\u2014";
    if (seconds < 10) return Math.max(seconds, 0).toFixed(1) + " s";
    var remaining = Math.floor(seconds);
    var parts = [];
    for (var i = 0; i < UNITS.length && parts.length < 2; i++) {
      var size = UNITS[i][1];
      if (remaining >= size || parts.length) {
        parts.push(Math.floor(remaining / size) + " " + UNITS[i][0]);
        remaining %= size;
      }
    }
    return parts.join(" ");
  }

  function format(value, kind) {
    if (kind === "duration") return duration(value);
    if (value === null || value === undefined) return "\u2014";
    return String(value);
  }

  function lookup(document_, path) {
    return path.split(".").reduce(function (value, key) {
      return value === null || value === undefined ? value : value[key];
    }, document_);
  }

  // -- figures and tables ----------------------------------------------------------------
  function updateFigures(doc) {
    var nodes = document.querySelectorAll("[data-live]");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      node.textContent = format(lookup(doc, node.getAttribute("data-live")), node.getAttribute("data-format"));
    }
    var cards = document.querySelectorAll(".figure");
    for (var j = 0; j < cards.length; j++) {
      var card = cards[j];
      var valueNode = card.querySelector("[data-live]");
      if (!valueNode) continue;
      var value = lookup(doc, valueNode.getAttribute("data-live"));
      var number = value === null || value === undefined ? null : Number(value);
      var bad = (card.hasAttribute("data-bad-above") && number !== null && number > Number(card.getAttribute("data-bad-above"))) ||
        (card.hasAttribute("data-bad-below") && number !== null && number < Number(card.getAttribute("data-bad-below")));
      var warn = card.hasAttribute("data-warn-above") && number !== null && number > Number(card.getAttribute("data-warn-above"));
      card.classList.toggle("bad", bad);
      card.classList.toggle("warn", warn && !bad);
    }
    var generated = document.getElementById("generated-at");
    generated.setAttribute("datetime", doc.generated_at);
    generated.textContent = doc.generated_at.slice(0, 19).replace("T", " ");
  }

  function cell(text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }

  function time(iso) {
    return iso ? iso.slice(0, 19).replace("T", " ") : "\u2014";
  }

  function updateWorkers(doc) {
    var body = document.getElementById("workers");
    if (!doc.workers.length) return;  // keep the server's explanation
    var rows = doc.workers.map(function (worker) {
      var tr = document.createElement("tr");
      tr.className = "state-" + worker.state;
      var name = document.createElement("td");
      var code = document.createElement("code");
      code.textContent = worker.name;
      name.appendChild(code);
      var state = document.createElement("td");
      var badge = document.createElement("span");
      badge.className = "badge " + worker.state;
      badge.textContent = worker.state;
      state.appendChild(badge);
      tr.append(name, cell(worker.kind), state, cell(duration(worker.seen_seconds_ago) + " ago"),
        cell(time(worker.started_at)), cell(time(worker.last_batch_at)),
        cell(String(worker.emails_composed), "num"), cell(String(worker.emails_sent), "num"));
      return tr;
    });
    body.replaceChildren.apply(body, rows);
  }

  function updateReasons(doc) {
    var body = document.getElementById("skipped-reasons");
    var rows = doc.skipped_by_reason.filter(function (row) { return row.count > 0; }).map(function (row) {
      var tr = document.createElement("tr");
      var count = cell(String(row.count), "num");
      count.id = "skipped-" + row.reason;
      tr.append(cell(row.label), count);
      return tr;
    });
    body.replaceChildren.apply(body, rows);
    document.getElementById("skipped-none").hidden = rows.length > 0;
    var labels = document.querySelectorAll(".window-label");
    for (var i = 0; i < labels.length; i++) labels[i].textContent = doc.window;
    var steps = document.querySelectorAll(".step-label");
    for (var j = 0; j < steps.length; j++) steps[j].textContent = doc.series.step_label;
  }

  // -- charts ----------------------------------------------------------------------------
  function width(id) {
    return Math.max(240, document.getElementById(id).clientWidth);
  }

  function line(label, color, fill, points) {
    return { label: label, stroke: color, width: 2, fill: fill ? color + "22" : undefined, points: { show: !!points, size: 5 } };
  }

  // The waiting chart shows at least the last ten minutes, so that its first samples are
  // points on a readable time axis rather than one point spread over years.
  function waitingRange() {
    var last = waiting[0][waiting[0].length - 1];
    return [Math.min(waiting[0][0], last - 600), last + 15];
  }

  function options(id, series) {
    return {
      width: width(id),
      height: 200,
      legend: { live: false },
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
      axes: [{ stroke: "#8a94a6", grid: { stroke: "#8a94a622" } }, { stroke: "#8a94a6", grid: { stroke: "#8a94a622" } }],
      series: [{ label: "time (UTC)" }].concat(series)
    };
  }

  function seriesData(doc, keys) {
    return [doc.series.starts].concat(keys.map(function (key) { return doc.series[key]; }));
  }

  function sampleWaiting(doc) {
    waiting[0].push(Date.parse(doc.generated_at) / 1000);
    waiting[1].push(doc.headline.pending);
    waiting[2].push(doc.headline.due);
    if (waiting[0].length > WAITING_SAMPLES) waiting.forEach(function (column) { column.shift(); });
  }

  function drawCharts(doc) {
    if (typeof uPlot === "undefined") return;
    sampleWaiting(doc);
    if (!charts.emails) {
      charts.emails = new uPlot(options("chart-emails", [
        line("sent", COLORS.sent, true), line("failed", COLORS.failed), line("retried", COLORS.retried)
      ]), seriesData(doc, ["sent", "failed", "retried"]), document.getElementById("chart-emails"));
      charts.notEmailed = new uPlot(options("chart-not-emailed", [
        line("skipped", COLORS.skipped, true), line("rejected events", COLORS.rejected)
      ]), seriesData(doc, ["skipped", "rejected"]), document.getElementById("chart-not-emailed"));
      var waitingOptions = options("chart-waiting", [
        line("pending", COLORS.pending, true, true), line("due", COLORS.due, false, true)
      ]);
      waitingOptions.scales.x.range = waitingRange;
      charts.waiting = new uPlot(waitingOptions, waiting, document.getElementById("chart-waiting"));
      window.addEventListener("resize", function () {
        charts.emails.setSize({ width: width("chart-emails"), height: 200 });
        charts.notEmailed.setSize({ width: width("chart-not-emailed"), height: 200 });
        charts.waiting.setSize({ width: width("chart-waiting"), height: 200 });
      });
      return;
    }
    charts.emails.setData(seriesData(doc, ["sent", "failed", "retried"]));
    charts.notEmailed.setData(seriesData(doc, ["skipped", "rejected"]));
    charts.waiting.setData(waiting);
  }

  // -- refreshing ------------------------------------------------------------------------
  function setStatus(state, text) {
    var status = document.getElementById("live-status");
    status.setAttribute("data-state", state);
    if (text) document.getElementById("live-note").textContent = text;
  }

  function apply(doc) {
    updateFigures(doc);
    updateWorkers(doc);
    updateReasons(doc);
    drawCharts(doc);
    setStatus("fresh", "refreshes every " + doc.refresh_seconds + " s");
  }

  function refresh() {
    clearTimeout(timer);
    fetch(liveUrl + "?window=" + encodeURIComponent(windowKey), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store"
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (response.redirected || type.indexOf("application/json") !== 0) {
        setStatus("error", "your session has ended: reload the page to log in again");
        return null;
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    }).then(function (doc) {
      if (doc) {
        apply(doc);
        timer = setTimeout(refresh, refreshMs);
      }
    }).catch(function () {
      setStatus("error", "refresh failed; trying again");
      timer = setTimeout(refresh, refreshMs);
    });
  }

  function chooseWindow(event) {
    event.preventDefault();
    windowKey = event.currentTarget.getAttribute("data-window");
    var links = document.querySelectorAll("[data-window]");
    for (var i = 0; i < links.length; i++) {
      if (links[i] === event.currentTarget) links[i].setAttribute("aria-current", "true");
      else links[i].removeAttribute("aria-current");
    }
    history.replaceState(null, "", "?window=" + encodeURIComponent(windowKey));
    refresh();
  }

  var windowLinks = document.querySelectorAll("[data-window]");
  for (var k = 0; k < windowLinks.length; k++) windowLinks[k].addEventListener("click", chooseWindow);

  drawCharts(snapshot);
  timer = setTimeout(refresh, refreshMs);
})();
