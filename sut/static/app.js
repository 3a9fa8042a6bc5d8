// The one script of the web e-services: a print button. It lives here because the CSP forbids inline scripts.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-action='print']").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
  // The keyboard-trap fault's defect: a modal's focus loop put on an ordinary form, so Tab and Shift+Tab only
  // go round the form's fields and a keyboard user can never leave it (WCAG 2.1.2).
  document.querySelectorAll("[data-focus-loop]").forEach(function (box) {
    box.addEventListener("keydown", function (event) {
      if (event.key !== "Tab") { return; }
      var items = box.querySelectorAll("input:not([type=hidden]), button, select, textarea, a[href]");
      var first = items[0], last = items[items.length - 1];
      if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
      if (event.shiftKey && document.activeElement === first) { event.preventDefault(); last.focus(); }
    });
  });
});
