// The one script of the web e-services: a print button. It lives here because the CSP forbids inline scripts.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-action='print']").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
});
