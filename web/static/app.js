// Small progressive enhancements; every page works without them (CSP: no inline scripts).
(function () {
  "use strict";

  // <form data-confirm="..."> asks before posting (Clear All Jobs, Disable, Cancel run).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // <select data-autosubmit> reloads its GET form on change (application, job type, event pickers).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) {
      if (el.name === "application" && el.form.elements.job_type) {
        el.form.elements.job_type.value = "";
      }
      el.form.submit();
    }
  });

  // The schedule shows only the inputs of the chosen run mode.
  function syncSchedule(root) {
    var checked = root.querySelector("input[name=run_mode]:checked");
    var mode = checked ? checked.value : "now";
    root.querySelectorAll("[data-mode-section]").forEach(function (section) {
      section.hidden = section.getAttribute("data-mode-section") !== mode;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-schedule]").forEach(function (root) {
      syncSchedule(root);
      root.addEventListener("change", function (event) {
        if (event.target.name === "run_mode") {
          syncSchedule(root);
        }
      });
    });
  });
})();
