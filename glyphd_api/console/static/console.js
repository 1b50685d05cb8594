/* glyph market console: the pages' behaviour. Plain browser JavaScript, no build step.
 * Every write is a call to the JSON API with the token the person typed (kept in a cookie that
 * the server only reads to open the pages themselves when reads need the token). */
(function () {
  "use strict";
  var ACTIVE_JOB = ["queued", "running", "canceling"];
  var cookieName = document.body.dataset.tokenCookie || "glyph_token";

  function token() {
    var prefix = cookieName + "=";
    var found = document.cookie.split("; ").filter(function (c) { return c.indexOf(prefix) === 0; })[0];
    return found ? decodeURIComponent(found.slice(prefix.length)) : "";
  }

  function authHeaders(extra) {
    var headers = Object.assign({}, extra || {});
    var value = token();
    if (value) headers.Authorization = "Bearer " + value;
    return headers;
  }

  function announce(text) {
    var region = document.getElementById("announce");
    if (region) region.textContent = text;
  }

  function errorText(data, status) {
    if (data && data.error) {
      var problems = (data.error.problems || []).join("; ");
      return data.error.message + (problems ? " (" + problems + ")" : "");
    }
    return "the server answered " + status;
  }

  function api(method, path, body) {
    var init = { method: method, headers: authHeaders(body ? { "Content-Type": "application/json" } : {}) };
    if (body) init.body = JSON.stringify(body);
    return fetch(path, init).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  function tokenForm() {
    var form = document.getElementById("token-form");
    if (!form) return;
    var input = document.getElementById("token-input");
    input.placeholder = token() ? "saved" : "";
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var value = input.value.trim();
      var attrs = "; path=/; SameSite=Strict";
      document.cookie = value
        ? cookieName + "=" + encodeURIComponent(value) + attrs
        : cookieName + "=" + attrs + "; max-age=0";
      announce(value ? "Token saved for this browser." : "Token removed.");
      window.location.reload();
    });
  }

  function progressText(job) {
    var p = job.progress || {};
    var text = job.status + ": " + (p.assets_done || 0) + " of " + (p.assets_total || 5) + " assets";
    if (p.current_stage) text += ", " + p.current_stage;
    if (p.rows_total) text += " " + (p.rows_processed || 0).toLocaleString() + " / " + p.rows_total.toLocaleString() + " rows";
    return text;
  }

  /* Read a run's status until it ends; onStatus(job, finished) after each read. */
  function follow(runId, onStatus) {
    function read() {
      api("GET", "/api/jobs/" + encodeURIComponent(runId) + "/status").then(function (answer) {
        if (!answer.ok) { setTimeout(read, 3000); return; }
        var job = answer.data;
        var finished = ACTIVE_JOB.indexOf(job.status) < 0;
        onStatus(job, finished);
        if (!finished) setTimeout(read, 1500);
      }, function () { setTimeout(read, 3000); });
    }
    read();
  }

  function statusBadge(status) {
    var span = document.createElement("span");
    span.className = "status status-" + status;
    span.textContent = String(status).replace(/_/g, " ");
    return span;
  }

  function uploadForm() {
    var form = document.getElementById("upload-form");
    if (!form) return;
    var input = document.getElementById("upload-file");
    var zone = document.getElementById("drop-zone");
    var bar = document.getElementById("upload-progress");
    var message = document.getElementById("upload-message");
    var button = document.getElementById("upload-button");
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        message.textContent = "Ready to import " + input.files[0].name + ".";
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!input.files.length) { message.textContent = "Choose a file first."; input.focus(); return; }
      var data = new FormData();  /* the fields before the file, as the API reads them */
      ["source", "description"].forEach(function (name) {
        var value = form.elements[name].value.trim();
        if (value) data.append(name, value);
      });
      data.append("file", input.files[0]);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/imports");
      var headers = authHeaders({ Accept: "application/json" });
      Object.keys(headers).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
      bar.hidden = false; bar.value = 0; button.disabled = true;
      message.textContent = "Sending " + input.files[0].name + "…";
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
      });
      xhr.addEventListener("load", function () {
        var answer = null;
        try { answer = JSON.parse(xhr.responseText); } catch (ignored) { answer = null; }
        button.disabled = false;
        if (xhr.status >= 200 && xhr.status < 300 && answer && answer.import_id) {
          bar.value = 100;
          message.textContent = "Imported as " + answer.import_id + "; opening it…";
          window.location.href = "/imports/" + encodeURIComponent(answer.import_id);
        } else {
          bar.hidden = true;
          message.textContent = "Not imported: " + errorText(answer, xhr.status);
        }
      });
      xhr.addEventListener("error", function () {
        button.disabled = false; bar.hidden = true;
        message.textContent = "The upload did not reach the server.";
      });
      xhr.send(data);
    });
  }

  function importsPage() {
    uploadForm();
    var rows = document.querySelectorAll("#imports tr[data-run]");
    var pending = rows.length;
    rows.forEach(function (row) {
      var cell = row.querySelector(".progress-cell");
      follow(row.dataset.run, function (job, finished) {
        cell.textContent = progressText(job);
        if (job.import_status) {
          var status = row.querySelector(".status-cell");
          status.replaceChildren(statusBadge(job.import_status));
        }
        if (finished) {
          pending -= 1;
          announce("Import " + row.dataset.import.slice(0, 8) + " is " + (job.import_status || job.status) + ".");
          if (pending === 0) setTimeout(function () { window.location.reload(); }, 800);
        }
      });
    });
  }

  function importPage() {
    var message = document.getElementById("action-message");
    var retry = document.getElementById("retry-button");
    var cancel = document.getElementById("cancel-button");
    function act(button, method, path, body, done) {
      button.addEventListener("click", function () {
        button.disabled = true;
        message.textContent = "Asking the API…";
        api(method, path, body).then(function (answer) {
          if (answer.ok) { message.textContent = done; setTimeout(function () { window.location.reload(); }, 600); }
          else { button.disabled = false; message.textContent = "Refused: " + errorText(answer.data, answer.status); }
        }, function () { button.disabled = false; message.textContent = "The API could not be reached."; });
      });
    }
    if (retry) act(retry, "POST", "/api/imports/" + encodeURIComponent(retry.dataset.import) + "/retry", {}, "Retry launched.");
    if (cancel) act(cancel, "POST", "/api/jobs/" + encodeURIComponent(cancel.dataset.run) + "/cancel", null, "Run canceled.");
    var status = document.getElementById("import-status");
    if (status && status.dataset.run) {
      var bar = document.getElementById("run-progress");
      var text = document.getElementById("run-progress-text");
      follow(status.dataset.run, function (job, finished) {
        if (bar) bar.value = (job.progress || {}).assets_done || 0;
        if (text) text.textContent = progressText(job);
        if (job.import_status) status.replaceChildren(statusBadge(job.import_status));
        if (finished) { announce("The import is " + (job.import_status || job.status) + "."); setTimeout(function () { window.location.reload(); }, 800); }
      });
    }
  }

  var PALETTE = ["#1f5fbf", "#b8430b", "#237a3b", "#7a3fa0", "#8a6d00", "#0f7c86"];

  /* Median line and p10-p90 band of each source's imports, in the currency with most listings. */
  function priceChart(element, points) {
    window.glyphChart = null;
    if (!points.length || typeof uPlot === "undefined") {
      element.textContent = "No priced listings yet.";
      return null;
    }
    var byCurrency = {};
    points.forEach(function (p) { byCurrency[p.currency] = (byCurrency[p.currency] || 0) + p.listings; });
    var currency = Object.keys(byCurrency).sort(function (a, b) { return byCurrency[b] - byCurrency[a]; })[0];
    var shown = points.filter(function (p) { return p.currency === currency; });
    var times = Array.from(new Set(shown.map(function (p) { return Date.parse(p.imported_at) / 1000; }))).sort(function (a, b) { return a - b; });
    var sources = Array.from(new Set(shown.map(function (p) { return p.source; }))).sort();
    var data = [times];
    var series = [{ label: "import time" }];
    var bands = [];
    sources.forEach(function (source, i) {
      var color = PALETTE[i % PALETTE.length];
      var columns = { p90_price: [], median_price: [], p10_price: [] };
      times.forEach(function (t) {
        var point = shown.filter(function (p) { return p.source === source && Date.parse(p.imported_at) / 1000 === t; })[0];
        Object.keys(columns).forEach(function (key) { columns[key].push(point ? point[key] : null); });
      });
      var base = data.length;
      data.push(columns.p90_price, columns.median_price, columns.p10_price);
      series.push(
        { label: source + " p90", stroke: color, width: 1, dash: [4, 4], spanGaps: true },
        { label: source + " median", stroke: color, width: 2.5, spanGaps: true, points: { show: true, size: 7 } },
        { label: source + " p10", stroke: color, width: 1, dash: [4, 4], spanGaps: true }
      );
      bands.push({ series: [base, base + 2], fill: color + "22" });
    });
    var options = {
      width: Math.max(320, element.clientWidth || 800),
      height: 340,
      series: series,
      bands: bands,
      axes: [{}, { label: "card price (" + currency + ")", size: 70 }],
      scales: {
        x: {
          time: true,
          /* one import: a day either side of it rather than uPlot's span of years */
          range: function (u, min, max) {
            return times.length === 1 ? [times[0] - 86400, times[0] + 86400] : [min, max];
          },
        },
      },
    };
    element.textContent = "";
    var chart = new uPlot(options, data, element);
    window.addEventListener("resize", function () {
      chart.setSize({ width: Math.max(320, element.clientWidth || 800), height: 340 });
    });
    window.glyphChart = chart;
    return chart;
  }

  tokenForm();
  window.glyph = { importsPage: importsPage, importPage: importPage, priceChart: priceChart };
})();
