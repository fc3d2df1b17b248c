// Live run progress: poll /runs/<id>/status.json every second while the run is queued or running,
// then reload once so the final problems table and actions are rendered by the server.
(function () {
  "use strict";

  function start() {
    var root = document.querySelector("[data-run-status-url]");
    if (!root || root.getAttribute("data-active") !== "true") {
      return;
    }
    var url = root.getAttribute("data-run-status-url");
    var failures = 0;

    function field(name) {
      return root.querySelector('[data-field="' + name + '"]');
    }
    function setText(name, value) {
      var el = field(name);
      if (el) {
        el.textContent = value === null || value === undefined ? "" : String(value);
      }
    }

    function render(data) {
      var badge = field("status_label");
      if (badge) {
        badge.textContent = data.status_label;
      }
      var bar = field("progress");
      var p = data.progress;
      if (bar) {
        if (p.total) {
          bar.max = p.total;
          bar.value = p.done;
        } else {
          bar.removeAttribute("value"); // indeterminate until the handler knows its total
        }
        bar.textContent = (p.percent || 0) + "%";
      }
      setText("progress_text", p.total ? p.done + " / " + p.total + " (" + p.percent + "%)" : p.done);
      setText("rate_text", p.rate_text);
      setText("left_text", p.left_text);
      setText("started_at_text", data.started_at_text);
      setText("ended_at_text", data.ended_at_text);
      setText("problems", data.problems);
      if (data.problems) {
        setText("problems_empty", "Records with problems so far: " + data.problems +
          ". They are listed here, with their reasons, when the run ends.");
      }
      Object.keys(data.counters).forEach(function (outcome) {
        var cell = root.querySelector('[data-count="' + outcome + '"]');
        if (cell) {
          cell.textContent = data.counters[outcome];
        }
      });
      var note = field("cancel_note");
      if (note) {
        note.hidden = !data.cancel_requested;
      }
      var errorBox = field("error_box");
      if (errorBox) {
        errorBox.hidden = !data.error;
        setText("error", data.error);
      }
      renderLog(data.log);
    }

    function renderLog(entries) {
      var list = field("log");
      if (!list) {
        return;
      }
      var empty = field("log_empty");
      if (empty && entries.length) {
        empty.hidden = true;
      }
      list.textContent = "";
      entries.forEach(function (entry) {
        var item = document.createElement("li");
        item.className = "log-" + entry.level;
        var time = document.createElement("time");
        time.setAttribute("datetime", entry.at || "");
        time.textContent = entry.at || "";
        var level = document.createElement("span");
        level.className = "level";
        level.textContent = entry.level;
        var message = document.createElement("span");
        message.className = "message";
        message.textContent = entry.message;
        item.append(time, " ", level, " ", message);
        list.appendChild(item);
      });
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("status " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          failures = 0;
          render(data);
          if (data.active) {
            window.setTimeout(poll, 1000);
          } else {
            window.location.reload();
          }
        })
        .catch(function () {
          failures += 1; // back off while the server is unreachable, up to 10 s
          window.setTimeout(poll, Math.min(1000 * (failures + 1), 10000));
        });
    }

    window.setTimeout(poll, 1000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
