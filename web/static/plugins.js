// Third-Party Plugins page: the mapping tables' rows (add, remove, move, renumbered so the
// server reads them in order) and the live state of "Test connection" / "Discover fields",
// polled from tasks.json every second while a worker has one, then one reload to show the result.
(function () {
  "use strict";

  function renumber(form) {
    var prefix = form.getAttribute("data-rows");
    var pattern = new RegExp("^" + prefix + "-(\\d+|__n__)-");
    var rows = form.querySelectorAll("[data-rows-body] > tr[data-row]");
    rows.forEach(function (row, index) {
      row.querySelectorAll("[name]").forEach(function (input) {
        input.name = input.name.replace(pattern, prefix + "-" + index + "-");
      });
      var number = row.querySelector("[data-row-number]");
      if (number) {
        number.textContent = String(index + 1);
      }
      // each row's buttons name their row, so a screen reader's list of buttons tells them apart
      var names = { up: "Move row N up", down: "Move row N down", remove: "Remove row N" };
      row.querySelectorAll("[data-row-action]").forEach(function (button) {
        var name = names[button.getAttribute("data-row-action")];
        if (name) {
          button.setAttribute("aria-label", name.replace("N", String(index + 1)));
        }
      });
    });
  }

  function enhanceRows(form) {
    renumber(form);
    form.querySelectorAll(".js-only").forEach(function (el) { el.hidden = false; });
    form.querySelectorAll(".nojs").forEach(function (el) { el.hidden = true; });
    form.addEventListener("click", function (event) {
      var button = event.target.closest("[data-row-action]");
      if (!button || !form.contains(button)) {
        return;
      }
      var body = form.querySelector("[data-rows-body]");
      var row = button.closest("tr");
      var action = button.getAttribute("data-row-action");
      if (action === "add") {
        var template = form.querySelector("template[data-row-template]");
        var fresh = template.content.querySelector("tr").cloneNode(true);
        fresh.querySelectorAll(".js-only").forEach(function (el) { el.hidden = false; });
        fresh.querySelectorAll(".nojs").forEach(function (el) { el.hidden = true; });
        body.appendChild(fresh);
        var first = fresh.querySelector("select, input");
        if (first) {
          first.focus();
        }
      } else if (action === "remove" && row) {
        row.remove();
      } else if (action === "up" && row && row.previousElementSibling) {
        body.insertBefore(row, row.previousElementSibling);
        button.focus();
      } else if (action === "down" && row && row.nextElementSibling) {
        body.insertBefore(row.nextElementSibling, row);
        button.focus();
      }
      renumber(form);
    });
  }

  function pollTasks(root) {
    if (root.getAttribute("data-active") !== "true") {
      return;
    }
    var url = root.getAttribute("data-plugin-tasks-url");
    var failures = 0;
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

  function start() {
    document.querySelectorAll("form[data-rows]").forEach(enhanceRows);
    document.querySelectorAll("[data-plugin-tasks-url]").forEach(pollTasks);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
